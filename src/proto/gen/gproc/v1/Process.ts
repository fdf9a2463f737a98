// Original file: src/proto/gproc.proto

import type { Thread as _gproc_v1_Thread, Thread__Output as _gproc_v1_Thread__Output } from '../../gproc/v1/Thread';
import type { Long } from '@grpc/proto-loader';

export interface Process {
  'pid'?: (number);
  /**
   * clock ticks after boot (stat field 22)
   */
  'starttime'?: (number | string | Long);
  /**
   * owner of /proc/<pid>
   */
  'uid'?: (number);
  'gid'?: (number);
  'stat'?: (Buffer | Uint8Array | string);
  'status'?: (Buffer | Uint8Array | string);
  'statm'?: (Buffer | Uint8Array | string);
  'cmdline'?: (Buffer | Uint8Array | string);
  /**
   * empty when the agent may not read it
   */
  'environ'?: (Buffer | Uint8Array | string);
  'cgroup'?: (Buffer | Uint8Array | string);
  /**
   * all threads when there are more than one
   */
  'threads'?: (_gproc_v1_Thread)[];
}

export interface Process__Output {
  'pid': (number);
  /**
   * clock ticks after boot (stat field 22)
   */
  'starttime': (number);
  /**
   * owner of /proc/<pid>
   */
  'uid': (number);
  'gid': (number);
  'stat': (Buffer);
  'status': (Buffer);
  'statm': (Buffer);
  'cmdline': (Buffer);
  /**
   * empty when the agent may not read it
   */
  'environ': (Buffer);
  'cgroup': (Buffer);
  /**
   * all threads when there are more than one
   */
  'threads': (_gproc_v1_Thread__Output)[];
}
