// Original file: src/proto/gproc.proto

import type { SpawnReply as _gproc_v1_SpawnReply, SpawnReply__Output as _gproc_v1_SpawnReply__Output } from '../../gproc/v1/SpawnReply';
import type { ExitStatus as _gproc_v1_ExitStatus, ExitStatus__Output as _gproc_v1_ExitStatus__Output } from '../../gproc/v1/ExitStatus';

export interface RunOutput {
  'started'?: (_gproc_v1_SpawnReply | null);
  'stdout'?: (Buffer | Uint8Array | string);
  'stderr'?: (Buffer | Uint8Array | string);
  /**
   * last message
   */
  'exit'?: (_gproc_v1_ExitStatus | null);
  'kind'?: "started"|"stdout"|"stderr"|"exit";
}

export interface RunOutput__Output {
  'started'?: (_gproc_v1_SpawnReply__Output | null);
  'stdout'?: (Buffer);
  'stderr'?: (Buffer);
  /**
   * last message
   */
  'exit'?: (_gproc_v1_ExitStatus__Output | null);
  'kind'?: "started"|"stdout"|"stderr"|"exit";
}
