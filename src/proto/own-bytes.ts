/**
 * Records that own their bytes. protobufjs decodes a `bytes` field as a view of the
 * received message, so one kept field keeps the whole message alive: a mount's replica
 * held every full table it was sent (about 3.4 KB per process: 6.7 MB for 2,000) for as
 * long as any process of it stayed unchanged, and a rendered file that pinned a
 * `cmdline` held the message it came from (native-notes/performance.md, "Stop 18").
 * These functions copy a record's fields into one buffer of their own, sized exactly
 * (not Node's shared 8 KiB pool: one kept slice of a pool slab keeps the slab), and point
 * the fields at it. The record is changed in place and returned.
 */
import { SNAPSHOT_FILES, THREAD_FILES } from '../procfs/files';
import type { NodeInfo__Output } from './gen/gproc/v1/NodeInfo';
import type { NodeFiles__Output } from './gen/gproc/v1/NodeFiles';
import type { Process__Output } from './gen/gproc/v1/Process';

/** Copies `fields` of each of `records` into one new buffer and points them at it. */
function pack<T extends object>(records: readonly T[], fields: readonly (keyof T)[]): void {
  let total = 0;
  for (const r of records) for (const f of fields) total += (r[f] as Buffer).length;
  const block = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const r of records) {
    for (const f of fields) {
      const start = at;
      at += (r[f] as Buffer).copy(block, at);
      (r as Record<keyof T, Buffer>)[f] = block.subarray(start, at);
    }
  }
}

/** A process record (and its threads' files) in one buffer of its own (bytes: its files' total). */
export function ownProcessBytes(p: Process__Output): Process__Output {
  pack([p], SNAPSHOT_FILES);
  if (p.threads.length) pack(p.threads, THREAD_FILES);
  return p;
}

const NODE_FILES: readonly (keyof NodeFiles__Output)[] = [
  'uptime',
  'stat',
  'meminfo',
  'loadavg',
  'cpuinfo',
  'osrelease',
  'schedAutogroupEnabled',
];

/** A node's info whose node-wide files are in one buffer of their own. */
export function ownNodeBytes(info: NodeInfo__Output): NodeInfo__Output {
  if (info.files) pack([info.files], NODE_FILES);
  return info;
}
