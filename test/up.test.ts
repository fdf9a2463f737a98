// gproc up (the embedded default, `make run`): it starts agents and mounts the view; Ctrl-C
// at any stage stops everything it started; it refuses a port another cluster holds; an
// up killed with SIGKILL is cleaned up by the next one.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PID_LIMIT } from '../src/gpid';
import { upFiles } from '../src/up/files';
import { freePorts, GPROC, requireRealParts, waitFor } from './helpers/cluster';

requireRealParts();

/** Processes whose command line names `text` (an up's agents name its cluster file). */
const running = (text: string) =>
  spawnSync('pgrep', ['-f', text], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
const mounted = (dir: string) => spawnSync('mountpoint', ['-q', dir]).status === 0;
const exited = (p: ChildProcess) =>
  new Promise<number | null>((r) =>
    p.exitCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c)),
  );

function up(mount: string, port: number): ChildProcess {
  return spawn(
    GPROC[0],
    [...GPROC.slice(1), 'up', '--simulate', '2', '--mount', mount, '--base-port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

function scratchMount(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'gproc-up-'));
  t.teardown(() => {
    if (mounted(dir)) spawnSync('fusermount', ['-uz', dir]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(upFiles(dir).dir, { recursive: true, force: true });
  });
  return dir;
}

t.test('up, a second up on its port, Ctrl-C', async (t) => {
  const [port] = await freePorts(1);
  const mount = scratchMount(t);
  const first = up(mount, port);
  let stderr = '';
  first.stderr!.on('data', (d) => (stderr += d));
  await waitFor('the view', () => existsSync(`${mount}/nodes/2`) || undefined, 30000);
  const gpids = readdirSync(mount)
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  t.same(
    [...new Set(gpids.map((g) => Math.floor(g / PID_LIMIT)))].sort(),
    [0, 1, 2],
    'processes of both simulated nodes, and the cluster root (node 0: gpid 1)',
  );

  const other = scratchMount(t);
  const second = spawnSync(
    GPROC[0],
    [...GPROC.slice(1), 'up', '--simulate', '2', '--mount', other, '--base-port', String(port)],
    { encoding: 'utf8', timeout: 30000 },
  );
  t.equal(second.status, 1, 'a second up on the same ports fails');
  t.match(second.stderr, new RegExp(`port ${port} on 127.0.0.1 is in use`));
  t.notOk(mounted(other), 'and mounts nothing');

  first.kill('SIGINT');
  t.equal(await exited(first), 0, 'Ctrl-C: up exits 0');
  t.equal(stderr.includes('Error'), false, 'no error on the way out');
  t.notOk(mounted(mount), 'the view is unmounted');
  t.same(running(upFiles(mount).config), [], 'no agent is left');
});

t.test('Ctrl-C while up is still starting stops what it started', async (t) => {
  const [port] = await freePorts(1);
  const mount = scratchMount(t);
  for (const delayMs of [400, 900]) {
    const p = up(mount, port);
    await new Promise((r) => setTimeout(r, delayMs));
    p.kill('SIGINT');
    await exited(p);
    await waitFor(
      'its agents to end',
      () => running(upFiles(mount).config).length === 0 || undefined,
      5000,
    ).catch(() => undefined);
    t.same(running(upFiles(mount).config), [], `after ${delayMs} ms: no agent is left`);
    t.notOk(mounted(mount), `after ${delayMs} ms: nothing is mounted`);
  }
});

t.test('an up killed with SIGKILL is cleaned up by the next', async (t) => {
  const [port] = await freePorts(1);
  const mount = scratchMount(t);
  const killed = up(mount, port);
  await waitFor('the view', () => existsSync(`${mount}/nodes/2`) || undefined, 30000);
  killed.kill('SIGKILL');
  await exited(killed);
  const next = up(mount, port);
  await waitFor(
    'the view again',
    () => {
      try {
        return readdirSync(mount).includes('nodes') || undefined;
      } catch {
        return undefined; // the stale mount answers ENOTCONN until it is cleared
      }
    },
    30000,
  );
  t.pass('the next up mounts on the same mount point and ports');
  next.kill('SIGINT');
  t.equal(await exited(next), 0);
  t.same(running(upFiles(mount).config), [], 'no agent of either is left');
});
