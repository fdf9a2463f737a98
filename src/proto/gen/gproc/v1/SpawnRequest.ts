// Original file: src/proto/gproc.proto

import type { Terminal as _gproc_v1_Terminal, Terminal__Output as _gproc_v1_Terminal__Output } from '../../gproc/v1/Terminal';

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
  /**
   * Run only (ssh -t, srun --pty): the command's stdin, stdout and stderr are a new
   * pseudo-terminal of this size, its controlling terminal; its output comes as stdout.
   */
  'terminal'?: (_gproc_v1_Terminal | null);
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
  /**
   * Run only (ssh -t, srun --pty): the command's stdin, stdout and stderr are a new
   * pseudo-terminal of this size, its controlling terminal; its output comes as stdout.
   */
  'terminal': (_gproc_v1_Terminal__Output | null);
}
