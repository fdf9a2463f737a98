#!/usr/bin/env node
/**
 * The gproc command. Each subcommand lives in its own module (registered by program.ts) and
 * loads what it needs only when it runs, so short commands (gproc run, gproc kill) start fast.
 */
import { buildProgram } from './program';

// grpc-js names IP addresses as TLS server names, which Node flags as deprecated (DEP0123)
// on every connection; that is not the user's business.
process.noDeprecation = true;

buildProgram()
  .parseAsync(process.argv)
  .catch((err) => {
    process.stderr.write(`gproc: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
  });
