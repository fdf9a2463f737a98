// Original file: src/proto/gproc.proto


/**
 * One link: its name in the directory ("exe", "3", "pid") and readlink(2) of it on the
 * node, or the errno name readlink failed with ("ENOENT": exe of a kernel thread).
 */
export interface ProcessLink {
  'name'?: (string);
  'target'?: (Buffer | Uint8Array | string);
  'error'?: (string);
}

/**
 * One link: its name in the directory ("exe", "3", "pid") and readlink(2) of it on the
 * node, or the errno name readlink failed with ("ENOENT": exe of a kernel thread).
 */
export interface ProcessLink__Output {
  'name': (string);
  'target': (Buffer);
  'error': (string);
}
