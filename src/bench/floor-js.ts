/**
 * The floor of fuse-native itself, for `make bench floor`: the same in-memory copy of a node's
 * /proc that fuse-floor.c serves, served instead through gproc's own mount code (fs/fuse.ts:
 * fuse-native, the event loop kept hot) by trivial JavaScript: a Map lookup per request. What
 * it costs over fuse-floor.c is the binding's; what gproc's view costs over it is gproc's.
 * Run as `node dist/bench.js serve-floor-js PROC_ROOT HOST_PROC MOUNT_POINT` (setup.ts).
 */
import { lstatSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { E } from '../fs/errno';
import { mountFuse, type FuseOps } from '../fs/fuse';
import { VIEW_MOUNT_OPTIONS } from '../fs/mount';

interface Entry {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  data?: Buffer;
  kids?: string[];
}

/** The files fuse-floor.c copies (keep the two lists alike). */
const PID_FILES = ['stat', 'statm', 'status', 'cmdline', 'environ'];
const TOP_FILES = ['uptime', 'stat', 'meminfo', 'loadavg', 'cpuinfo', 'sys/kernel/pid_max'];

/** Copies `procRoot`'s ps files into a map of paths ("/", "/12", "/12/stat"). */
function load(procRoot: string): Map<string, Entry> {
  const tree = new Map<string, Entry>();
  const add = (path: string, st: Stats, data?: Buffer) => {
    tree.set(path, { mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtimeMs, data });
    if (!st.isFile()) tree.get(path)!.kids = [];
    if (path !== '/') {
      const slash = path.lastIndexOf('/');
      tree.get(path.slice(0, slash) || '/')!.kids!.push(path.slice(slash + 1));
    }
  };
  const copy = (rel: string) => {
    let data: Buffer;
    try {
      data = readFileSync(`${procRoot}/${rel}`);
    } catch {
      return; // gone, or not readable: as fuse-floor.c
    }
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!tree.has(`/${dir}`)) add(`/${dir}`, statSync(`${procRoot}/${dir}`));
    }
    add(`/${rel}`, statSync(`${procRoot}/${rel}`), data);
  };
  add('/', statSync(procRoot));
  TOP_FILES.forEach(copy);
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      add(`/${name}`, statSync(`${procRoot}/${name}`));
    } catch {
      continue;
    }
    for (const f of PID_FILES) copy(`${name}/${f}`);
  }
  return tree;
}

type Cb = (...args: unknown[]) => void;

/** Mounts the copy at `mountPoint` until SIGTERM or SIGINT. */
export async function serveFloorJs(
  procRoot: string,
  hostProc: string,
  mountPoint: string,
): Promise<void> {
  const tree = load(procRoot);
  // A top-level name the copy lacks is a link into hostProc, as in the view and fuse-floor.c.
  const hostLink = (path: string) => {
    if (path.indexOf('/', 1) >= 0) return undefined;
    try {
      lstatSync(`${hostProc}${path}`);
      return `${hostProc}${path}`;
    } catch {
      return undefined;
    }
  };
  const ops: FuseOps = {
    getattr: (path: string, cb: Cb) => {
      const e = tree.get(path);
      if (e) {
        const size = e.data?.length ?? 0;
        const nlink = e.kids ? 2 : 1;
        return cb(0, { ...e, size, nlink, atime: e.mtime, ctime: e.mtime });
      }
      const target = hostLink(path);
      if (!target) return cb(-E.ENOENT);
      cb(0, { mode: 0o120777, uid: 0, gid: 0, size: target.length, nlink: 1, mtime: 0 });
    },
    readdir: (path: string, cb: Cb) => {
      const kids = tree.get(path)?.kids;
      return kids ? cb(0, kids) : cb(-E.ENOENT);
    },
    readlink: (path: string, cb: Cb) => {
      const target = hostLink(path);
      return target ? cb(0, target) : cb(-E.ENOENT);
    },
    open: (_path: string, _flags: number, cb: Cb) => cb(-E.ENOSYS),
    read: (path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
      const data = tree.get(path)?.data;
      if (!data) return cb(-E.ENOENT);
      cb(pos >= data.length ? 0 : data.copy(buf, 0, pos, Math.min(data.length, pos + len)));
    },
  };
  const mount = await mountFuse(mountPoint, ops, VIEW_MOUNT_OPTIONS);
  process.stdout.write(`ready ${tree.size}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await mount.unmount();
}
