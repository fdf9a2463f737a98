/**
 * /proc/cpuinfo: one block of `key\t: value` lines per CPU, blocks separated by a blank
 * line, each starting with `processor\t: N`.
 */

/** Splits cpuinfo into its per-CPU blocks (each without the separating blank line). */
export function splitCpuinfo(content: Buffer | string): string[] {
  return content
    .toString('latin1')
    .split('\n\n')
    .filter((b) => b.trim() !== '');
}

/** Gives a block the processor number `n` (cpuinfo of several nodes numbered across the cluster). */
export function renumberCpuBlock(block: string, n: number): string {
  return block.replace(/^processor\t: \d+$/m, `processor\t: ${n}`);
}
