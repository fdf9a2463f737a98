/**
 * `gproc certs [--out DIR] [--node N]` (spec section 7): makes the cluster's own CA (once)
 * and, signed by it, one key and certificate per node, with openssl(1). A node's certificate
 * names its node id (subject alternative name `URI:urn:gproc:node:<id>`, see
 * src/identity/certificate.ts) and its host, and serves as both its server and its client
 * certificate. Public files (the certificates) are readable by everyone, keys by root only.
 * The command prints the cluster file's "tls" section (for every node at once, `{name}`
 * standing for the node that reads it). With etcd membership (no `nodes` list) it makes one
 * certificate at a time, for `--node ID --name NAME --address HOST:PORT`: a node, a login
 * host (an id no agent registers) or etcd itself.
 */
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import {
  checkNode,
  findNode,
  splitAddress,
  tlsFor,
  type NodeConfig,
  type TlsConfig,
} from '../config';
import { defaults } from '../defaults';
import { nodeUri } from '../identity/certificate';
import { action, CliError, clusterConfig, withConfig } from './common';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT')
      throw new CliError('openssl is not installed (Debian: apt-get install openssl)');
    throw new CliError(
      `openssl ${args[0]} failed: ${e.stderr?.toString().trim().split('\n').pop()}`,
    );
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes node `node`'s key and certificate in `dir` (which holds the CA). */
function nodeCertificate(dir: string, node: NodeConfig, days: string): void {
  const { host } = splitAddress(node.address);
  const san = [isIP(host) ? `IP:${host}` : `DNS:${host}`, `URI:${nodeUri(node.id)}`].join(',');
  const ext = join(dir, `${node.name}.ext`);
  const csr = join(dir, `${node.name}.csr`);
  writeFileSync(
    ext,
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  const key = join(dir, `${node.name}.key`);
  const cert = join(dir, `${node.name}.pem`);
  openssl(['req', ...EC, '-keyout', key, '-out', csr, '-subj', `/O=gproc/CN=${node.name}`], dir);
  chmodSync(key, 0o600);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      days,
      '-extfile',
      ext,
    ],
    dir,
  );
  chmodSync(cert, 0o644);
  rmSync(ext);
  rmSync(csr);
}

/**
 * Makes the CA in `dir` (unless there is one) and a key and certificate for each of `nodes`.
 * @returns the tls section for them all (`{name}` standing for the node that reads it).
 * @throws CliError when openssl is missing or fails.
 */
export function makeCertificates(dir: string, nodes: NodeConfig[], days = '825'): TlsConfig {
  // The directory and the certificates are public; the keys are root's alone. openssl
  // writes each key with the umask's mode before the chmod: 077 leaves no moment in
  // which another user could open one.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const umask = process.umask(0o077);
  try {
    makeAll(dir, nodes, days);
  } finally {
    process.umask(umask);
  }
  return { ca: join(dir, 'ca.pem'), cert: join(dir, '{name}.pem'), key: join(dir, '{name}.key') };
}

/**
 * Makes `dir` and the files `makeCertificates` wrote there root's own (spec section 8):
 * owner root:root, the directory 0755, keys 0600, certificates 0644.
 * @returns the paths it set, keys first.
 * @throws CliError unless this process is root (only root can give files to root).
 */
export function installAsRoot(dir: string, nodes: NodeConfig[]): string[] {
  if (process.geteuid?.() !== 0)
    throw new CliError('--install writes root-only keys: run it as root (sudo gproc certs ...)');
  const keys = ['ca.key', ...nodes.map((n) => `${n.name}.key`)].map((f) => join(dir, f));
  const certs = ['ca.pem', ...nodes.map((n) => `${n.name}.pem`)].map((f) => join(dir, f));
  chownSync(dir, 0, 0);
  chmodSync(dir, 0o755);
  for (const [files, mode] of [
    [keys, 0o600],
    [certs, 0o644],
  ] as const) {
    for (const f of files) {
      chownSync(f, 0, 0);
      chmodSync(f, mode);
    }
  }
  return [...keys, ...certs];
}

function makeAll(dir: string, nodes: NodeConfig[], days: string): void {
  if (!existsSync(join(dir, 'ca.pem'))) {
    openssl(
      [
        'req',
        '-x509',
        ...EC,
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        '3650',
        '-subj',
        '/O=gproc/CN=gproc cluster CA',
      ],
      dir,
    );
    chmodSync(join(dir, 'ca.key'), 0o600);
    chmodSync(join(dir, 'ca.pem'), 0o644);
  }
  for (const n of nodes) nodeCertificate(dir, n, days);
}

export function register(program: Command): void {
  withConfig(program.command('certs'))
    .description(
      "make the cluster's CA and a key and certificate per node (mutual TLS), and print each node's tls section",
    )
    .option(
      '--out <dir>',
      'directory for ca.pem, ca.key and <node>.pem, <node>.key',
      defaults.configDir,
    )
    .option(
      '--node <id|name>',
      'a certificate for this node only (default: every node of the cluster file)',
    )
    .option('--days <n>', 'validity of the node certificates, days', '825')
    .option(
      '--install',
      "make them root's own, as the installed units expect: owner root, the directory 0755, keys 0600, certificates 0644 (run as root)",
    )
    .option(
      '--name <name>',
      'with "membership" (etcd), where nodes are not listed: the name of node --node (or of a login host, or of etcd)',
    )
    .option('--address <host:port>', 'with "membership": the address the certificate names')
    .action(
      action(
        (opts: {
          config?: string;
          out: string;
          node?: string;
          days: string;
          install?: boolean;
          name?: string;
          address?: string;
        }) => {
          const config = clusterConfig(opts);
          const dir = resolve(opts.out);
          const nodes = config.membership
            ? [unlistedNode(opts)]
            : opts.node
              ? [findNode(config, opts.node)]
              : config.nodes;
          if (opts.install && process.geteuid?.() !== 0)
            throw new CliError(
              '--install writes root-only keys: run it as root (sudo gproc certs ...)',
            );
          const all = makeCertificates(dir, nodes, opts.days);
          if (opts.install) installAsRoot(dir, nodes);
          const tls = opts.node ? tlsFor(all, nodes[0]) : all;
          process.stdout.write(`${JSON.stringify({ tls }, null, 2)}\n`);
        },
      ),
    );
}

/**
 * The node a certificate is made for when the cluster file lists none (its nodes register
 * through etcd): --node ID, --name and --address, all required.
 * @throws CliError naming what is missing or wrong.
 */
function unlistedNode(opts: { node?: string; name?: string; address?: string }): NodeConfig {
  if (!opts.node || !opts.name || !opts.address)
    throw new CliError(
      'the cluster file has "membership": give --node ID, --name and --address of the certificate to make',
    );
  return checkNode(
    { id: Number(opts.node), name: opts.name, address: opts.address },
    'certificate',
    (key, why) => {
      const field = key.split('.')[1] ?? 'id';
      throw new CliError(`--${field === 'id' ? 'node' : field}: ${why}`);
    },
  );
}
