// Original file: src/proto/gproc.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A process named by its identity: pid plus start time (0 = any start time).
 */
export interface ProcessRef {
  'pid'?: (number);
  'starttime'?: (number | string | Long);
}

/**
 * A process named by its identity: pid plus start time (0 = any start time).
 */
export interface ProcessRef__Output {
  'pid': (number);
  'starttime': (number);
}
