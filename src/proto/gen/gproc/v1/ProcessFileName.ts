// Original file: src/proto/gproc.proto

export const ProcessFileName = {
  PROCESS_FILE_UNSPECIFIED: 'PROCESS_FILE_UNSPECIFIED',
  STAT: 'STAT',
  STATUS: 'STATUS',
  STATM: 'STATM',
  CMDLINE: 'CMDLINE',
  COMM: 'COMM',
  ENVIRON: 'ENVIRON',
  CGROUP: 'CGROUP',
  IO: 'IO',
  LIMITS: 'LIMITS',
  SMAPS_ROLLUP: 'SMAPS_ROLLUP',
  SMAPS: 'SMAPS',
  SCHEDSTAT: 'SCHEDSTAT',
  OOM_SCORE: 'OOM_SCORE',
  OOM_SCORE_ADJ: 'OOM_SCORE_ADJ',
  WCHAN: 'WCHAN',
  LOGINUID: 'LOGINUID',
  AUTOGROUP: 'AUTOGROUP',
  /**
   * fdinfo/<fd>
   */
  FDINFO: 'FDINFO',
  MAPS: 'MAPS',
} as const;

export type ProcessFileName =
  | 'PROCESS_FILE_UNSPECIFIED'
  | 0
  | 'STAT'
  | 1
  | 'STATUS'
  | 2
  | 'STATM'
  | 3
  | 'CMDLINE'
  | 4
  | 'COMM'
  | 5
  | 'ENVIRON'
  | 6
  | 'CGROUP'
  | 7
  | 'IO'
  | 8
  | 'LIMITS'
  | 9
  | 'SMAPS_ROLLUP'
  | 10
  | 'SMAPS'
  | 11
  | 'SCHEDSTAT'
  | 12
  | 'OOM_SCORE'
  | 13
  | 'OOM_SCORE_ADJ'
  | 14
  | 'WCHAN'
  | 15
  | 'LOGINUID'
  | 16
  | 'AUTOGROUP'
  | 17
  /**
   * fdinfo/<fd>
   */
  | 'FDINFO'
  | 18
  | 'MAPS'
  | 19

export type ProcessFileName__Output = typeof ProcessFileName[keyof typeof ProcessFileName]
