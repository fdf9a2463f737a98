/**
 * `make bench`: gproc measured side by side with the same tool on the real /proc, in one
 * run, on this machine. Prints one block per measure with the ratio and its target.
 *
 *   snapshot   one agent snapshot of a node with 1,000 processes vs native `ps -ef` there
 *   ps         unmodified `ps -ef` over the view vs native: 1 node x 1,000 processes, and
 *              4 nodes x 1,000 vs the same single native ps; FUSE requests per process
 *   floor      cold and warm `ps -ef` over 1 node x 1,000: native, a C libfuse 2 daemon
 *              serving a copy from memory (fuse-floor.c: the binding's floor), the same
 *              handing requests to one thread, the same copy served through fuse-native
 *              by trivial JavaScript (floor-js.ts), and the view
 *   ctl        stop+cont through <gpid>/ctl on a remote node vs local kill -STOP/-CONT
 *   run        `gproc run -- true` vs ssh to a local sshd; 100 MiB through cat, MiB/s
 *   liveness   a node's agent frozen and thawed: how soon nodes/<id>/state says down and up
 *   fanout     every process of 4 nodes x 1,000: gproc exec -- ps -ef vs pdsh -R ssh ps -ef
 *   scale      (only when named: `make bench-scale`) 1, 4, 16 and 64 nodes: see scale.ts
 *   big        (only when named: `make bench-big`) 8 nodes x 2,000 processes: see big.ts
 *   watch      a quiet node of 1,000 processes feeding a mount's replica: bytes per second
 *              against one full snapshot, and the agent's CPU
 */
import { big } from './big';
import { fanout } from './fanout';
import { serveFloorJs } from './floor-js';
import { scale } from './scale';
import { sections } from './sections';

/** Measures run only when named (`make bench-scale`: `bench.js scale`; `make bench-big`). */
const onRequest: Record<string, () => Promise<void>> = { scale, big };

async function main(): Promise<void> {
  // The fuse-native floor daemon of the floor measure (floor-js.ts), run by setup.ts.
  if (process.argv[2] === 'serve-floor-js') {
    const [procRoot, hostProc, mountPoint] = process.argv.slice(3);
    return serveFloorJs(procRoot, hostProc, mountPoint);
  }
  const only = process.argv.slice(2);
  for (const [name, run] of Object.entries({ ...sections, fanout, ...onRequest })) {
    if (only.length ? !only.includes(name) : name in onRequest) continue;
    process.stdout.write(`\n== ${name}\n`);
    try {
      await run();
    } catch (err) {
      process.stdout.write(`  FAILED: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}

main().then(
  () => process.exit(),
  (err) => {
    process.stderr.write(`${err}\n`);
    process.exit(1);
  },
);
