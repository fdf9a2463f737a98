// Original file: src/proto/gproc.proto

import type { ProcessLink as _gproc_v1_ProcessLink, ProcessLink__Output as _gproc_v1_ProcessLink__Output } from '../../gproc/v1/ProcessLink';

export interface ProcessLinks {
  'links'?: (_gproc_v1_ProcessLink)[];
}

export interface ProcessLinks__Output {
  'links': (_gproc_v1_ProcessLink__Output)[];
}
