// Copies the non-TypeScript files the build needs next to the compiled code.
const { cpSync, chmodSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..');
cpSync(join(root, 'src/proto/gproc.proto'), join(root, 'dist/proto/gproc.proto'));
chmodSync(join(root, 'dist/cli/main.js'), 0o755);
