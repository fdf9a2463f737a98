// Original file: src/proto/gproc.proto


export interface ExitStatus {
  /**
   * exited with this status
   */
  'code'?: (number);
  /**
   * killed by this signal ("SIGTERM")
   */
  'signal'?: (string);
  /**
   * ended, and nobody holds its status
   */
  'gone'?: (boolean);
  'outcome'?: "code"|"signal"|"gone";
}

export interface ExitStatus__Output {
  /**
   * exited with this status
   */
  'code'?: (number);
  /**
   * killed by this signal ("SIGTERM")
   */
  'signal'?: (string);
  /**
   * ended, and nobody holds its status
   */
  'gone'?: (boolean);
  'outcome'?: "code"|"signal"|"gone";
}
