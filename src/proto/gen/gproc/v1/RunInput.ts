// Original file: src/proto/gproc.proto

import type { SpawnRequest as _gproc_v1_SpawnRequest, SpawnRequest__Output as _gproc_v1_SpawnRequest__Output } from '../../gproc/v1/SpawnRequest';
import type { Terminal as _gproc_v1_Terminal, Terminal__Output as _gproc_v1_Terminal__Output } from '../../gproc/v1/Terminal';

export interface RunInput {
  /**
   * first message, exactly once
   */
  'start'?: (_gproc_v1_SpawnRequest | null);
  'stdin'?: (Buffer | Uint8Array | string);
  'stdinEof'?: (boolean);
  /**
   * forward to the process group
   */
  'signal'?: (number);
  /**
   * the caller's terminal changed size (a run with a terminal)
   */
  'resize'?: (_gproc_v1_Terminal | null);
  'kind'?: "start"|"stdin"|"stdinEof"|"signal"|"resize";
}

export interface RunInput__Output {
  /**
   * first message, exactly once
   */
  'start'?: (_gproc_v1_SpawnRequest__Output | null);
  'stdin'?: (Buffer);
  'stdinEof'?: (boolean);
  /**
   * forward to the process group
   */
  'signal'?: (number);
  /**
   * the caller's terminal changed size (a run with a terminal)
   */
  'resize'?: (_gproc_v1_Terminal__Output | null);
  'kind'?: "start"|"stdin"|"stdinEof"|"signal"|"resize";
}
