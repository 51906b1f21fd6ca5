/**
 * Issue 9 (a run's history ≤ 256 KB, flat in trace volume): what the workflow holds and sends instead of the big
 * payloads, and that the activities reading the run directory give back exactly what was left out.
 *
 * - Discover's queries go by number: no query text in what enters history; diagnose() of the numbered evidence, texts
 *   put back from the file, is diagnose() of the whole evidence; the handoff recomputes it (digest) and quotes them.
 * - A change brief's routes and findings go by reference (the diagnosis recomputed from the evidence file), unless they
 *   are not the diagnosis' own.
 * - Eval results without their rows file are completed from their stored file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveBrief } from '../src/activities/brief-ref.js';
import type { BriefInput } from '../src/activities/change-agent.js';
import { numbered, withQueryTexts } from '../src/activities/evidence-file.js';
import { createActivities } from '../src/activities/index.js';
import { resolveStored, storeResult } from '../src/activities/stored.js';
import type { HandoffInput } from '../src/handoff/index.js';
import { byReference } from '../src/workflows/by-reference.js';
import { briefFindings, routesByReference, type DiagnosisSource } from '../src/workflows/logic/brief-ref.js';
import { diagnose } from '../src/workflows/logic/diagnose.js';
import { textDigest } from '../src/workflows/logic/digest.js';
import type { EvalResult } from '../src/workflows/logic/evidence.js';
import { expandQueries, numberQueries } from '../src/workflows/logic/query-table.js';
import { routeForNext } from '../src/workflows/plan.js';
import type { OrientContext } from '../src/workflows/types.js';

const dir = mkdtempSync(join(tmpdir(), 'history-ref-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const input = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'handoff', 'example-support.handoff-input.json'), 'utf8')) as HandoffInput;
const evidence = input.evidence!;
const acts = createActivities({ btEnv: { PATH: process.env.PATH ?? '' } });
const opts = { binaryScores: ['no_tool_error'], primaryScore: 'answer_quality', coverageGapRoutes: true };

/** Every string value under a `query` key. */
function queryTexts(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => queryTexts(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (k === 'query' && typeof x === 'string' ? out.push(x) : queryTexts(x, out));
  return out;
}

function writeEvidence(name: string): { path: string; sha256: string } {
  const text = `${JSON.stringify(evidence, null, 2)}\n`;
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, sha256: createHash('sha256').update(text).digest('hex') };
}

describe('Discover queries by number', () => {
  it('the numbered evidence holds no query text; each text is numbered once; expanding gives the evidence back', () => {
    const texts = queryTexts(evidence).filter((q) => q !== '');
    // The example's evidence repeats its grouped queries (one per cohort): the case this is for.
    expect(new Set(texts).size).toBeLessThan(texts.length);
    const { numbered: n, table } = numberQueries(evidence);
    expect(queryTexts(n).filter((q) => q !== '')).toEqual([]);
    expect(table).toEqual([...new Set(texts)]);
    expect(n.queriesByNumber).toBe(true);
    expect(JSON.stringify(expandQueries(n, table))).toBe(JSON.stringify(evidence));
    expect(JSON.stringify(n).length).toBeLessThan(JSON.stringify(evidence).length * 0.8);
  });

  it.each([true, false])('diagnose() of the numbered evidence, texts put back, is diagnose() of the whole evidence (coverage-gap routes %s)', (coverageGapRoutes) => {
    const o = { ...opts, coverageGapRoutes };
    const whole = diagnose(evidence, o);
    const { evidence: n, table } = numbered(evidence);
    const fromNumbers = diagnose(n, o);
    expect(fromNumbers.findings.every((f) => f.query === undefined && typeof f.queryNo === 'number')).toBe(true);
    expect(fromNumbers.routes).toEqual(whole.routes);
    expect(withQueryTexts(fromNumbers, table)).toEqual(whole);
  });

  it('the handoff recomputes the numbered diagnosis from the evidence file (digest matches) and quotes every query', async () => {
    const evidenceFile = writeEvidence('evidence-numbered.json');
    const whole = diagnose(evidence, opts);
    const inline = await acts.writeHandoff({ input: { ...input, diagnosis: whole }, outDir: join(dir, 'numbered-inline') });
    // What the workflow holds: the diagnosis of the numbered evidence, and a recipe saying so.
    const acted = diagnose(numbered(evidence).evidence, opts);
    const recipe = { ...opts, queriesByNumber: true, digest: textDigest(JSON.stringify(acted)) };
    const byRef = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile, diagnosis: null }, outDir: join(dir, 'numbered-ref'), diagnosisOf: recipe });
    const strip = (p: string) => ({ ...(JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>), timestamp: null });
    expect(strip(byRef.summaryPath)).toEqual(strip(inline.summaryPath));
    // Sent whole (a diagnosis the evidence does not give back): the texts come from the file all the same.
    const sentWhole = await acts.writeHandoff({ input: { ...input, evidence: null, evidenceFile, diagnosis: acted }, outDir: join(dir, 'numbered-whole') });
    expect(strip(sentWhole.summaryPath)).toEqual(strip(inline.summaryPath));
  });
});

describe("a change brief's routes by reference", () => {
  const evidenceFile = writeEvidence('evidence-brief.json');
  const diagnosis = diagnose(numbered(evidence).evidence, opts);
  const source: DiagnosisSource = { evidenceFile, ...opts, queriesByNumber: true, digest: textDigest(JSON.stringify(diagnosis)) };
  const ctx = { appUrl: 'http://127.0.0.1:1', org: 'local', project: { id: 'p', name: 'support-agent' }, runDir: dir } as OrientContext;

  it("the diagnosis' own routes go by id; the activity gets the same routes and findings back", async () => {
    const routes = diagnosis.routes.filter((r) => r.artifact === 'agent');
    expect(routes.length).toBeGreaterThan(0);
    const ref = routesByReference(routes, diagnosis, source);
    expect(ref?.routeIds).toEqual(routes.map((r) => r.id));
    const whole: BriefInput = { ctx, goal: 'g', iteration: 1, artifact: 'agent', routes, findings: briefFindings(diagnosis, routes) };
    const sent = { ...whole, routes: [], findings: [], routesRef: ref! };
    // What enters history: no route or finding text.
    expect(JSON.stringify(sent)).not.toContain(routes[0]!.title);
    expect(await resolveBrief(sent)).toEqual(whole);
  });

  it('a route made up after Verify, or no way to recompute, goes whole; a changed evidence file fails the brief', async () => {
    const madeUp = routeForNext('instrumentation', 'a new failure pattern', { ...diagnosis, routes: [] }, 2);
    expect(routesByReference([madeUp], diagnosis, source)).toBeNull();
    expect(routesByReference(diagnosis.routes.slice(0, 1), diagnosis, null)).toBeNull();
    const ref = routesByReference(diagnosis.routes.slice(0, 1), diagnosis, source)!;
    writeFileSync(evidenceFile.path, readFileSync(evidenceFile.path, 'utf8').replace('"traffic"', '"traffic" '));
    const brief = { ctx, goal: 'g', iteration: 1, artifact: 'agent' as const, routes: [], findings: [], routesRef: ref };
    await expect(resolveBrief(brief)).rejects.toThrow(/changed after Discover wrote it/);
  });
});

describe('eval results without their rows file', () => {
  it('go to activities as a reference and come back whole from the stored file', async () => {
    const e = input.evals[0]! as EvalResult;
    expect(e.rowsFile).toBeTruthy();
    const slim = await storeResult(join(dir, 'evals', 'slim.json'), 'eval', { ...e, distributions: e.distributions ?? [] }, ['rowsFile', 'url', 'distributions']);
    expect(Object.keys(slim)).not.toContain('rowsFile');
    expect(Object.keys(slim)).not.toContain('distributions');
    // What the workflow sends: the reference; what a direct caller passes: the slim result. Both resolve whole.
    expect((byReference({ next: slim }).next as Record<string, unknown>).experimentId).toBeUndefined();
    const viaRef = await resolveStored(byReference({ next: slim }));
    const direct = await resolveStored({ next: slim });
    for (const got of [viaRef.next, direct.next] as unknown as EvalResult[]) {
      expect(got.rowsFile).toEqual(e.rowsFile);
      expect(got.url).toBe(e.url);
    }
  });
});

