// Original file: src/proto/gproc.proto

import type { SignalResult as _gproc_v1_SignalResult, SignalResult__Output as _gproc_v1_SignalResult__Output } from '../../gproc/v1/SignalResult';

export interface SignalReply {
  'results'?: (_gproc_v1_SignalResult)[];
}

export interface SignalReply__Output {
  'results': (_gproc_v1_SignalResult__Output)[];
}
