// Original file: src/proto/gproc.proto

import type { ExitStatus as _gproc_v1_ExitStatus, ExitStatus__Output as _gproc_v1_ExitStatus__Output } from '../../gproc/v1/ExitStatus';
import type { Long } from '@grpc/proto-loader';

/**
 * An ended process whose exit status the agent still holds.
 */
export interface Ended {
  'pid'?: (number);
  'starttime'?: (number | string | Long);
  'status'?: (_gproc_v1_ExitStatus | null);
  /**
   * the user it ran as: its wait file is that user's (mode 0400)
   */
  'uid'?: (number);
}

/**
 * An ended process whose exit status the agent still holds.
 */
export interface Ended__Output {
  'pid': (number);
  'starttime': (number);
  'status': (_gproc_v1_ExitStatus__Output | null);
  /**
   * the user it ran as: its wait file is that user's (mode 0400)
   */
  'uid': (number);
}
