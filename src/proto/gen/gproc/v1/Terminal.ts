// Original file: src/proto/gproc.proto


/**
 * A terminal's size, in characters.
 */
export interface Terminal {
  'rows'?: (number);
  'cols'?: (number);
}

/**
 * A terminal's size, in characters.
 */
export interface Terminal__Output {
  'rows': (number);
  'cols': (number);
}
