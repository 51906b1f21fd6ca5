/**
 * The handoff takes Discover's evidence by reference (the file Discover wrote, checked by sha256) instead of a
 * second copy in history: same summary as with the evidence inline; a file gone or changed since still gets a
 * handoff, without the evidence and saying why. The same for eval results, which the workflow sends by reference
 * (src/workflows/by-reference.ts).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { storeResult } from '../src/activities/stored.js';
import type { HandoffInput } from '../src/handoff/index.js';
import { byReference } from '../src/workflows/by-reference.js';
import { diagnose } from '../src/workflows/logic/diagnose.js';
import { textDigest } from '../src/workflows/logic/digest.js';

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

it('eval results and the baseline by reference (as the workflow sends them): the same summary; a changed one is left out, saying why', async () => {
  // As runEval / loadBaseline return them: written to the run directory, with `stored`.
  const evals = await Promise.all(input.evals.map(async ({ iteration, ...e }, i) => ({ ...(await storeResult(join(dir, 'evals', `${i}.json`), 'eval', e)), iteration })));
  const baseline = input.baseline ? await storeResult(join(dir, 'evals', 'baseline.json'), 'eval', input.baseline) : null;
  const sent = byReference({ input: { ...input, evals, baseline }, outDir: join(dir, 'evals-ref') });
  // Only references (and the iteration the workflow added) travel.
  expect(sent.input.evals.every((e) => Object.keys(e).sort().join() === (e.iteration === undefined ? 'stored' : 'iteration,stored'))).toBe(true);
  expect(JSON.stringify(sent.input.evals).length).toBeLessThan(JSON.stringify(input.evals).length / 2);
  const inline = await acts.writeHandoff({ input, outDir: join(dir, 'evals-inline') });
  const byRef = await acts.writeHandoff(sent);
  expect(summaryAt(byRef.summaryPath)).toEqual(summaryAt(inline.summaryPath));

  writeFileSync(evals[2]!.stored.path, readFileSync(evals[2]!.stored.path, 'utf8').replace('"scores"', '"scores" '));
  const changed = await acts.writeHandoff({ ...sent, outDir: join(dir, 'evals-changed') });
  const text = readFileSync(changed.summaryPath, 'utf8');
  expect(text).toContain(`the eval result ${evals[2]!.stored.path} is not in this handoff: it changed after it was written`);
  expect(text).not.toContain(`"${evals[2]!.experimentId}"`);
  expect(text).toContain(evals[3]!.experimentId);
});

it('the diagnosis is recomputed from the evidence by reference (checked by digest) instead of sent: the same summary', async () => {
  const text = JSON.stringify(input.evidence);
  const path = join(dir, 'evidence-diag.json');
  writeFileSync(path, text);
  const evidenceFile = { path, sha256: createHash('sha256').update(text).digest('hex') };
  const opts = { binaryScores: ['no_tool_error'], primaryScore: 'answer_quality' };
  // What the workflow computed and acted on.
  const diagnosis = diagnose(input.evidence!, opts);
  expect(diagnosis.findings.length).toBeGreaterThan(0);
  const inline = await acts.writeHandoff({ input: { ...input, diagnosis }, outDir: join(dir, 'diag-inline') });
  const recipe = { ...opts, digest: textDigest(JSON.stringify(diagnosis)) };
  const byRef = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile, diagnosis: null }, outDir: join(dir, 'diag-ref'), diagnosisOf: recipe });
  expect(summaryAt(byRef.summaryPath)).toEqual(summaryAt(inline.summaryPath));
  expect(readFileSync(byRef.summaryPath, 'utf8')).toContain(diagnosis.findings[0]!.title.slice(0, 40));

  // Another release's diagnose() gives another result: used, and said.
  const other = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile, diagnosis: null }, outDir: join(dir, 'diag-other'), diagnosisOf: { ...recipe, digest: '0000000000000000' } });
  expect(readFileSync(other.summaryPath, 'utf8')).toContain('differs from the one the run acted on');
  // No evidence, no diagnosis: said.
  rmSync(path);
  const none = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile, diagnosis: null }, outDir: join(dir, 'diag-none'), diagnosisOf: recipe });
  expect(readFileSync(none.summaryPath, 'utf8')).toContain('the diagnosis is not in this handoff');
});
