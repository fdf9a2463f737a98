// Original file: src/proto/gproc.proto

import type { NodeFiles as _gproc_v1_NodeFiles, NodeFiles__Output as _gproc_v1_NodeFiles__Output } from '../../gproc/v1/NodeFiles';
import type { Long } from '@grpc/proto-loader';

export interface NodeInfo {
  'id'?: (number);
  'name'?: (string);
  /**
   * seconds since the epoch (btime of /proc/stat)
   */
  'bootTime'?: (number | string | Long);
  /**
   * USER_HZ: clock ticks per second
   */
  'clockTicks'?: (number);
  /**
   * bytes
   */
  'pageSize'?: (number);
  'files'?: (_gproc_v1_NodeFiles | null);
  /**
   * gproc version of the agent
   */
  'version'?: (string);
}

export interface NodeInfo__Output {
  'id': (number);
  'name': (string);
  /**
   * seconds since the epoch (btime of /proc/stat)
   */
  'bootTime': (number);
  /**
   * USER_HZ: clock ticks per second
   */
  'clockTicks': (number);
  /**
   * bytes
   */
  'pageSize': (number);
  'files': (_gproc_v1_NodeFiles__Output | null);
  /**
   * gproc version of the agent
   */
  'version': (string);
}
