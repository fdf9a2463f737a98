// Original file: src/proto/gproc.proto


export interface ProcessFile {
  'content'?: (Buffer | Uint8Array | string);
}

export interface ProcessFile__Output {
  'content': (Buffer);
}
