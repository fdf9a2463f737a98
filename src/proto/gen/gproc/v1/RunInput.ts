// Original file: src/proto/gproc.proto

import type { SpawnRequest as _gproc_v1_SpawnRequest, SpawnRequest__Output as _gproc_v1_SpawnRequest__Output } from '../../gproc/v1/SpawnRequest';

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
  'kind'?: "start"|"stdin"|"stdinEof"|"signal";
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
  'kind'?: "start"|"stdin"|"stdinEof"|"signal";
}
