// Spec section 8, issue 13: the Debian package. `make deb` builds it; lintian finds no error
// or warning; its contents, man pages and units are checked (mandoc, systemd-analyze
// verify); then a minimal Debian 12 tree (mmdebstrap, from Debian's mirror; cached) gets
// it installed with apt and boots with systemd as its init (systemd-nspawn --boot), where
// the units start the agent and the mount, the view lists the container's processes, the
// mount comes back after kill -9 of its daemon, and a process spawned through the view
// lives through `systemctl restart gproc-agent`.
//
// Node.js 20: Debian 12's nodejs is 18, and the container cannot reach NodeSource. The test
// packages this machine's own NodeSource build again: a nodejs package of the same version
// holding its /usr/bin/node (all gproc runs), made with dpkg-deb (see nodeDeb below).
import t from 'tap';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PID_LIMIT } from '../src/gpid';
import { REPO, requireRealParts, waitFor } from './helpers/cluster';

requireRealParts();

/** Where the base tree and the node package are kept between runs (not in the repo). */
const CACHE = '/var/cache/gproc-test';
const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
/** What the container needs besides the minimal base: systemd as init, gproc's dependencies, man. */
const INCLUDE = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'fuse',
  'libfuse2',
  'openssl',
  'procps',
  'man-db',
  'bash-completion',
  'libstdc++6',
];

function run(cmd: string, args: string[], timeoutMs: number, cwd = REPO): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

function must(cmd: string, args: string[], timeoutMs: number, cwd = REPO): string {
  const r = run(cmd, args, timeoutMs, cwd);
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`,
    );
  return r.stdout;
}

let built: string | undefined;
/** The package `make deb` wrote (made once per run). */
function buildDeb(): string {
  if (built) return built;
  must('make', ['--no-print-directory', 'deb'], 8 * 60_000);
  const version = (
    JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const deb = join(REPO, `gproc_${version}_amd64.deb`);
  if (!existsSync(deb)) throw new Error(`make deb wrote no ${deb}`);
  return (built = deb);
}

/**
 * This machine's nodejs (NodeSource's 20.x) as a package the container can install: same
 * name and version, its /usr/bin/node, and the libraries node links. Cached by version.
 */
function nodeDeb(): string {
  const q = (f: string) => must('dpkg-query', ['-W', `-f=\${${f}}`, 'nodejs'], 10_000);
  const version = q('Version');
  if (!/^(2[0-9]|[3-9][0-9])\./.test(version))
    throw new Error(`this machine's nodejs is ${version}: gproc needs 20 or later`);
  // NodeSource's node is one self-contained binary; Debian's own links libnode.so, which
  // this repackaging would leave behind.
  const libs = must('ldd', ['/usr/bin/node'], 10_000);
  if (/libnode\.so/.test(libs))
    throw new Error(
      "this machine's /usr/bin/node links libnode.so (Debian's build): the test packages NodeSource's self-contained node only",
    );
  const deb = join(CACHE, `nodejs-host-${version.replace(/[^A-Za-z0-9.]/g, '_')}.deb`);
  if (existsSync(deb)) return deb;
  const stage = join(CACHE, 'nodejs-stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'DEBIAN'), { recursive: true });
  mkdirSync(join(stage, 'usr/bin'), { recursive: true });
  must('cp', ['-a', '/usr/bin/node', join(stage, 'usr/bin/node')], 60_000);
  writeFileSync(
    join(stage, 'DEBIAN/control'),
    [
      'Package: nodejs',
      `Version: ${version}`,
      'Architecture: amd64',
      `Maintainer: ${q('Maintainer')}`,
      'Depends: libc6 (>= 2.28), libgcc-s1, libstdc++6 (>= 11)',
      'Section: web',
      'Priority: optional',
      `Description: Node.js ${version} (this test machine's NodeSource build, /usr/bin/node only)`,
      ' Repackaged by test/deb.test.ts for a container that cannot reach NodeSource.',
      '',
    ].join('\n'),
  );
  must('dpkg-deb', ['--root-owner-group', '-Znone', '--build', stage, `${deb}.partial`], 120_000);
  renameSync(`${deb}.partial`, deb);
  rmSync(stage, { recursive: true, force: true });
  return deb;
}

/** A minimal Debian tree with INCLUDE, made once (mmdebstrap) and kept in CACHE. */
function baseTree(): string {
  const key = createHash('sha256')
    .update(`${SUITE} ${INCLUDE.join(',')}`)
    .digest('hex')
    .slice(0, 10);
  const dir = join(CACHE, `${SUITE}-${key}`);
  if (existsSync(dir)) return dir;
  mkdirSync(CACHE, { recursive: true });
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  must(
    'mmdebstrap',
    ['--quiet', '--variant=minbase', `--include=${INCLUDE.join(',')}`, SUITE, partial, MIRROR],
    10 * 60_000,
  );
  renameSync(partial, dir);
  return dir;
}

/**
 * systemd-nspawn with what this machine needs: its own mount namespace with a tmpfs on
 * /run/systemd/nspawn (nspawn refuses to clean up that directory on a /run that is not
 * tmpfs, as here), no machined (PID 1 here is not systemd: --register=no --keep-unit), no
 * network (a one-node cluster on 127.0.0.1 needs none).
 */
function nspawnArgs(tree: string, more: string[]): string[] {
  const args = ['-q', '-D', tree, '--register=no', '--keep-unit', '--private-network', ...more];
  return [
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn && exec systemd-nspawn "$@"',
    'nspawn',
    ...args,
  ];
}

/** Runs a command in `tree` (not booted), e.g. apt-get. */
function inTree(tree: string, more: string[], timeoutMs: number): string {
  return must('unshare', nspawnArgs(tree, ['--console=pipe', ...more]), timeoutMs);
}

const lintianFindings = (out: string, level: 'E' | 'W') =>
  out.split('\n').filter((l) => l.startsWith(`${level}: `));

t.test('make deb: lintian, contents, man pages, units', async (t) => {
  const deb = buildDeb();
  const lint = run('lintian', ['--tag-display-limit', '0', deb], 5 * 60_000);
  t.same(lintianFindings(lint.stdout, 'E'), [], 'lintian: no errors');
  t.same(lintianFindings(lint.stdout, 'W'), [], 'lintian: no warnings');
  t.equal(lint.status, 0, `lintian exits 0 (${lint.stderr.trim().split('\n').pop()})`);

  const control = must('dpkg-deb', ['-f', deb], 10_000);
  t.match(control, /^Depends: .*nodejs \(>= 20\)/m, 'depends on nodejs 20');
  t.match(control, /^Depends: .*\bfuse\b.*\blibfuse2\b/m, 'depends on fuse and libfuse2');
  const listing = must('dpkg-deb', ['-c', deb], 10_000);
  const entry = (path: string) =>
    listing.split('\n').find((l) => l.endsWith(` ./${path}`) || l.includes(` ./${path} -> `));
  t.match(
    entry('usr/bin/gproc'),
    /^lrwxrwxrwx root\/root .* -> \.\.\/lib\/gproc\/dist\/gproc\.js$/,
    'gproc on PATH',
  );
  t.match(
    entry('usr/lib/gproc/dist/gproc-exec'),
    /^-rwsr-xr-x root\/root /,
    'gproc-exec set-user-ID root',
  );
  for (const f of [
    'usr/lib/gproc/package.json',
    'usr/lib/gproc/dist/read-worker.js',
    'usr/lib/gproc/dist/heartbeat-worker.js',
    'usr/lib/gproc/dist/gproc-shim',
    'usr/lib/gproc/dist/gproc-kill.so',
    'usr/lib/gproc/dist/peercred.node',
    'usr/lib/gproc/node_modules/fuse-native/prebuilds/linux-x64/node.napi.node',
    'lib/systemd/system/gproc-agent.service',
    'lib/systemd/system/gproc-mount.service',
    'etc/default/gproc',
    'usr/share/man/man1/gproc.1.gz',
    'usr/share/man/man5/gproc-cluster.json.5.gz',
    'usr/share/man/man5/gproc-proc.5.gz',
    'usr/share/bash-completion/completions/gproc',
    'usr/share/doc/gproc/copyright',
    'usr/share/doc/gproc/examples/cluster.json',
  ])
    t.ok(entry(f), `ships ${f}`);
  const x = t.testdir();
  mkdirSync(x, { recursive: true });
  must('dpkg-deb', ['-x', deb, x], 60_000);
  must('dpkg-deb', ['-e', deb, join(x, 'DEBIAN')], 10_000);
  t.equal(readFileSync(join(x, 'DEBIAN/conffiles'), 'utf8'), '/etc/default/gproc\n', 'conffiles');

  // Every command and option of `gproc --help` is in gproc(1).
  const page = must('man', ['-l', '-P', 'cat', join(x, 'usr/share/man/man1/gproc.1.gz')], 30_000);
  const help = must('node', [join(REPO, 'dist/gproc.js'), '--help'], 30_000);
  for (const cmd of help.matchAll(/^ {2}([a-z]+) /gm)) {
    if (cmd[1] === 'help') continue;
    t.match(page, new RegExp(`^ {3}${cmd[1]} `, 'm'), `gproc(1) has ${cmd[1]}`);
    const sub = must('node', [join(REPO, 'dist/gproc.js'), 'help', cmd[1]], 30_000);
    for (const opt of sub.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm))
      t.ok(page.includes(opt[1]), `gproc(1) has ${cmd[1]} ${opt[1]}`);
  }
  for (const man of ['man1/gproc.1.gz', 'man5/gproc-cluster.json.5.gz', 'man5/gproc-proc.5.gz']) {
    const f = join(x, 'usr/share/man', man);
    const lint = run('mandoc', ['-Tlint', '-W', 'style', f], 30_000);
    t.equal(lint.stdout + lint.stderr, '', `mandoc -Tlint: nothing to say about ${man}`);
    const r = run('man', ['--warnings', '-l', '-P', 'cat', f], 30_000);
    t.equal(r.stderr, '', `man --warnings renders ${man} without warnings`);
  }
  const proc5 = must(
    'man',
    ['-l', '-P', 'cat', join(x, 'usr/share/man/man5/gproc-proc.5.gz')],
    30_000,
  );
  for (const f of [
    '<gpid>/stat',
    '<gpid>/ctl',
    '<gpid>/wait',
    '<gpid>/limits',
    'nodes/<id>/spawn',
    'EHOSTDOWN',
  ])
    t.ok(proc5.includes(f), `gproc-proc(5) documents ${f}`);
  const completion = run(
    'bash',
    ['-n', join(x, 'usr/share/bash-completion/completions/gproc')],
    10_000,
  );
  t.equal(completion.status, 0, 'the bash completion parses');

  // The agent's unit names no node: it comes from GPROC_NODE, and without one the agent says so.
  const noNode = spawnSync('node', [join(REPO, 'dist/gproc.js'), 'agent'], {
    encoding: 'utf8',
    env: { ...process.env, GPROC_NODE: '' },
    timeout: 30_000,
  });
  t.equal(noNode.status, 1, 'an agent without --node or GPROC_NODE exits 1');
  t.match(noNode.stderr, /^gproc: which node is this\? give --node N or set GPROC_NODE/);
  const unit = readFileSync(join(x, 'lib/systemd/system/gproc-agent.service'), 'utf8');
  t.match(unit, /^KillMode=process$/m, "the agent's stop leaves the processes it started");
  t.match(unit, /^RuntimeDirectory=gproc$/m, '/run/gproc');
  t.match(unit, /^StateDirectory=gproc$/m, '/var/lib/gproc');
});

t.test('installed in a Debian 12 container booted by systemd', async (t) => {
  const deb = buildDeb();
  const node = nodeDeb();
  const base = baseTree();
  const tree = join(CACHE, 'run');
  rmSync(tree, { recursive: true, force: true });
  must('cp', ['-a', '--reflink=auto', base, tree], 5 * 60_000);
  t.teardown(() => rmSync(tree, { recursive: true, force: true }));
  const debs = join(t.testdir(), 'debs');
  mkdirSync(debs, { recursive: true });
  must('cp', [deb, node, debs], 60_000);
  // A machine id of its own (systemd wants one), and the package installed by apt from the
  // files: every other dependency comes from the base tree, without network.
  writeFileSync(
    join(tree, 'etc/machine-id'),
    `${createHash('md5').update(String(Date.now())).digest('hex')}\n`,
  );
  const installed = inTree(
    tree,
    [
      `--bind-ro=${debs}:/mnt/debs`,
      '-E',
      'DEBIAN_FRONTEND=noninteractive',
      'sh',
      '-c',
      'apt-get install -y -q /mnt/debs/*.deb && gproc --version && man -P cat gproc | head -5',
    ],
    3 * 60_000,
  );
  t.match(installed, /Setting up gproc /, 'apt-get installs the package and nodejs');
  t.match(
    installed,
    /Created symlink .*multi-user\.target\.wants\/gproc-agent\.service/,
    'the agent unit is enabled',
  );
  t.match(installed, /^0\.\d+\.\d+$/m, 'gproc --version');
  t.match(installed, /GPROC\(1\)/, 'man gproc');
  const verify = inTree(
    tree,
    [
      'sh',
      '-c',
      'systemd-analyze verify --man=no /lib/systemd/system/gproc-agent.service /lib/systemd/system/gproc-mount.service 2>&1; echo "status $?"; printf "[Service]\\nExecStart=/nonexistent\\n" >/tmp/bad.service; systemd-analyze verify --man=no /tmp/bad.service >/dev/null 2>&1; echo "bad $?"',
    ],
    60_000,
  );
  t.match(verify, /^status 0$/m, 'systemd-analyze verify passes the units');
  t.match(verify, /^bad [1-9]/m, '...and fails a unit that names no program (the check can fail)');
  t.equal(verify.replace(/^(status|bad) \d+\n/gm, ''), '', 'verify has nothing to say');

  // The administrator's part: a cluster file of one node on loopback, its certificates
  // (root's, gproc certs --install), and which node this is.
  const setup = inTree(
    tree,
    [
      'sh',
      '-c',
      `set -e
mkdir -p /etc/gproc
cat >/etc/gproc/cluster.json <<'EOF'
{"nodes": [{"id": 1, "name": "n1", "address": "127.0.0.1:7101"}],
 "tls": {"ca": "/etc/gproc/ca.pem", "cert": "/etc/gproc/{name}.pem", "key": "/etc/gproc/{name}.key"}}
EOF
gproc certs --install >/dev/null
sed -i 's/^GPROC_NODE=.*/GPROC_NODE=n1/' /etc/default/gproc
stat -c '%a %U %n' /etc/gproc /etc/gproc/ca.key /etc/gproc/n1.key /etc/gproc/n1.pem /etc/gproc/ca.pem`,
    ],
    60_000,
  );
  t.same(
    setup.trim().split('\n'),
    [
      '755 root /etc/gproc',
      '600 root /etc/gproc/ca.key',
      '600 root /etc/gproc/n1.key',
      '644 root /etc/gproc/n1.pem',
      '644 root /etc/gproc/ca.pem',
    ],
    "gproc certs --install: keys 0600 and certificates 0644, root's",
  );

  // Boot. The container's init is the child of systemd-nspawn that runs systemd.
  const booted: ChildProcess = spawn(
    'unshare',
    nspawnArgs(tree, [
      '--boot',
      '--bind=/dev/fuse',
      '--console=read-only',
      '--machine=gproc-deb-test',
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let console = '';
  booted.stdout!.on('data', (d: Buffer) => (console += d.toString()));
  booted.stderr!.on('data', (d: Buffer) => (console += d.toString()));
  t.teardown(async () => {
    if (booted.exitCode !== null || booted.signalCode !== null) return;
    booted.kill('SIGTERM'); // nspawn asks the container's systemd to power off
    const gone = await new Promise<boolean>((res) => {
      const timer = setTimeout(() => res(false), 30_000);
      booted.once('exit', () => {
        clearTimeout(timer);
        res(true);
      });
    });
    if (!gone) {
      const leader = leaderOf(booted.pid!);
      if (leader) spawnSync('kill', ['-KILL', String(leader)]);
      booted.kill('SIGKILL');
    }
  });
  const leader = await waitFor(
    "the container's systemd",
    () => leaderOf(booted.pid!),
    30_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; console:\n${console.slice(-3000)}`);
  });
  const inside = (script: string, timeoutMs = 30_000) =>
    run('nsenter', ['-t', String(leader), '-a', '--', 'sh', '-c', script], timeoutMs);
  const state = await waitFor(
    'boot to finish',
    () => {
      const s = inside('systemctl is-system-running').stdout.trim();
      return s === 'running' || s === 'degraded' ? s : undefined;
    },
    120_000,
  );
  t.equal(
    state,
    'running',
    `systemd booted (failed units: ${inside('systemctl --failed --no-legend').stdout.trim() || 'none'})`,
  );
  t.equal(
    inside('systemctl is-active gproc-agent gproc-mount').stdout,
    'active\nactive\n',
    'both units started at boot',
  );

  const mainPid = (unit: string) =>
    Number(inside(`systemctl show -p MainPID --value ${unit}`).stdout);
  const agentPid = mainPid('gproc-agent');
  const gpidOf = (pid: number) => PID_LIMIT + pid; // node 1
  const listed = () =>
    inside('ls /cluster/proc')
      .stdout.split('\n')
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  await waitFor('the view to list the agent', () => listed().includes(gpidOf(agentPid)), 15_000);
  const gpids = listed();
  t.ok(gpids.includes(1), "the view lists the cluster's root (gpid 1)");
  t.ok(gpids.includes(gpidOf(1)), "...the container's systemd as node 1's pid 1");
  t.ok(gpids.includes(gpidOf(agentPid)), `...and the agent (pid ${agentPid})`);
  t.match(inside('cat /cluster/proc/nodes/1/state').stdout, /^up\n$/, 'node 1 is up');

  // A process started through the view, then the agent's unit restarted.
  const spawned = inside(
    'exec 3<>/cluster/proc/nodes/1/spawn; echo "exec sleep 600" >&3; read g <&3; echo $g',
  );
  const gpid = Number(spawned.stdout.trim());
  t.ok(
    gpid > PID_LIMIT,
    `spawn answers a gpid of node 1 (${spawned.stdout.trim()}${spawned.stderr})`,
  );
  const pid = gpid - PID_LIMIT;
  t.equal(
    inside(`cat /proc/${pid}/comm`).stdout,
    'sleep\n',
    "the gpid is the command's own process",
  );
  const restart = inside('systemctl restart gproc-agent', 60_000);
  t.equal(restart.status, 0, `systemctl restart gproc-agent (${restart.stderr.trim()})`);
  const newAgent = mainPid('gproc-agent');
  t.not(newAgent, agentPid, `a new agent runs (pid ${agentPid} -> ${newAgent})`);
  t.equal(
    inside(`cat /proc/${pid}/comm`).stdout,
    'sleep\n',
    'the spawned process survived the restart',
  );
  await waitFor('the new agent to serve it', () => listed().includes(gpid), 15_000);
  t.equal(
    inside(`cat /cluster/proc/${gpid}/comm`).stdout,
    'sleep\n',
    'and the view shows it, through the new agent',
  );

  // kill -9 of the mount daemon: the unit restarts it and the view comes back.
  const mountPid = mainPid('gproc-mount');
  t.equal(inside(`kill -9 ${mountPid}`).status, 0, `kill -9 the mount daemon (pid ${mountPid})`);
  const again = await waitFor(
    'the mount unit to restart its daemon',
    () => {
      const p = mainPid('gproc-mount');
      return p !== 0 && p !== mountPid ? p : undefined;
    },
    30_000,
  );
  t.ok(
    Number(inside('systemctl show -p NRestarts --value gproc-mount').stdout) >= 1,
    `restarted by systemd (pid ${again})`,
  );
  await waitFor('the view after the restart', () => listed().includes(gpid), 30_000);
  t.equal(
    inside(`cat /cluster/proc/${gpid}/comm`).stdout,
    'sleep\n',
    'the new mount lists the spawned process',
  );

  // Stopping the mount's unit unmounts the view.
  const views = () => inside('grep -c " fuse.gproc " /proc/self/mounts').stdout.trim();
  t.not(views(), '0', 'the view is mounted (fuse.gproc)');
  t.equal(inside('systemctl stop gproc-mount', 60_000).status, 0, 'systemctl stop gproc-mount');
  t.equal(views(), '0', 'nothing of the view is left mounted');
});

/** The container's init: the child of systemd-nspawn `nspawn` whose command is systemd. */
function leaderOf(nspawn: number): number | undefined {
  const kids = spawnSync('pgrep', ['-P', String(nspawn)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean);
  for (const k of kids) {
    try {
      if (readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'systemd') return Number(k);
    } catch {
      // gone
    }
  }
  return undefined;
}
