// Original file: src/proto/gproc.proto


/**
 * Node-wide files, raw as the node's /proc gave them.
 */
export interface NodeFiles {
  'uptime'?: (Buffer | Uint8Array | string);
  'stat'?: (Buffer | Uint8Array | string);
  'meminfo'?: (Buffer | Uint8Array | string);
  'loadavg'?: (Buffer | Uint8Array | string);
  'cpuinfo'?: (Buffer | Uint8Array | string);
  /**
   * sys/kernel/osrelease
   */
  'osrelease'?: (Buffer | Uint8Array | string);
  /**
   * sys/kernel/sched_autogroup_enabled (empty: none)
   */
  'schedAutogroupEnabled'?: (Buffer | Uint8Array | string);
}

/**
 * Node-wide files, raw as the node's /proc gave them.
 */
export interface NodeFiles__Output {
  'uptime': (Buffer);
  'stat': (Buffer);
  'meminfo': (Buffer);
  'loadavg': (Buffer);
  'cpuinfo': (Buffer);
  /**
   * sys/kernel/osrelease
   */
  'osrelease': (Buffer);
  /**
   * sys/kernel/sched_autogroup_enabled (empty: none)
   */
  'schedAutogroupEnabled': (Buffer);
}
