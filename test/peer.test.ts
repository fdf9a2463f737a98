// Who is calling a plaintext loopback agent: the kernel's answer for the caller's socket,
// matched on both ends of the connection (a local port alone may be shared by two users).
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { LoopbackCallers } from '../src/agent/peer';
import { waitFor } from './helpers/cluster';

const listen = (server: Server) => new Promise<number>((res) => server.listen(0, '127.0.0.1', () => res((server.address() as { port: number }).port)));

t.test("a nobody socket sharing root's local port is still nobody", async (t) => {
  const callers = new LoopbackCallers();
  const accepted: Socket[] = [];
  // Root holds the same local port towards 16 other listeners (so that its rows come first
  // in /proc/net/tcp more often than not).
  const others = Array.from({ length: 16 }, () => createServer((s) => accepted.push(s)));
  const agent = createServer((s) => {
    callers.accept(s);
    accepted.push(s);
  });
  const ports = [await listen(agent), ...(await Promise.all(others.map(listen)))];
  const py = spawn('python3', [join(__dirname, 'helpers', 'shared-port.py'), ...ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  t.teardown(() => {
    process.kill(-py.pid!, 'SIGKILL'); // with the nobody child
    accepted.forEach((s) => s.destroy());
    [agent, ...others].forEach((s) => s.close());
  });
  let out = '';
  py.stdout.on('data', (d) => (out += d));
  const port = Number((await waitFor('both sockets', () => /^(\d+) ok$/m.exec(out)?.[1])));
  await waitFor('every connection to be accepted', () => accepted.length >= 17 || undefined);
  t.same(callers.caller(`127.0.0.1:${port}`), { uid: 65534, gid: 65534 }, 'the caller on the agent is nobody');
  t.equal(callers.caller('127.0.0.1:1'), undefined, 'a connection the agent did not accept is nobody it knows');
});
