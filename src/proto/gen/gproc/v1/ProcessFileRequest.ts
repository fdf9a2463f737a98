// Original file: src/proto/gproc.proto

import type { ProcessRef as _gproc_v1_ProcessRef, ProcessRef__Output as _gproc_v1_ProcessRef__Output } from '../../gproc/v1/ProcessRef';
import type { ProcessFileName as _gproc_v1_ProcessFileName, ProcessFileName__Output as _gproc_v1_ProcessFileName__Output } from '../../gproc/v1/ProcessFileName';

export interface ProcessFileRequest {
  'process'?: (_gproc_v1_ProcessRef | null);
  'file'?: (_gproc_v1_ProcessFileName);
  /**
   * 0 = the process itself, else task/<tid>
   */
  'tid'?: (number);
  /**
   * FDINFO: the descriptor (fdinfo/<fd>)
   */
  'fd'?: (number);
}

export interface ProcessFileRequest__Output {
  'process': (_gproc_v1_ProcessRef__Output | null);
  'file': (_gproc_v1_ProcessFileName__Output);
  /**
   * 0 = the process itself, else task/<tid>
   */
  'tid': (number);
  /**
   * FDINFO: the descriptor (fdinfo/<fd>)
   */
  'fd': (number);
}
