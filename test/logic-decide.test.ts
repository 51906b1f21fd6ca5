import { describe, expect, it } from 'vitest';
import { checkSmoke, compareRows, decide, loopArithmetic, type DecideInput, type DecisionRule, type Outcome } from '../src/workflows/logic/decide.js';
import type { EvalResult, EvalRunMode, EvalSplit, RowComparison, RowScores } from '../src/workflows/logic/evidence.js';
import type { ScorerHealth } from '../src/workflows/logic/scorer-health.js';

function ev(runMode: EvalRunMode, split: EvalSplit, factuality: number | null, over: Partial<EvalResult> = {}): EvalResult {
  const id = `exp-${runMode}-${split}-${factuality}`;
  return {
    experimentId: id,
    experimentName: id,
    url: `https://www.braintrust.dev/app/acme/p/bot/experiments/${id}`,
    split,
    runMode,
    scores: { Factuality: factuality, Relevance: 0.8 },
    rowCount: 50,
    errorCount: 0,
    rowsFile: null,
    ...over,
  };
}

const healthyScorers: ScorerHealth[] = [{ score: 'Factuality', n: 50, healthy: true, problem: null, detail: 'ok' }];
const stuckScorer: ScorerHealth[] = [{ score: 'Factuality', n: 50, healthy: false, problem: 'stuck_one', detail: 'Factuality is stuck at 1 (100% of 50 values)' }];
const clean: RowComparison = { tolerance: 0.1, joined: 50, onlyBaseline: 0, onlyNew: 0, improved: 12, regressed: 0, unchanged: 38, perScore: {}, regressions: [] };
const withRegressions: RowComparison = {
  ...clean,
  improved: 15,
  regressed: 3,
  unchanged: 32,
  regressions: [{ key: 'k1', rowId: 'r1', traceId: 't1', score: 'Factuality', baseline: 1, new: 0.2, delta: -0.8 }],
};

/** Iteration 1: an agent change that improved validation and train, cleanly. */
function base(over: Partial<DecideInput> = {}): DecideInput {
  return {
    iteration: 1,
    maxIterations: 3,
    targetScore: 'Factuality',
    smoke: ev('smoke', 'train', 0.7),
    full: { train: ev('full', 'train', 0.72), validation: ev('full', 'validation', 0.71) },
    baseline: ev('baseline', 'all', 0.6),
    comparison: clean,
    scorerHealth: healthyScorers,
    newFailurePatterns: [],
    remainingGaps: [],
    changesMade: [{ artifact: 'agent' }],
    ...over,
  };
}

type Expect = { rule: DecisionRule; exit?: Outcome; route?: string };

describe('decide: routing table (priority order)', () => {
  const rows: Array<{ name: string; input: DecideInput; want: Expect }> = [
    { name: 'production healthy, nothing changed → exit healthy', input: base({ productionHealthy: true, changesMade: [], smoke: null, full: {}, comparison: null }), want: { rule: 'production_healthy', exit: 'healthy' } },
    { name: 'changes made but no eval ran → blocked', input: base({ smoke: null, full: {}, comparison: null }), want: { rule: 'no_eval_results', exit: 'blocked' } },
    { name: 'smoke structurally broken (no rows) → back to Improve, no full eval', input: base({ smoke: ev('smoke', 'train', null, { rowCount: 0 }), full: {} }), want: { rule: 'smoke_failed', route: 'agent' } },
    { name: 'smoke near zero → back to the artifact changed', input: base({ smoke: ev('smoke', 'train', 0.01), full: {}, changesMade: [{ artifact: 'measurement' }] }), want: { rule: 'smoke_failed', route: 'measurement' } },
    { name: 'smoke mostly errors → back to Improve', input: base({ smoke: ev('smoke', 'train', 0.8, { errorCount: 15, rowCount: 20 }), full: {} }), want: { rule: 'smoke_failed', route: 'agent' } },
    { name: 'smoke passed but no full eval → blocked', input: base({ full: {} }), want: { rule: 'smoke_only', exit: 'blocked' } },
    { name: 'production failure unmeasured → measurement', input: base({ unmeasuredFailures: ['refund refusals are not scored'] }), want: { rule: 'unmeasured_failure', route: 'measurement' } },
    { name: 'scorer stuck at 0/1 → measurement (even though improved)', input: base({ scorerHealth: stuckScorer }), want: { rule: 'scorer_unhealthy', route: 'measurement' } },
    { name: 'traces cannot support diagnosis → instrumentation', input: base({ instrumentationGaps: ['30% of root spans have no input'] }), want: { rule: 'instrumentation_blocked', route: 'instrumentation' } },
    { name: 'new failure pattern not in datasets → dataset (focused discover)', input: base({ newFailurePatterns: ['multi-currency refunds'] }), want: { rule: 'new_failure_pattern', route: 'dataset' } },
    {
      name: 'improved on validation but not on train → dataset',
      input: base({ full: { train: ev('full', 'train', 0.6), validation: ev('full', 'validation', 0.7) } }),
      want: { rule: 'validation_not_train', route: 'dataset' },
    },
    {
      name: 'improved on train but not on validation → overfitting, change not accepted',
      input: base({ full: { train: ev('full', 'train', 0.75), validation: ev('full', 'validation', 0.6) } }),
      want: { rule: 'overfitting', route: 'agent' },
    },
    {
      name: 'metric did not move despite agent change → agent',
      input: base({ full: { train: ev('full', 'train', 0.6), validation: ev('full', 'validation', 0.605) } }),
      want: { rule: 'agent_change_no_effect', route: 'agent' },
    },
    { name: 'improved and new edge cases found → dataset', input: base({ remainingGaps: ['empty-cart edge case'] }), want: { rule: 'improved_new_edge_cases', route: 'dataset' } },
    {
      name: 'datasets do not cover eval-discovered cases → dataset',
      input: base({ changesMade: [{ artifact: 'dataset' }], full: { validation: ev('full', 'validation', 0.6) }, remainingGaps: ['gift cards'] }),
      want: { rule: 'dataset_gaps_remain', route: 'dataset' },
    },
    { name: 'improved but rows regressed → agent, never exit improved', input: base({ comparison: withRegressions }), want: { rule: 'improved_with_regressions', route: 'agent' } },
    { name: 'improved, no regressions, measurement healthy → exit improved', input: base(), want: { rule: 'improved', exit: 'improved' } },
    {
      name: 'only datasets changed and the metric did not move → agent next',
      input: base({ changesMade: [{ artifact: 'dataset' }], full: { validation: ev('full', 'validation', 0.55) } }),
      want: { rule: 'measurement_changed_agent_next', route: 'agent' },
    },
    {
      name: 'nothing changed (every step skipped), production not healthy → exit needs_work',
      input: base({ changesMade: [], productionHealthy: false, full: { validation: ev('full', 'validation', 0.6) } }),
      want: { rule: 'nothing_changed', exit: 'needs_work' },
    },
  ];
  it.each(rows)('$name', ({ input, want }) => {
    const d = decide(input);
    expect(d.rule).toBe(want.rule);
    if (want.exit) expect(d.next).toMatchObject({ kind: 'exit', outcome: want.exit });
    if (want.route) expect(d.next).toMatchObject({ kind: 'route', route: want.route });
    expect(d.next.reason.length).toBeGreaterThan(10);
  });

  it('a higher-priority row wins: scorer unhealthy + new failure pattern → measurement', () => {
    const d = decide(base({ scorerHealth: stuckScorer, newFailurePatterns: ['x'], remainingGaps: ['y'] }));
    expect(d.next).toMatchObject({ kind: 'route', route: 'measurement' });
  });

  it('a new failure pattern asks for a focused Discover first', () => {
    const d = decide(base({ newFailurePatterns: ['multi-currency refunds'] }));
    expect(d.next).toMatchObject({ kind: 'route', rediscover: true });
  });

  it('a change that brings a new failure pattern is not accepted, even when the metric improved cleanly', () => {
    const d = decide(base({ newFailurePatterns: ['new error "BillingTemplateError" in 7 rows'] }));
    expect(d.verdict.improved).toBe(true);
    expect(d.verdict.regressionCount).toBe(0);
    expect(d.verdict.acceptChange).toBe(false);
    expect(decide(base()).verdict.acceptChange).toBe(true);
  });
});

describe('decide: counter-cases', () => {
  it('regressions + improved average never exit improved, at any iteration', () => {
    for (const iteration of [1, 2, 3]) {
      const d = decide(base({ iteration, comparison: withRegressions }));
      expect(d.next.kind === 'exit' && d.next.outcome === 'improved').toBe(false);
      expect(d.verdict.acceptChange).toBe(false);
      expect(d.verdict.regressionCount).toBe(3);
    }
    expect(decide(base({ iteration: 3, comparison: withRegressions })).next).toMatchObject({ kind: 'exit', outcome: 'needs_work' });
  });

  it('overfitting is not accepted and says why', () => {
    const d = decide(base({ full: { train: ev('full', 'train', 0.75), validation: ev('full', 'validation', 0.6) } }));
    expect(d.verdict.overfitting).toBe(true);
    expect(d.verdict.acceptChange).toBe(false);
    expect(d.next.reason).toMatch(/overfitting/);
    expect(d.verdict.trainDelta).toBeCloseTo(0.15);
    expect(d.verdict.validationDelta).toBeCloseTo(0);
  });

  it('3 iterations without improvement → no_convergence', () => {
    const flat = { full: { train: ev('full', 'train', 0.6), validation: ev('full', 'validation', 0.6) } };
    expect(decide(base({ ...flat, iteration: 2 })).next).toMatchObject({ kind: 'route', route: 'agent' });
    const d = decide(base({ ...flat, iteration: 3, history: [{ iteration: 1, improved: false }, { iteration: 2, improved: false }] }));
    expect(d.next).toMatchObject({ kind: 'exit', outcome: 'no_convergence' });
    expect(d.stoppedAtLimit).toBe(true);
    expect(d.rule).toBe('agent_change_no_effect');
  });

  it('limit reached after an earlier improvement → needs_work, not no_convergence', () => {
    const d = decide(base({ iteration: 3, remainingGaps: ['x'], full: { validation: ev('full', 'validation', 0.6) }, history: [{ iteration: 1, improved: true }] }));
    expect(d.next).toMatchObject({ kind: 'exit', outcome: 'needs_work' });
  });

  it('a clean improvement at the last iteration still exits improved', () => {
    expect(decide(base({ iteration: 3 })).next).toMatchObject({ kind: 'exit', outcome: 'improved' });
  });

  it('verdict carries deltas per score, scorer health and confidence', () => {
    const d = decide(base());
    expect(d.verdict.deltas).toEqual([
      { score: 'Factuality', split: 'validation', baseline: 0.6, new: 0.71, delta: 0.11 },
      { score: 'Relevance', split: 'validation', baseline: 0.8, new: 0.8, delta: 0 },
    ]);
    expect(d.verdict.scorerHealthy).toBe(true);
    expect(d.verdict.confidence).toBe('high');
    expect(d.verdict.acceptChange).toBe(true);
    expect(decide(base({ comparison: null })).verdict.confidence).toBe('medium');
  });
});

describe('checkSmoke', () => {
  it.each([
    { name: 'ok', smoke: ev('smoke', 'train', 0.6), problem: null },
    { name: 'empty', smoke: ev('smoke', 'train', 0.6, { rowCount: 0 }), problem: 'empty' },
    { name: 'errors', smoke: ev('smoke', 'train', 0.6, { errorCount: 10, rowCount: 20 }), problem: 'errors' },
    { name: 'missing score', smoke: ev('smoke', 'train', null), problem: 'missing_score' },
    { name: 'near zero', smoke: ev('smoke', 'train', 0.02), problem: 'near_zero' },
  ])('$name', ({ smoke, problem }) => {
    const r = checkSmoke(smoke, 'Factuality');
    expect(r.problem).toBe(problem);
    expect(r.ok).toBe(problem === null);
  });
});

describe('compareRows', () => {
  const row = (key: string, f: number | null, traceId?: string): RowScores => ({ key, rowId: `row-${key}`, ...(traceId ? { traceId } : {}), scores: { Factuality: f } });

  it('a regression is a drop beyond the tolerance, not a row below 0.5', () => {
    const baseline = [row('a', 1.0), row('b', 0.3), row('c', 0.9), row('d', 0.2), row('e', 0.5)];
    const next = [row('a', 0.85, 't-a'), row('b', 0.3), row('c', 0.85), row('d', 0.9), row('e', null)];
    const c = compareRows(baseline, next, 0.1);
    expect(c.regressions).toEqual([{ key: 'a', rowId: 'row-a', traceId: 't-a', score: 'Factuality', baseline: 1, new: 0.85, delta: -0.15 }]);
    expect(c).toMatchObject({ joined: 5, regressed: 1, improved: 1, unchanged: 3, onlyBaseline: 0, onlyNew: 0 });
    expect(c.perScore.Factuality).toEqual({ improved: 1, regressed: 1, unchanged: 2 });
  });

  it('counts rows present in only one run and averages trials', () => {
    const c = compareRows([row('a', 0.4), row('a', 0.6), row('x', 1)], [row('a', 0.2), row('y', 1)], 0.1);
    expect(c).toMatchObject({ joined: 1, onlyBaseline: 1, onlyNew: 1, regressed: 1 });
    expect(c.regressions[0]).toMatchObject({ baseline: 0.5, new: 0.2, delta: -0.3 });
  });

  it('a row regressing on one score and improving on another counts as regressed', () => {
    const b = [{ key: 'a', rowId: 'a', scores: { F: 1, R: 0 } }];
    const n = [{ key: 'a', rowId: 'a', scores: { F: 0, R: 1 } }];
    expect(compareRows(b, n, 0.1)).toMatchObject({ regressed: 1, improved: 0, perScore: { F: { regressed: 1 }, R: { improved: 1 } } });
  });

  it('orders regressions by size and is independent of row order', () => {
    const b = [row('a', 1), row('b', 1), row('c', 1)];
    const n = [row('c', 0.5), row('a', 0.8), row('b', 0)];
    const c = compareRows(b, n);
    expect(c.regressions.map((r) => r.key)).toEqual(['b', 'c', 'a']);
    expect(compareRows([...b].reverse(), [...n].reverse())).toEqual(c);
  });
});

describe('loopArithmetic', () => {
  it.each([
    { iteration: 1, max: 3, remaining: 2, exhausted: false },
    { iteration: 2, max: 3, remaining: 1, exhausted: false },
    { iteration: 3, max: 3, remaining: 0, exhausted: true },
    { iteration: 1, max: 1, remaining: 0, exhausted: true },
  ])('iteration $iteration of $max', ({ iteration, max, remaining, exhausted }) => {
    expect(loopArithmetic(iteration, max)).toEqual({ iteration, maxIterations: max, remaining, exhausted, next: iteration + 1 });
  });
  it('rejects nonsense', () => {
    expect(() => loopArithmetic(0)).toThrow(RangeError);
    expect(() => loopArithmetic(1, 0)).toThrow(RangeError);
  });
});

describe('workflow-safety of the decision core', () => {
  it('logic modules import nothing but each other (no node:, no I/O, no clock)', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const dir = join(import.meta.dirname, '..', 'src', 'workflows', 'logic');
    for (const f of await readdir(dir)) {
      const text = await readFile(join(dir, f), 'utf8');
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      expect(imports.every((i) => i?.startsWith('./')), `${f}: ${imports.join(', ')}`).toBe(true);
      expect(text, f).not.toMatch(/Date\.now|new Date\(|Math\.random/);
    }
  });
});
