// Original file: src/proto/gproc.proto

import type { ProcessRef as _gproc_v1_ProcessRef, ProcessRef__Output as _gproc_v1_ProcessRef__Output } from '../../gproc/v1/ProcessRef';

export interface SignalRequest {
  'targets'?: (_gproc_v1_ProcessRef)[];
  /**
   * signal number (signal(7)); 0 only tests
   */
  'signal'?: (number);
}

export interface SignalRequest__Output {
  'targets': (_gproc_v1_ProcessRef__Output)[];
  /**
   * signal number (signal(7)); 0 only tests
   */
  'signal': (number);
}
