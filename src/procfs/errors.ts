/**
 * A /proc file whose text does not follow proc(5). Carries the file and the 1-based line
 * so that a message points at the bad input ("/proc/42/stat:1: no ')' after comm").
 */
export class ProcParseError extends Error {
  override name = 'ProcParseError';
  constructor(
    /** Path or name of the file that was parsed. */
    readonly file: string,
    /** 1-based line of the problem (1 for one-line files). */
    readonly line: number,
    reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

/** Parses a decimal field; throws ProcParseError naming the field when it is not a number. */
export function parseIntField(
  text: string | undefined,
  file: string,
  line: number,
  what: string,
): number {
  if (text === undefined || !/^-?\d+$/.test(text)) {
    throw new ProcParseError(
      file,
      line,
      `${what} is not an integer: ${JSON.stringify(text ?? '(missing)')}`,
    );
  }
  return Number(text);
}
