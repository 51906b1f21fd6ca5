/** Writes schemas/bt-flywheel-summary.schema.json from the zod source (schemas/summary.ts). `--check` fails if the committed file is stale. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';
import { summaryJsonSchemaText } from '../schemas/summary.js';

const target = join(packageRoot, 'schemas', 'bt-flywheel-summary.schema.json');
const text = summaryJsonSchemaText();

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    console.error(`${target} is stale; run npm run gen:schema`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  await writeFile(target, text);
  console.log(`wrote ${target}`);
}
