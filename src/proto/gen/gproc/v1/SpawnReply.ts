// Original file: src/proto/gproc.proto

import type { Long } from '@grpc/proto-loader';

export interface SpawnReply {
  'pid'?: (number);
  'starttime'?: (number | string | Long);
}

export interface SpawnReply__Output {
  'pid': (number);
  'starttime': (number);
}
