// Original file: src/proto/gproc.proto

import type { NodeInfo as _gproc_v1_NodeInfo, NodeInfo__Output as _gproc_v1_NodeInfo__Output } from '../../gproc/v1/NodeInfo';
import type { Process as _gproc_v1_Process, Process__Output as _gproc_v1_Process__Output } from '../../gproc/v1/Process';
import type { Started as _gproc_v1_Started, Started__Output as _gproc_v1_Started__Output } from '../../gproc/v1/Started';
import type { Ended as _gproc_v1_Ended, Ended__Output as _gproc_v1_Ended__Output } from '../../gproc/v1/Ended';
import type { Long } from '@grpc/proto-loader';

export interface Snapshot {
  'node'?: (_gproc_v1_NodeInfo | null);
  'takenAtMs'?: (number | string | Long);
  'processes'?: (_gproc_v1_Process)[];
  'started'?: (_gproc_v1_Started)[];
  'ended'?: (_gproc_v1_Ended)[];
}

export interface Snapshot__Output {
  'node': (_gproc_v1_NodeInfo__Output | null);
  'takenAtMs': (number);
  'processes': (_gproc_v1_Process__Output)[];
  'started': (_gproc_v1_Started__Output)[];
  'ended': (_gproc_v1_Ended__Output)[];
}
