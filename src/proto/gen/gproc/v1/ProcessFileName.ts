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

export type ProcessFileName__Output = typeof ProcessFileName[keyof typeof ProcessFileName]
