/**
 * The gproc command's description: every subcommand with its options and arguments, as
 * commander holds them. main.ts parses the command line with it; the build's man page and
 * bash completion (src/cli/man.ts) are written from the same object, so `gproc --help`,
 * gproc(1) and the completion cannot disagree.
 */
import { Command } from 'commander';
import { VERSION } from '../version';
import * as agent from './agent';
import * as certs from './certs';
import * as exec from './exec';
import * as mount from './mount';
import * as nodes from './nodes';
import * as kill from './kill';
import * as run from './run';
import * as up from './up';
import * as wait from './wait';

/** The `gproc` program with every subcommand registered (nothing is run or loaded yet). */
export function buildProgram(): Command {
  const program = new Command('gproc')
    .description('a global /proc for a cluster of Linux machines')
    .version(VERSION)
    .enablePositionalOptions();
  for (const cmd of [agent, mount, exec, up, run, wait, kill, nodes, certs]) cmd.register(program);
  return program;
}
