// Original file: src/proto/gproc.proto

import type { Origin as _gproc_v1_Origin, Origin__Output as _gproc_v1_Origin__Output } from '../../gproc/v1/Origin';
import type { Long } from '@grpc/proto-loader';

/**
 * A live process this agent started for a cluster request. It runs in a session and
 * process group of its own whose id is its pid.
 */
export interface Started {
  'pid'?: (number);
  'starttime'?: (number | string | Long);
  'origin'?: (_gproc_v1_Origin | null);
}

/**
 * A live process this agent started for a cluster request. It runs in a session and
 * process group of its own whose id is its pid.
 */
export interface Started__Output {
  'pid': (number);
  'starttime': (number);
  'origin': (_gproc_v1_Origin__Output | null);
}
