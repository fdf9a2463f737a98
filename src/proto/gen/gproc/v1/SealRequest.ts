// Original file: src/proto/gproc.proto


export interface SealRequest {
  /**
   * node ids that may accept the credential
   */
  'audience'?: (number)[];
}

export interface SealRequest__Output {
  /**
   * node ids that may accept the credential
   */
  'audience': (number)[];
}
