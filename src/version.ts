/** gproc's version, from package.json (the same path from src/ and dist/). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VERSION: string = (
  JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;
