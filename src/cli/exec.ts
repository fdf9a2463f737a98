/**
 * `gproc exec [--mount DIR] -- CMD ARGS` and `gproc ps [PS ARGS]` (spec section 3): run an
 * unmodified tool in a private mount namespace whose /proc is the cluster view, and whose
 * kill(2) reaches global PIDs. Any user may: the namespace is built by dist/gproc-exec, a
 * small set-user-ID-root helper (src/native/gproc-exec.c) that checks DIR is root's gproc
 * view, binds it over /proc and drops root before it runs the tool as the caller.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaults } from '../defaults';
import { killedStatus } from '../exit-status';
import { TERMINATING_SIGNALS } from '../signals';
import { action, CliError } from './common';

/** The kill(2) wrapper built next to the command (src/native/gproc-kill.c). */
const KILL_LIBRARY = join(__dirname, 'gproc-kill.so');
/** The set-user-ID-root helper built next to the command (src/native/gproc-exec.c). */
const HELPER = join(__dirname, 'gproc-exec');

/**
 * What glibc removes from the environment of a set-user-ID program (unsecvars.h: every
 * LD_* and these), plus GLIBC_TUNABLES and MALLOC_CHECK_, which it filters too. They
 * travel to the helper as GPROC_ENV_<NAME>, which it turns back into <NAME> once it has
 * dropped root.
 */
const STRIPPED = new Set([
  'GCONV_PATH',
  'GETCONF_DIR',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'MALLOC_TRACE',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
  'TMPDIR',
  'TZDIR',
  'GLIBC_TUNABLES',
  'MALLOC_CHECK_',
]);
const WRAP = 'GPROC_ENV_';

/**
 * The helper's environment for a tool that should see `env`: the variables glibc would
 * strip, and any GPROC_ENV_* of the caller's own (which the helper would otherwise
 * unwrap), are wrapped.
 */
export function wrapEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const wrap = name.startsWith('LD_') || STRIPPED.has(name) || name.startsWith(WRAP);
    out[wrap ? WRAP + name : name] = value;
  }
  return out;
}

/** @throws CliError unless the helper is there, owned by root and set-user-ID. */
function checkHelper(): void {
  const st = existsSync(HELPER) ? statSync(HELPER) : undefined;
  if (!st || !st.isFile() || st.uid !== 0 || (st.mode & 0o4000) === 0) {
    throw new CliError(
      `${HELPER} is ${st ? 'not set-user-ID root' : 'missing'}: run "make build" as root`,
    );
  }
}

/**
 * Runs `argv` with the cluster view at DIR bound over /proc, and exits as it exits
 * (128 + signal when it is killed). With gproc-kill.so in LD_PRELOAD, kill(2) on a gpid
 * (pkill, a shell's kill, os.kill) becomes a write to its ctl.
 * @throws CliError when DIR holds no cluster view, or the helper is not installed.
 */
export async function execInView(dir: string, argv: string[]): Promise<never> {
  if (!existsSync(`${dir}/sys/kernel/pid_max`) || !existsSync(`${dir}/nodes`)) {
    throw new CliError(`no cluster view at ${dir} (is "gproc mount" or "gproc up" running?)`);
  }
  checkHelper();
  const env = { ...process.env };
  if (existsSync(KILL_LIBRARY))
    env.LD_PRELOAD = [KILL_LIBRARY, env.LD_PRELOAD].filter(Boolean).join(':');
  const child = spawn(HELPER, [dir, '--', ...argv], {
    stdio: 'inherit',
    env: wrapEnvironment(env),
  });
  for (const sig of TERMINATING_SIGNALS) process.on(sig, () => child.kill(sig));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
    (resolve, reject) => {
      child.once('error', (err) => reject(new CliError(`cannot run ${HELPER}: ${err.message}`)));
      child.once('exit', (c, s) => resolve([c, s]));
    },
  );
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
    .action(
      action((args: string[], opts: { mount: string }) =>
        execInView(opts.mount, ['ps', ...(args.length ? args : ['-ef'])]),
      ),
    );
}
