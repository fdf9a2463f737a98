// Minimal types for pidusage 4 (it ships none): the calls gproc makes.
declare module 'pidusage' {
  interface Status {
    /** CPU use, percent of one CPU since the previous call (or since start). */
    cpu: number;
    /** Resident memory, bytes. */
    memory: number;
    ppid: number;
    pid: number;
    /** CPU time used, ms. */
    ctime: number;
    /** Time since the process started, ms. */
    elapsed: number;
    /** Time of the measure, ms since the epoch. */
    timestamp: number;
  }
  function pidusage(pid: number): Promise<Status>;
  namespace pidusage {
    function clear(): void;
  }
  export = pidusage;
}
