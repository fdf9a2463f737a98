// Original file: src/proto/gproc.proto

import type { Long } from '@grpc/proto-loader';

export interface Credential {
  /**
   * opaque; sent as call metadata gproc-credential
   */
  'token'?: (string);
  /**
   * wall clock, ms since the epoch
   */
  'expiresAtMs'?: (number | string | Long);
}

export interface Credential__Output {
  /**
   * opaque; sent as call metadata gproc-credential
   */
  'token': (string);
  /**
   * wall clock, ms since the epoch
   */
  'expiresAtMs': (number);
}
