// Original file: src/proto/gproc.proto


export interface Thread {
  'tid'?: (number);
  'stat'?: (Buffer | Uint8Array | string);
  'status'?: (Buffer | Uint8Array | string);
}

export interface Thread__Output {
  'tid': (number);
  'stat': (Buffer);
  'status': (Buffer);
}
