#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (setup does this).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../dist/src/starter.js', import.meta.url));
if (!existsSync(entry)) {
  console.error('flywheel: the CLI is not built yet. Run `npm run build` (or `bash scripts/setup.sh`) in the project directory first.');
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
