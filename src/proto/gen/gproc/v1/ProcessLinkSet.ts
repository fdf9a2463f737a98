// Original file: src/proto/gproc.proto

export const ProcessLinkSet = {
  PROCESS_LINK_SET_UNSPECIFIED: 'PROCESS_LINK_SET_UNSPECIFIED',
  /**
   * exe, cwd, root
   */
  LINKS: 'LINKS',
  /**
   * fd/<n>
   */
  FD: 'FD',
  /**
   * ns/<type>
   */
  NS: 'NS',
} as const;

export type ProcessLinkSet =
  | 'PROCESS_LINK_SET_UNSPECIFIED'
  | 0
  /**
   * exe, cwd, root
   */
  | 'LINKS'
  | 1
  /**
   * fd/<n>
   */
  | 'FD'
  | 2
  /**
   * ns/<type>
   */
  | 'NS'
  | 3

export type ProcessLinkSet__Output = typeof ProcessLinkSet[keyof typeof ProcessLinkSet]
