/**
 * `gproc certs --out DIR [--node N]` (spec section 7): makes the cluster's own CA and a
 * certificate signed by it, with openssl(1), for mutually authenticated TLS between agents
 * and their clients. The certificate names every host of the cluster file (or node N's
 * only) plus localhost, and serves as both server and client certificate. The command
 * prints the "tls" section to put in the cluster file.
 */
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { findNode, splitAddress } from '../config';
import { action, CliError, clusterConfig, withConfig } from './common';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new CliError('openssl is not installed (Debian: apt-get install openssl)');
    throw new CliError(`openssl ${args[0]} failed: ${e.stderr?.toString().trim().split('\n').pop()}`);
  }
}

export function register(program: Command): void {
  withConfig(program.command('certs'))
    .description("make the cluster's CA and a certificate for its nodes (mutual TLS), and print the tls section")
    .requiredOption('--out <dir>', 'directory for ca.pem, ca.key, node.pem, node.key')
    .option('--node <id|name>', 'a certificate for this node only (default: every node of the cluster file)')
    .option('--days <n>', 'validity of the node certificate, days', '825')
    .action(
      action((opts: { config?: string; out: string; node?: string; days: string }) => {
        const config = clusterConfig(opts);
        const dir = resolve(opts.out);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const nodes = opts.node ? [findNode(config, opts.node)] : config.nodes;
        const hosts = new Set(['localhost', '127.0.0.1', ...nodes.map((n) => splitAddress(n.address).host)]);
        const san = [...hosts].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
        const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
        if (!existsSync(`${dir}/ca.pem`)) {
          openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650', '-subj', '/CN=gproc cluster CA'], dir);
        }
        writeFileSync(
          `${dir}/node.ext`,
          `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
        );
        openssl(['req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=gproc node'], dir);
        openssl(
          ['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem', '-days', opts.days, '-extfile', 'node.ext'],
          dir,
        );
        const tls = { ca: `${dir}/ca.pem`, cert: `${dir}/node.pem`, key: `${dir}/node.key` };
        process.stdout.write(`${JSON.stringify({ tls }, null, 2)}\n`);
      }),
    );
}
