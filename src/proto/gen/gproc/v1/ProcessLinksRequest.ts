// Original file: src/proto/gproc.proto

import type { ProcessRef as _gproc_v1_ProcessRef, ProcessRef__Output as _gproc_v1_ProcessRef__Output } from '../../gproc/v1/ProcessRef';
import type { ProcessLinkSet as _gproc_v1_ProcessLinkSet, ProcessLinkSet__Output as _gproc_v1_ProcessLinkSet__Output } from '../../gproc/v1/ProcessLinkSet';

export interface ProcessLinksRequest {
  'process'?: (_gproc_v1_ProcessRef | null);
  'set'?: (_gproc_v1_ProcessLinkSet);
}

export interface ProcessLinksRequest__Output {
  'process': (_gproc_v1_ProcessRef__Output | null);
  'set': (_gproc_v1_ProcessLinkSet__Output);
}
