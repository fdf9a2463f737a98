/**
 * Waiting for something to become true (an agent that answers, a mount that appears):
 * one loop for the CLI, the benchmarks and the tests.
 */

/**
 * Calls `check` every `intervalMs` until it returns a value other than undefined or false;
 * a throw counts as "not yet".
 * @returns that value.
 * @throws Error "timed out waiting for <what>: <last error>" after `timeoutMs`.
 */
export async function pollUntil<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
