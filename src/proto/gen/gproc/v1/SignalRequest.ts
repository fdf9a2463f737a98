// Original file: src/proto/gproc.proto

import type { ProcessRef as _gproc_v1_ProcessRef, ProcessRef__Output as _gproc_v1_ProcessRef__Output } from '../../gproc/v1/ProcessRef';

export interface SignalRequest {
  'targets'?: (_gproc_v1_ProcessRef)[];
  /**
   * signal number (signal(7)); 0 only tests
   */
  'signal'?: (number);
  /**
   * uid the request acts for (0 = root: any process)
   */
  'uid'?: (number);
  /**
   * node the request comes from, for the audit log
   */
  'requesterNode'?: (number);
}

export interface SignalRequest__Output {
  'targets': (_gproc_v1_ProcessRef__Output)[];
  /**
   * signal number (signal(7)); 0 only tests
   */
  'signal': (number);
  /**
   * uid the request acts for (0 = root: any process)
   */
  'uid': (number);
  /**
   * node the request comes from, for the audit log
   */
  'requesterNode': (number);
}
