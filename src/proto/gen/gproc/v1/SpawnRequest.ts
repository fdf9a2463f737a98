// Original file: src/proto/gproc.proto

import type { Origin as _gproc_v1_Origin, Origin__Output as _gproc_v1_Origin__Output } from '../../gproc/v1/Origin';

export interface SpawnRequest {
  /**
   * program and arguments, run without a shell
   */
  'argv'?: (string)[];
  /**
   * or: a line run by /bin/sh -c
   */
  'shellCommand'?: (string);
  /**
   * "NAME=value", the whole environment
   */
  'env'?: (string)[];
  /**
   * working directory; "" = "/"
   */
  'cwd'?: (string);
  'uid'?: (number);
  'gid'?: (number);
  'origin'?: (_gproc_v1_Origin | null);
}

export interface SpawnRequest__Output {
  /**
   * program and arguments, run without a shell
   */
  'argv': (string)[];
  /**
   * or: a line run by /bin/sh -c
   */
  'shellCommand': (string);
  /**
   * "NAME=value", the whole environment
   */
  'env': (string)[];
  /**
   * working directory; "" = "/"
   */
  'cwd': (string);
  'uid': (number);
  'gid': (number);
  'origin': (_gproc_v1_Origin__Output | null);
}
