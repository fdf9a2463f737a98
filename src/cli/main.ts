#!/usr/bin/env node
/**
 * The gproc command. Each subcommand lives in its own module and loads what it needs only
 * when it runs, so short commands (gproc run, gproc kill) start fast.
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

// grpc-js names IP addresses as TLS server names, which Node flags as deprecated (DEP0123)
// on every connection; that is not the user's business.
process.noDeprecation = true;

const program = new Command('gproc')
  .description('a global /proc for a cluster of Linux machines')
  .version(VERSION)
  .enablePositionalOptions();

for (const cmd of [agent, mount, exec, up, run, wait, kill, nodes, certs]) cmd.register(program);

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`gproc: ${err instanceof Error ? err.message : err}\n`);
  process.exit(1);
});
