/**
 * The per-process files gproc serves, declared once: for each file of /proc/<pid>/, how
 * the owning agent reads it and how the cluster view shows it. procfs/read.ts reads the
 * snapshot files from this table, the agent's reader pool copies them by it, and the
 * routing table (fs/tree.ts) makes the view's <gpid>/ and task/<gtid>/ files from it.
 *
 * A snapshot file travels as the bytes field of the same name in gproc.v1.Process (and in
 * gproc.v1.Thread when each thread has its own): the generated types are the only shape
 * of it, and the types below do not compile while the two disagree.
 *
 * Adding a file: its entry here, its name in gproc.proto (a Process field for snapshot
 * files, a ProcessFileName for every file; `make proto`),
 * a renderer in fs/render.ts `RENDERERS` when the view rewrites its bytes, and a test.
 */
import type { Process__Output } from '../proto/gen/gproc/v1/Process';
import type { ProcessFileName } from '../proto/gen/gproc/v1/ProcessFileName';
import type { Thread__Output } from '../proto/gen/gproc/v1/Thread';

/** How one file is read and shown. */
export type FileDecl = {
  /** Permission bits of the view's file, as /proc gives them (0o400: the owner and root only). */
  mode: number;
  /**
   * task/<tid>/ has it too: 'own' when each thread has its own bytes, 'process' when a
   * thread shows its process's; absent: not in task/.
   */
  thread?: 'own' | 'process';
  /**
   * 'verbatim': the owning node's bytes as they are; 'rendered': fs/render.ts `RENDERERS`
   * makes the bytes (PIDs translated, or made from other files).
   */
  view: 'verbatim' | 'rendered';
} & (
  | {
      /**
       * Read for every process on every snapshot and sent in the Process field of its name.
       * `required`: a process whose file cannot be read is left out of the snapshot (it
       * ended); otherwise an absent or unreadable file is sent empty.
       */
      read: 'snapshot';
      required: boolean;
    }
  /** Read by the owning agent when the view's file is read (ReadProcessFile, `wireName`). */
  | { read: 'on-demand' }
  /** Made by the view from the snapshot's other files (so it is 'rendered'). */
  | { read: 'view'; view: 'rendered' }
);

/** The per-process files, in the order the view lists them. */
export const PROCESS_FILES = {
  stat: { mode: 0o444, read: 'snapshot', required: true, thread: 'own', view: 'rendered' },
  status: { mode: 0o444, read: 'snapshot', required: true, thread: 'own', view: 'rendered' },
  // Threads share their process's memory: the same statm (top -H reads it per thread).
  statm: { mode: 0o444, read: 'snapshot', required: true, thread: 'process', view: 'verbatim' },
  cmdline: { mode: 0o444, read: 'snapshot', required: true, thread: 'process', view: 'verbatim' },
  comm: { mode: 0o444, read: 'view', thread: 'own', view: 'rendered' },
  environ: { mode: 0o400, read: 'snapshot', required: false, view: 'verbatim' },
  cgroup: { mode: 0o444, read: 'snapshot', required: false, view: 'verbatim' },
  // Each thread has its own counters (htop's I/O tab reads task/<tid>/io for its thread rows).
  io: { mode: 0o400, read: 'on-demand', thread: 'own', view: 'verbatim' },
  // Read when asked (as io): 1.3 KB per process that `ps` never reads.
  limits: { mode: 0o444, read: 'on-demand', view: 'verbatim' },
  // Read when asked, as Linux gives them (native-notes/security.md, "Per-process files").
  // smaps and smaps_rollup are 0444 on Linux but ptrace-checked (EACCES for another user):
  // 0400 here makes the kernel refuse the same readers. wchan is ptrace-checked too (Linux
  // prints "0" to others): 0400. The writable ones (oom_score_adj, loginuid, autogroup,
  // 0644 on Linux) are 0444: the view has no way to write them.
  smaps_rollup: { mode: 0o400, read: 'on-demand', view: 'verbatim' },
  smaps: { mode: 0o400, read: 'on-demand', view: 'verbatim' },
  // htop reads maps to mark processes that use deleted libraries; ptrace-checked as smaps.
  maps: { mode: 0o400, read: 'on-demand', view: 'verbatim' },
  schedstat: { mode: 0o444, read: 'on-demand', thread: 'own', view: 'verbatim' },
  oom_score: { mode: 0o444, read: 'on-demand', view: 'verbatim' },
  oom_score_adj: { mode: 0o444, read: 'on-demand', view: 'verbatim' },
  wchan: { mode: 0o400, read: 'on-demand', thread: 'own', view: 'verbatim' },
  loginuid: { mode: 0o444, read: 'on-demand', view: 'verbatim' },
  autogroup: { mode: 0o444, read: 'on-demand', view: 'verbatim' },
} as const satisfies Record<string, FileDecl>;

type Files = typeof PROCESS_FILES;
/** The name of a per-process file ("stat"). */
export type ProcessFile = keyof Files;
type Where<P> = { [K in ProcessFile]: Files[K] extends P ? K : never }[ProcessFile];
/** Files every snapshot carries: a bytes field of gproc.v1.Process each. */
export type SnapshotFile = Where<{ read: 'snapshot' }>;
/** Snapshot files each thread has its own of: a bytes field of gproc.v1.Thread each. */
export type ThreadFile = Where<{ read: 'snapshot'; thread: 'own' }>;
/** Files whose bytes fs/render.ts makes. */
export type RenderedFile = Where<{ view: 'rendered' }>;

/**
 * The bytes fields of a Process and of a Thread, which must be exactly the snapshot
 * files and the thread files: Pick fails to compile for a declared file the proto lacks,
 * and `readProcess` builds a Process__Output from these, which fails for a field the
 * declaration lacks.
 */
export type SnapshotBytes = Pick<Process__Output, SnapshotFile>;
export type ThreadBytes = Pick<Thread__Output, ThreadFile>;

/** Every per-process file, in declaration order. */
export const FILE_NAMES = Object.keys(PROCESS_FILES) as ProcessFile[];

/** The declaration of `name`, as its common shape. */
export const declOf = (name: ProcessFile): FileDecl => PROCESS_FILES[name];

export const isSnapshotFile = (n: ProcessFile): n is SnapshotFile => declOf(n).read === 'snapshot';

export const isThreadFile = (n: ProcessFile): n is ThreadFile =>
  isSnapshotFile(n) && declOf(n).thread === 'own';

/**
 * The file of a ReadProcessFile request: every declared file by its ProcessFileName
 * (`stat` is STAT), which an agent reads from /proc/<pid>/ (or task/<tid>/).
 */
export const FILE_BY_WIRE = new Map<ProcessFileName, ProcessFile>(
  FILE_NAMES.map((n) => [wireName(n), n]),
);

/** A file's name in ReadProcessFile: `stat` is STAT (this fails to compile without one). */
export function wireName(n: ProcessFile): ProcessFileName {
  return n.toUpperCase() as Uppercase<ProcessFile>;
}

/** Files /proc shows only to the process's owner and root (mode 0400, proc(5)). */
export const isPrivateFile = (n: ProcessFile): boolean => (declOf(n).mode & 0o044) === 0;

/** The snapshot files, in declaration order. */
export const SNAPSHOT_FILES: readonly SnapshotFile[] = FILE_NAMES.filter(isSnapshotFile);

/** The files each thread carries its own of, in declaration order. */
export const THREAD_FILES: readonly ThreadFile[] = FILE_NAMES.filter(isThreadFile);

/**
 * The symbolic links of /proc/<pid>/ the view serves, targets read by the owning agent
 * (ReadProcessLinks LINKS). fd/<n> (FD) and ns/<type> (NS) are links too, named by the
 * node's kernel.
 */
export const PROCESS_LINKS = ['exe', 'cwd', 'root'] as const;
