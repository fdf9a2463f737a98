// Original file: src/proto/gproc.proto

import type { Long } from '@grpc/proto-loader';

export interface Usage {
  'cpuPercent'?: (number | string);
  'memoryBytes'?: (number | string | Long);
  'elapsedMs'?: (number | string | Long);
}

export interface Usage__Output {
  'cpuPercent': (number);
  'memoryBytes': (number);
  'elapsedMs': (number);
}
