/** The pre-built workflow bundle is used only while it is at least as new as every workflow source. */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { prebuiltBundle } from '../src/workflow-bundle.js';

const root = mkdtempSync(join(tmpdir(), 'bundle-fresh-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('fresh bundle → used; a source edited after it → ignored (sources are bundled instead); no bundle → ignored', () => {
  const src = join(root, 'src');
  mkdirSync(join(src, 'workflows'), { recursive: true });
  mkdirSync(join(root, 'schemas'));
  const wf = join(src, 'workflows', 'index.js');
  const dep = join(src, 'logic.js');
  const schema = join(root, 'schemas', 'input.js');
  const bundle = join(root, 'workflow-bundle.js');
  const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);
  for (const f of [wf, dep, schema]) writeFileSync(f, '');
  expect(prebuiltBundle(wf, bundle)).toBeUndefined();
  writeFileSync(bundle, '');
  for (const f of [wf, dep, schema]) at(f, 1_000);
  at(bundle, 2_000);
  expect(prebuiltBundle(wf, bundle)).toEqual({ codePath: bundle });
  at(dep, 3_000); // a module the workflow imports, outside workflows/
  expect(prebuiltBundle(wf, bundle)).toBeUndefined();
  at(dep, 1_000);
  at(schema, 3_000); // the input schema the workflow parses
  expect(prebuiltBundle(wf, bundle)).toBeUndefined();
});
