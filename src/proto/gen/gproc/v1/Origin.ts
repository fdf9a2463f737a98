// Original file: src/proto/gproc.proto


/**
 * Who asked for a process the agent started: the cluster view shows that process with
 * the requester as parent and in the requester's process group and session.
 */
export interface Origin {
  /**
   * requester's node; 0 = no cluster requester
   */
  'node'?: (number);
  /**
   * requester's pid on that node
   */
  'pid'?: (number);
  /**
   * its process group there
   */
  'pgrp'?: (number);
  /**
   * its session there
   */
  'session'?: (number);
}

/**
 * Who asked for a process the agent started: the cluster view shows that process with
 * the requester as parent and in the requester's process group and session.
 */
export interface Origin__Output {
  /**
   * requester's node; 0 = no cluster requester
   */
  'node': (number);
  /**
   * requester's pid on that node
   */
  'pid': (number);
  /**
   * its process group there
   */
  'pgrp': (number);
  /**
   * its session there
   */
  'session': (number);
}
