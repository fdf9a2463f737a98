// Original file: src/proto/gproc.proto

import type { ExitStatus as _gproc_v1_ExitStatus, ExitStatus__Output as _gproc_v1_ExitStatus__Output } from '../../gproc/v1/ExitStatus';
import type { Long } from '@grpc/proto-loader';

// Original file: src/proto/gproc.proto

export const _gproc_v1_ProcessEvent_Kind = {
  KIND_UNSPECIFIED: 'KIND_UNSPECIFIED',
  START: 'START',
  EXIT: 'EXIT',
} as const;

export type _gproc_v1_ProcessEvent_Kind =
  | 'KIND_UNSPECIFIED'
  | 0
  | 'START'
  | 1
  | 'EXIT'
  | 2

export type _gproc_v1_ProcessEvent_Kind__Output = typeof _gproc_v1_ProcessEvent_Kind[keyof typeof _gproc_v1_ProcessEvent_Kind]

export interface ProcessEvent {
  'kind'?: (_gproc_v1_ProcessEvent_Kind);
  'pid'?: (number);
  'starttime'?: (number | string | Long);
  'ppid'?: (number);
  'comm'?: (Buffer | Uint8Array | string);
  /**
   * EXIT only
   */
  'status'?: (_gproc_v1_ExitStatus | null);
  'timeMs'?: (number | string | Long);
}

export interface ProcessEvent__Output {
  'kind': (_gproc_v1_ProcessEvent_Kind__Output);
  'pid': (number);
  'starttime': (number);
  'ppid': (number);
  'comm': (Buffer);
  /**
   * EXIT only
   */
  'status': (_gproc_v1_ExitStatus__Output | null);
  'timeMs': (number);
}
