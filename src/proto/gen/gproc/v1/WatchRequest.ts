// Original file: src/proto/gproc.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Asks a Watch stream for an update now (after the caller started a process, or looked
 * up one its replica does not have).
 */
export interface WatchRequest {
  /**
   * increases with each request of a stream
   */
  'id'?: (number | string | Long);
}

/**
 * Asks a Watch stream for an update now (after the caller started a process, or looked
 * up one its replica does not have).
 */
export interface WatchRequest__Output {
  /**
   * increases with each request of a stream
   */
  'id': (number);
}
