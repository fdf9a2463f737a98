// Original file: src/proto/gproc.proto

import type { ProcessRef as _gproc_v1_ProcessRef, ProcessRef__Output as _gproc_v1_ProcessRef__Output } from '../../gproc/v1/ProcessRef';

// Original file: src/proto/gproc.proto

export const _gproc_v1_SignalResult_Outcome = {
  OUTCOME_UNSPECIFIED: 'OUTCOME_UNSPECIFIED',
  DELIVERED: 'DELIVERED',
  /**
   * gone, or its pid was reused (start time differs)
   */
  NO_SUCH_PROCESS: 'NO_SUCH_PROCESS',
  /**
   * the uid may not signal it
   */
  NOT_PERMITTED: 'NOT_PERMITTED',
} as const;

export type _gproc_v1_SignalResult_Outcome =
  | 'OUTCOME_UNSPECIFIED'
  | 0
  | 'DELIVERED'
  | 1
  /**
   * gone, or its pid was reused (start time differs)
   */
  | 'NO_SUCH_PROCESS'
  | 2
  /**
   * the uid may not signal it
   */
  | 'NOT_PERMITTED'
  | 3

export type _gproc_v1_SignalResult_Outcome__Output = typeof _gproc_v1_SignalResult_Outcome[keyof typeof _gproc_v1_SignalResult_Outcome]

export interface SignalResult {
  'target'?: (_gproc_v1_ProcessRef | null);
  'outcome'?: (_gproc_v1_SignalResult_Outcome);
}

export interface SignalResult__Output {
  'target': (_gproc_v1_ProcessRef__Output | null);
  'outcome': (_gproc_v1_SignalResult_Outcome__Output);
}
