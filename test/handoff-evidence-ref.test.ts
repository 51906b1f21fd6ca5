/**
 * The handoff takes Discover's evidence by reference (the file Discover wrote, checked by sha256) instead of a
 * second copy in history: same summary as with the evidence inline; a file gone or changed since still gets a
 * handoff, without the evidence and saying why.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import type { HandoffInput } from '../src/handoff/index.js';

const dir = mkdtempSync(join(tmpdir(), 'evidence-ref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const input = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'handoff', 'example-support.handoff-input.json'), 'utf8')) as HandoffInput;
const acts = createActivities({ btEnv: { PATH: process.env.PATH ?? '' } });
const summaryAt = (path: string) => {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete s.timestamp;
  return s;
};

it('by reference: the same summary as inline; a changed or missing file: a handoff without it, saying why', async () => {
  const text = JSON.stringify(input.evidence);
  const path = join(dir, 'evidence.json');
  writeFileSync(path, text);
  const ref = { path, sha256: createHash('sha256').update(text).digest('hex') };
  const inline = await acts.writeHandoff({ input, outDir: join(dir, 'inline') });
  const byRef = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile: ref }, outDir: join(dir, 'ref') });
  expect(summaryAt(byRef.summaryPath)).toEqual(summaryAt(inline.summaryPath));

  writeFileSync(path, text.replace('"traces"', '"traces" '));
  const changed = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile: ref }, outDir: join(dir, 'changed') });
  expect(JSON.stringify(JSON.parse(readFileSync(changed.summaryPath, 'utf8')).run)).toContain('changed after Discover wrote it');
  rmSync(path);
  const missing = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile: ref }, outDir: join(dir, 'missing') });
  expect(readFileSync(missing.summaryPath, 'utf8')).toContain('is not in this handoff: it cannot be read');
});
