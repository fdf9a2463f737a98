// Original file: src/proto/gproc.proto


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
}
