// Measurement-route judgments (pure): which scorers need human labels, which scores contradict behaviour, how the
// contradictions fold into a diagnosis, and how a pulled Braintrust scorer becomes a pushable file.
import { describe, expect, it } from 'vitest';
import { renderScorerFile, slugOf, matchScorerFunction } from '../src/activities/scorers.js';
import type { BtFunction } from '../src/bt/schemas.js';
import type { Diagnosis, Route } from '../src/workflows/logic/diagnose.js';
import {
  CONTRADICTION_THRESHOLDS,
  LABEL_THRESHOLDS,
  contradictionFindings,
  scorersNeedingLabels,
  withContradictions,
  type ScoreBehaviour,
} from '../src/workflows/logic/measurement.js';
import type { PrepareScorersResult, ScorerLocation } from '../src/workflows/types.js';

const loc = (score: string, readsExpected: boolean, extra: Partial<ScorerLocation> = {}): ScorerLocation => ({
  score, where: 'braintrust', localFiles: [], slug: slugOf(score), editable: true, readsExpected, ...extra,
});

describe('scorersNeedingLabels', () => {
  const { minLabeledRows, minLabeledShare } = LABEL_THRESHOLDS;
  it.each([
    ['no label coverage read (no scorer reads expected)', [loc('a', false)], null, []],
    ['reads expected, no labels at all', [loc('a', true)], { rows: 500, labeledRows: 0 }, ['a']],
    ['reads expected, no traffic', [loc('a', true)], { rows: 0, labeledRows: 0 }, ['a']],
    ['reads expected, enough labels', [loc('a', true)], { rows: 100, labeledRows: 50 }, []],
    ['reads expected, share just below', [loc('a', true)], { rows: 1000, labeledRows: Math.ceil(1000 * minLabeledShare) - 1 }, ['a']],
    ['reads expected, share at the threshold', [loc('a', true)], { rows: 1000, labeledRows: Math.ceil(1000 * minLabeledShare) }, []],
    ['reads expected, share fine but too few rows', [loc('a', true)], { rows: minLabeledRows, labeledRows: minLabeledRows - 1 }, ['a']],
    ['only the scorers that read expected, sorted', [loc('z', true), loc('m', false), loc('b', true)], { rows: 10, labeledRows: 0 }, ['b', 'z']],
  ] as const)('%s', (_what, scorers, cov, want) => {
    const prep: PrepareScorersResult = { scorers: [...scorers], labels: cov ? { ...cov, windowDays: 7, query: 'q' } : null };
    const got = scorersNeedingLabels(prep);
    expect(got.map((g) => g.score)).toEqual(want);
    for (const g of got) expect(g.reason).toContain(`${cov!.labeledRows} of ${cov!.rows}`);
  });
});

const sb = (score: string, erroredScored: number, erroredHigh: number, emptyScored = 0, emptyHigh = 0): ScoreBehaviour => ({
  score, erroredScored, erroredHigh, emptyScored, emptyHigh, exampleTraceIds: [`${score}-t1`, `${score}-t2`],
});
const W = { from: '2026-11-24T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', days: 7 };

describe('contradictionFindings', () => {
  const { minRows, minShare, criticalShare } = CONTRADICTION_THRESHOLDS;
  it.each([
    ['nothing errored or empty', [sb('a', 0, 0)], []],
    ['errors scored low', [sb('a', 50, 0)], []],
    ['too few high rows', [sb('a', minRows - 1, minRows - 1)], []],
    ['enough high rows, share below', [sb('a', 100, Math.ceil(100 * minShare) - 1)], []],
    ['share at the threshold: warning', [sb('a', 100, Math.ceil(100 * minShare))], [['a', 'warning']]],
    ['errors and empties add up', [sb('a', 2, 2, 2, 1)], [['a', 'warning']]],
    ['most errors pass: critical', [sb('a', 10, Math.ceil(10 * criticalShare))], [['a', 'critical']]],
    ['several scores, sorted', [sb('z', 5, 5), sb('b', 4, 4), sb('m', 40, 0)], [['b', 'critical'], ['z', 'critical']]],
  ] as const)('%s', (_what, rows, want) => {
    const c = contradictionFindings({ scores: [...rows], query: 'SELECT …' }, W);
    expect(c.findings.map((f) => [f.title.split(' ')[1], f.severity])).toEqual(want);
    expect(c.routes.map((r) => r.id)).toEqual(want.map(([s]) => `measurement:score:${s}`));
    for (const r of c.routes) expect(r.artifact).toBe('measurement');
    for (const f of c.findings) {
      expect(f.window).toEqual(W);
      expect(f.query).toBe('SELECT …');
      expect(f.id).toMatch(/:contradicts_behaviour$/);
    }
  });
});

describe('withContradictions', () => {
  const r = (id: string, artifact: Route['artifact']): Route => ({
    id, artifact, title: id, rationale: '', evidence: [`${id} evidence`], counterevidence: [], confidence: 'medium', targets: [], findingIds: [`f-${id}`], exampleTraceIds: [],
  });
  const diag = (routes: Route[]): Diagnosis => ({ routes, findings: routes.map((x) => ({ id: `f-${x.id}` }) as Diagnosis['findings'][number]), lowConfidence: false, notes: [], primaryScore: 'a', scorerHealth: [] });
  const c = contradictionFindings({ scores: [sb('a', 10, 10)], query: 'q' }, W);

  it.each([
    ['a healthy plan is replaced', [r('none:healthy', 'none')], ['measurement:score:a']],
    ['goes after other measurement routes, before the rest', [r('measurement:score:b', 'measurement'), r('dataset:x', 'dataset'), r('agent:y', 'agent')], ['measurement:score:b', 'measurement:score:a', 'dataset:x', 'agent:y']],
    ['goes first when there is no measurement route', [r('agent:y', 'agent')], ['measurement:score:a', 'agent:y']],
    ['merges into a route for the same scorer', [r('measurement:score:a', 'measurement'), r('agent:y', 'agent')], ['measurement:score:a', 'agent:y']],
  ] as const)('%s', (_what, routes, want) => {
    const out = withContradictions(diag([...routes]), c);
    expect(out.routes.map((x) => x.id)).toEqual(want);
    expect(out.findings.map((f) => f.id)).toContain('quality:a:contradicts_behaviour');
    const a = out.routes.find((x) => x.id === 'measurement:score:a')!;
    expect(a.findingIds).toContain('quality:a:contradicts_behaviour');
  });

  it('merging keeps the existing evidence and adds the contradiction', () => {
    const out = withContradictions(diag([r('measurement:score:a', 'measurement')]), c);
    expect(out.routes[0]!.evidence[0]).toBe('measurement:score:a evidence');
    expect(out.routes[0]!.evidence[1]).toContain('contradicts the behaviour');
  });

  it('no contradictions: the same diagnosis', () => {
    const d = diag([r('none:healthy', 'none')]);
    expect(withContradictions(d, { findings: [], routes: [] })).toBe(d);
  });
});

const fn = (over: Partial<BtFunction>): BtFunction => ({ id: 'f1', name: 'judge', slug: 'judge', project_id: 'p', description: null, function_type: 'scorer', prompt_data: null, function_data: null, ...over }) as BtFunction;
const judgeData = (content: string) => ({
  function_data: { type: 'prompt' },
  prompt_data: { prompt: { type: 'chat', messages: [{ role: 'user', content }] }, options: { model: 'gpt-4o-mini' }, parser: { type: 'llm_classifier', use_cot: false, choice_scores: { Y: 1, N: 0 } } },
});

describe('renderScorerFile', () => {
  it.each([
    ['an LLM judge', judgeData('Rate {{output}}'), 'prompt', true, false],
    ['an LLM judge reading expected', judgeData('Compare {{ expected.answer }} with {{output}}'), 'prompt', true, true],
    ['an LLM judge without a parser', { function_data: { type: 'prompt' }, prompt_data: { prompt: { type: 'chat', messages: [] }, options: { model: 'm' } } }, 'prompt', false, false],
    ['inline Node code', { function_data: { type: 'code', data: { type: 'inline', runtime_context: { runtime: 'node', version: '20' }, code: 'function handler({ output, expected }) { return output === expected ? 1 : 0; }' } } }, 'code_inline', true, true],
    ['inline Python code', { function_data: { type: 'code', data: { type: 'inline', runtime_context: { runtime: 'python', version: '3.12' }, code: 'def handler(output): return 1' } } }, 'code_inline', false, false],
    ['inline code with imports', { function_data: { type: 'code', data: { type: 'inline', runtime_context: { runtime: 'node', version: '20' }, code: "import fs from 'node:fs';\nfunction handler() { return 1; }" } } }, 'code_inline', false, false],
    ['inline code without a handler', { function_data: { type: 'code', data: { type: 'inline', runtime_context: { runtime: 'node', version: '20' }, code: 'const x = 1;' } } }, 'code_inline', false, false],
    ['a bundle pushed elsewhere', { function_data: { type: 'code', data: { type: 'bundle', bundle_id: 'b' } } }, 'code_bundle', false, false],
    ['a global function', { function_data: { type: 'global', name: 'Factuality' } }, 'other', false, false],
  ] as const)('%s', (_what, over, kind, editable, readsExpected) => {
    const r = renderScorerFile(fn(over as Partial<BtFunction>), 'proj');
    expect([r.kind, r.source !== null, r.readsExpected]).toEqual([kind, editable, readsExpected]);
    if (r.source) expect(r.source).toMatch(/project\.scorers\.create\(\{/);
    else expect(r.note).toBeTruthy();
  });

  it('inline code is wrapped so loading the file does not run it', () => {
    const code = "globalThis.loaded = true;\nfunction handler({ output }) { return output ? 1 : 0; }";
    const r = renderScorerFile(fn({ function_data: { type: 'code', data: { type: 'inline', runtime_context: { runtime: 'node', version: '20' }, code } } }), 'proj');
    const body = r.source!.slice(r.source!.indexOf('function storedScorer() {'));
    // Run the file's own code with a stand-in SDK: nothing of the stored code runs at load, the handler works.
    const created: Array<{ handler: (a: unknown) => unknown }> = [];
    const g = globalThis as { loaded?: boolean };
    delete g.loaded;
    new Function('project', body.replace(/\(args: any\)/, '(args)'))({ scorers: { create: (o: { handler: (a: unknown) => unknown }) => created.push(o) } });
    expect(g.loaded).toBeUndefined();
    expect(created[0]!.handler({ output: 'x' })).toBe(1);
    expect(g.loaded).toBe(true);
    delete g.loaded;
  });

  it('hostile names and prompts stay inside comments and string literals', () => {
    const hostile = "x\n}); require('child_process').execSync('touch /tmp/pwned'); ({\u2028// \u2029";
    const r = renderScorerFile(fn({ name: hostile, slug: 'judge', description: hostile, ...judgeData(hostile) }), hostile);
    const lines = r.source!.split(/\r\n|\n|\r|\u2028|\u2029/);
    // No line of code starts with the planted call: it only ever appears inside a JSON string literal.
    expect(lines.some((l) => l.trimStart().startsWith('require('))).toBe(false);
    expect(r.source).not.toMatch(/[\u2028\u2029]/);
    for (const l of lines.filter((x) => x.includes('child_process'))) expect(l).toMatch(/^\s*(\/\/ |name: "|description: "|"content": "|const project = braintrust\.projects\.create\(\{ name: ")/);
  });

  it('matches a score to its Braintrust scorer by name, then slug', () => {
    const fns = [fn({ id: '1', name: 'Helpfulness v2', slug: 'helpfulness' }), fn({ id: '2', name: 'Answer Quality', slug: 'answer-quality' })];
    expect(matchScorerFunction('Helpfulness v2', fns)?.id).toBe('1');
    expect(matchScorerFunction('helpfulness', fns)?.id).toBe('1');
    expect(matchScorerFunction('answer_quality', fns)?.id).toBe('2');
    expect(matchScorerFunction('other', fns)).toBeUndefined();
  });
});
