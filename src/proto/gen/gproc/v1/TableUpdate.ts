// Original file: src/proto/gproc.proto

import type { NodeInfo as _gproc_v1_NodeInfo, NodeInfo__Output as _gproc_v1_NodeInfo__Output } from '../../gproc/v1/NodeInfo';
import type { Process as _gproc_v1_Process, Process__Output as _gproc_v1_Process__Output } from '../../gproc/v1/Process';
import type { Started as _gproc_v1_Started, Started__Output as _gproc_v1_Started__Output } from '../../gproc/v1/Started';
import type { Ended as _gproc_v1_Ended, Ended__Output as _gproc_v1_Ended__Output } from '../../gproc/v1/Ended';
import type { Long } from '@grpc/proto-loader';

/**
 * One message of a Watch stream. Applied to a replica: a full update replaces it; any
 * update replaces the node info, the started and ended lists, and the records of the
 * changed processes, and removes the gone ones.
 */
export interface TableUpdate {
  /**
   * the whole table (the first message of a stream)
   */
  'full'?: (boolean);
  'node'?: (_gproc_v1_NodeInfo | null);
  'takenAtMs'?: (number | string | Long);
  /**
   * started, or any of its files changed (whole record)
   */
  'changed'?: (_gproc_v1_Process)[];
  /**
   * pids no longer listed
   */
  'gone'?: (number)[];
  /**
   * the whole list
   */
  'started'?: (_gproc_v1_Started)[];
  /**
   * the whole list
   */
  'ended'?: (_gproc_v1_Ended)[];
  /**
   * the last request whose reading this is (0: none)
   */
  'answers'?: (number | string | Long);
}

/**
 * One message of a Watch stream. Applied to a replica: a full update replaces it; any
 * update replaces the node info, the started and ended lists, and the records of the
 * changed processes, and removes the gone ones.
 */
export interface TableUpdate__Output {
  /**
   * the whole table (the first message of a stream)
   */
  'full': (boolean);
  'node': (_gproc_v1_NodeInfo__Output | null);
  'takenAtMs': (number);
  /**
   * started, or any of its files changed (whole record)
   */
  'changed': (_gproc_v1_Process__Output)[];
  /**
   * pids no longer listed
   */
  'gone': (number)[];
  /**
   * the whole list
   */
  'started': (_gproc_v1_Started__Output)[];
  /**
   * the whole list
   */
  'ended': (_gproc_v1_Ended__Output)[];
  /**
   * the last request whose reading this is (0: none)
   */
  'answers': (number);
}
