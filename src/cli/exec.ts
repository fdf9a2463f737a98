/**
 * `gproc exec [--mount DIR] -- CMD ARGS` and `gproc ps [PS ARGS]` (spec section 3): run an
 * unmodified tool in a private mount namespace whose /proc is the cluster view, and whose
 * kill(2) reaches global PIDs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaults } from '../defaults';
import { killedStatus } from '../exit-status';
import { TERMINATING_SIGNALS } from '../signals';
import { action, CliError } from './common';

/** The kill(2) wrapper built next to the command (src/native/gproc-kill.c). */
const KILL_LIBRARY = join(__dirname, 'gproc-kill.so');

/**
 * Runs `argv` with the cluster view at DIR bound over /proc, and exits as it exits
 * (128 + signal when it is killed). With gproc-kill.so in LD_PRELOAD, kill(2) on a gpid
 * (pkill, a shell's kill, os.kill) becomes a write to its ctl.
 * @throws CliError when DIR holds no cluster view.
 */
export async function execInView(dir: string, argv: string[]): Promise<never> {
  if (!existsSync(`${dir}/sys/kernel/pid_max`) || !existsSync(`${dir}/nodes`)) {
    throw new CliError(`no cluster view at ${dir} (is "gproc mount" or "gproc up" running?)`);
  }
  if (process.getuid?.() !== 0) throw new CliError('gproc exec needs root (it mounts the view over /proc in a namespace of its own)');
  const env = { ...process.env };
  if (existsSync(KILL_LIBRARY)) env.LD_PRELOAD = [KILL_LIBRARY, env.LD_PRELOAD].filter(Boolean).join(':');
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', 'mount --bind "$1" /proc && shift && exec "$@"', 'gproc exec', dir, ...argv],
    { stdio: 'inherit', env },
  );
  for (const sig of TERMINATING_SIGNALS) process.on(sig, () => child.kill(sig));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', (err) => reject(new CliError(`cannot run unshare: ${err.message}`)));
    child.once('exit', (c, s) => resolve([c, s]));
  });
  process.exit(code ?? killedStatus(signal ?? ''));
}

export function register(program: Command): void {
  program
    .command('exec')
    .description('run CMD with the cluster view as its /proc: gproc exec -- top -b -n1')
    .option('--mount <dir>', 'the cluster view to use', defaults.mountPoint)
    .argument('<cmd...>', 'command and arguments (after --)')
    .passThroughOptions()
    .action(action((cmd: string[], opts: { mount: string }) => execInView(opts.mount, cmd)));

  program
    .command('ps')
    .description('ps over the cluster view: gproc ps -eo pid,ppid,comm (default: -ef)')
    .option('--mount <dir>', 'the cluster view to use', defaults.mountPoint)
    .argument('[args...]', 'arguments for ps')
    .passThroughOptions()
    .allowUnknownOption()
    .helpOption('--gproc-help', 'display help for gproc ps')
    .action(action((args: string[], opts: { mount: string }) => execInView(opts.mount, ['ps', ...(args.length ? args : ['-ef'])])));
}
