// Diagnose's performance/cost plane: a release, model or prompt change that makes traces materially slower or
// costlier is an agent route naming the change; each threshold is exercised on both of its sides.
import { describe, expect, it } from 'vitest';
import { PERF_REGRESSION_THRESHOLDS as T, assessPerfChange, diagnose, isHealthy, type Diagnosis } from '../src/workflows/logic/diagnose.js';
import type { PerformanceChange } from '../src/workflows/logic/evidence.js';
import { cohort, healthy, perfChange, perfPlane, perfSide } from './support/evidence.js';

const ROUTE = 'agent:performance:metadata.app_version=2.0.0';
const FINDING = 'performance:change:metadata.app_version=2.0.0';

function run(changes: PerformanceChange[]): Diagnosis {
  const e = healthy();
  e.performancePlane = perfPlane(changes);
  return diagnose(e);
}

/** The after side with some fields changed (traces stay 150 unless given). */
const after = (over: Parameters<typeof perfSide>[0]) => perfSide({ traces: 150, latencyTraces: 150, tokenTraces: 150, costTraces: 150, ...over });
/** Before and after both small (a thin release). */
const sides = (n: number, afterOver: Parameters<typeof perfSide>[0]) => ({
  before: perfSide({ traces: n, latencyTraces: n, tokenTraces: n, costTraces: n }),
  after: perfSide({ traces: n, latencyTraces: n, tokenTraces: n, costTraces: n, ...afterOver }),
});

describe('performance regressions at a change point: each threshold on both sides', () => {
  const rows: Array<{ name: string; change: Partial<PerformanceChange>; routed: boolean; metric?: string }> = [
    // p50 latency ratio (T.p50LatencyRatio = 1.5), with an increase well above the absolute guard.
    { name: 'p50 ×1.49 → no route', change: { after: after({ p50LatencyMs: 1490 }) }, routed: false },
    { name: 'p50 ×1.5 → route', change: { after: after({ p50LatencyMs: 1500 }) }, routed: true, metric: 'p50' },
    // Absolute guard on latency (T.minLatencyIncreaseMs = 250): a ×3.4 of a fast step is still noise.
    { name: 'p50 100 → 340 ms (×3.4, +240 ms) → no route', change: { before: perfSide({ p50LatencyMs: 100, p95LatencyMs: 2000 }), after: after({ p50LatencyMs: 340 }) }, routed: false },
    { name: 'p50 100 → 350 ms (×3.5, +250 ms) → route', change: { before: perfSide({ p50LatencyMs: 100 }), after: after({ p50LatencyMs: 350 }) }, routed: true, metric: 'p50' },
    // p95 latency ratio (T.p95LatencyRatio = 2), the median unchanged.
    { name: 'p95 ×1.995 → no route', change: { after: after({ p95LatencyMs: 3990 }) }, routed: false },
    { name: 'p95 ×2 → route', change: { after: after({ p95LatencyMs: 4000 }) }, routed: true, metric: 'p95' },
    // The tail needs T.minTailTraces (60) on each side.
    { name: 'p95 ×3 on 59 traces each → no route', change: sides(59, { p95LatencyMs: 6000 }), routed: false },
    { name: 'p95 ×3 on 60 traces each → route', change: sides(60, { p95LatencyMs: 6000 }), routed: true, metric: 'p95' },
    // Medians and means need T.minTraces (30) on each side.
    { name: 'p50 ×3 on 29 traces each → no route', change: sides(29, { p50LatencyMs: 3000 }), routed: false },
    { name: 'p50 ×3 on 30 traces each → route', change: sides(30, { p50LatencyMs: 3000 }), routed: true, metric: 'p50' },
    // A value that carries under T.minAfterShare (0.5) of the traffic since it appeared is a cohort, not a release.
    { name: 'after share 0.49 → no route', change: { afterShare: 0.49, after: after({ p50LatencyMs: 3000 }) }, routed: false },
    { name: 'after share 0.5 → route', change: { afterShare: 0.5, after: after({ p50LatencyMs: 3000 }) }, routed: true, metric: 'p50' },
    // Mean estimated cost ratio (T.costRatio = 1.5).
    { name: 'cost ×1.485 → no route', change: { after: after({ meanCostUsd: 0.000594 }) }, routed: false },
    { name: 'cost ×1.515 → route', change: { after: after({ meanCostUsd: 0.000606 }) }, routed: true, metric: 'cost' },
    // Absolute guard on cost (T.minCostIncreaseUsd = $0.00001 per trace).
    { name: 'cost $0.000001 → $0.000009 (×9, +$0.000008) → no route', change: { before: perfSide({ meanCostUsd: 0.000001 }), after: after({ meanCostUsd: 0.000009 }) }, routed: false },
    { name: 'cost $0.000001 → $0.000012 (×12, +$0.000011) → route', change: { before: perfSide({ meanCostUsd: 0.000001 }), after: after({ meanCostUsd: 0.000012 }) }, routed: true, metric: 'cost' },
    // Tokens (T.tokenRatio = 1.5, T.minTokenIncrease = 50) when cost cannot be estimated (an unpriced model).
    { name: 'no cost, tokens ×1.4975 → no route', change: { before: perfSide({ costTraces: 0, meanCostUsd: null }), after: after({ costTraces: 0, meanCostUsd: null, meanTokens: 599 }) }, routed: false },
    { name: 'no cost, tokens ×1.5 → route', change: { before: perfSide({ costTraces: 0, meanCostUsd: null }), after: after({ costTraces: 0, meanCostUsd: null, meanTokens: 600 }) }, routed: true, metric: 'tokens' },
    { name: 'no cost, tokens 60 → 109 (×1.8, +49) → no route', change: { before: perfSide({ costTraces: 0, meanCostUsd: null, meanTokens: 60 }), after: after({ costTraces: 0, meanCostUsd: null, meanTokens: 109 }) }, routed: false },
    { name: 'no cost, tokens 60 → 110 (+50) → route', change: { before: perfSide({ costTraces: 0, meanCostUsd: null, meanTokens: 60 }), after: after({ costTraces: 0, meanCostUsd: null, meanTokens: 110 }) }, routed: true, metric: 'tokens' },
    // Faster or cheaper is never a regression.
    { name: 'twice as fast and half the cost → no route', change: { after: after({ p50LatencyMs: 500, p95LatencyMs: 1000, meanCostUsd: 0.0002 }) }, routed: false },
  ];
  it.each(rows)('$name', ({ change, routed, metric }) => {
    const c = perfChange(change);
    const a = assessPerfChange(c);
    expect(a.verdict === 'regression').toBe(routed);
    if (metric) expect(a.regressed.map((r) => r.metric)).toContain(metric);
    const d = run([c]);
    expect(d.routes.some((r) => r.id === ROUTE)).toBe(routed);
    expect(d.findings.some((f) => f.id === FINDING)).toBe(routed);
    if (!routed) expect(isHealthy(d)).toBe(true);
  });

  it('severity is critical from T.criticalRatio (×3) on, a warning below it', () => {
    const sev = (p50: number) => run([perfChange({ after: after({ p50LatencyMs: p50 }) })]).findings.find((f) => f.id === FINDING)!.severity;
    expect(sev(T.criticalRatio * 1000 - 10)).toBe('warning');
    expect(sev(T.criticalRatio * 1000)).toBe('critical');
  });

  it('thresholds are options (a stricter p50 ratio turns a ×1.6 slowdown into no finding)', () => {
    const c = perfChange({ after: after({ p50LatencyMs: 1600 }) });
    expect(run([c]).routes.map((r) => r.id)).toEqual([ROUTE]);
    const d = diagnose({ ...healthy(), performancePlane: perfPlane([c]) }, { thresholds: { performance: { ...T, p50LatencyRatio: 2 } } });
    expect(isHealthy(d)).toBe(true);
  });
});

describe('the performance finding and route', () => {
  const slow = perfChange({ after: after({ p50LatencyMs: 4200, p95LatencyMs: 8100, meanTokens: 1300, meanCostUsd: 0.0011, meanScore: 0.87 }) });

  it('names the change, cites counts, window, examples and routes to the agent', () => {
    const d = run([slow]);
    expect(d.routes.map((r) => r.id)).toEqual([ROUTE]);
    const route = d.routes[0]!;
    expect(route.artifact).toBe('agent');
    expect(route.targets).toEqual([{ kind: 'change', name: 'metadata.app_version=2.0.0' }]);
    expect(route.findingIds).toEqual([FINDING]);
    expect(route.confidence).toBe('high'); // 150+ traces a side and ×4.2 ≥ 2 × 1.5
    const f = d.findings.find((x) => x.id === FINDING)!;
    expect(f.plane).toBe('performance');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain('metadata.app_version=2.0.0');
    expect(f.title).toMatch(/Slower and costlier/);
    expect(f.detail).toContain('150 traces with metadata.app_version=2.0.0 vs 200 before (1.9.3)');
    expect(f.detail).toContain('p50 latency 1000 ms → 4200 ms (×4.2)');
    expect(f.detail).toContain('Factuality mean 0.86 → 0.87');
    expect(f.counts).toMatchObject({ traces_before: 200, traces_after: 150, p50_latency_ms_before: 1000, p50_latency_ms_after: 4200, p50_latency_ratio: 4.2, p95_latency_ratio: 4.05 });
    expect(f.counts.cost_ratio).toBeCloseTo(2.75, 9);
    // Slowest and costliest traces with the new value; the window of the evidence.
    expect(f.exampleTraceIds).toEqual(['t-slow-a', 't-slow-b', 't-slow-c', 't-cost-a']);
    expect(f.window).toEqual({ from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z', days: 7 });
    expect(f.query).toBeTruthy();
    expect(route.evidence.join('\n')).toContain('7-day window');
    expect(route.evidence.join('\n')).toContain('t-typ-1');
    // Quality unchanged: no quality counterevidence; the dependency caveat always.
    expect(route.counterevidence.join('\n')).not.toMatch(/quality moved/);
    expect(route.counterevidence.join('\n')).toMatch(/dependency/);
  });

  it('quality that moved with the release is counterevidence', () => {
    const d = run([perfChange({ after: after({ p50LatencyMs: 4200, meanScore: 0.6 }) })]);
    expect(d.routes[0]!.counterevidence.join('\n')).toMatch(/quality moved too \(Factuality mean 0\.86 → 0\.6\)/);
  });

  it('a model change on the LLM spans is labelled as such; a cost-only regression reads "Costlier"', () => {
    const d = run([perfChange({ source: 'llm', key: 'model', value: 'gpt-4o', previousValues: ['gpt-4o-mini'], after: after({ meanCostUsd: 0.0066 }) })]);
    expect(d.routes.map((r) => r.id)).toEqual(['agent:performance:llm.metadata.model=gpt-4o']);
    const f = d.findings[0]!;
    expect(f.id).toBe('performance:change:llm.metadata.model=gpt-4o');
    expect(f.title).toMatch(/^Costlier since llm\.metadata\.model=gpt-4o \(est\. cost\/trace ×16\.5\)$/);
    expect(f.exampleTraceIds).toEqual(['t-cost-a', 't-slow-a']);
  });

  it('an unchanged release is a note, not a finding; too few traces say nothing', () => {
    const d = run([perfChange(), perfChange({ value: '2.0.1', ...sides(10, { p50LatencyMs: 9000 }) })]);
    expect(isHealthy(d)).toBe(true);
    expect(d.findings.filter((f) => f.plane === 'performance')).toEqual([]);
    expect(d.notes.filter((n) => n.startsWith('performance at'))).toEqual([expect.stringContaining('metadata.app_version=2.0.0')]);
    expect(d.notes.join('\n')).toMatch(/no material regression/);
  });

  it('comes after dataset routes and never folds into another agent route, even sharing example traces', () => {
    const e = healthy();
    e.cohorts.push(cohort('refunds', { traffic: 60, trafficShare: 0.12, meanScore: 0.5, lowScoreShare: 0.45, datasetRows: 1, datasetShare: 0.01, exampleTraceIds: ['t-ref-1'] }));
    e.reliability.toolErrors = [{ tool: 'search', errors: 40, calls: 400, exampleTraceIds: ['t-slow-a', 't-slow-b'] }];
    e.performancePlane = perfPlane([slow]);
    const d = diagnose(e);
    const ids = d.routes.map((r) => r.id);
    expect(ids[0]).toBe('dataset:cohort:facet:category=refunds');
    expect(ids).toEqual(expect.arrayContaining(['agent:tool:search', ROUTE]));
    expect(d.routes.find((r) => r.id === 'agent:tool:search')!.targets).toEqual([{ kind: 'tool', name: 'search' }]);
  });

  it('evidence without a performance plane (older histories) diagnoses as before', () => {
    const e = healthy();
    const withEmpty = diagnose({ ...e, performancePlane: perfPlane([]) });
    expect(diagnose(e)).toEqual(withEmpty);
  });

  it('is deterministic and independent of the order of the changes', () => {
    const other = perfChange({ key: 'prompt_version', value: 'v7', changeAt: '2025-01-06T00:00:00.000Z', after: after({ meanCostUsd: 0.0009 }) });
    const a = run([slow, other]);
    const b = run([other, slow]);
    expect(b).toEqual(a);
    expect(a.routes.map((r) => r.id)).toEqual([ROUTE, 'agent:performance:metadata.prompt_version=v7']);
  });
});

describe('one change, several keys', () => {
  it('values that appeared at the same instant are one route with every target and finding', () => {
    const slower = after({ p50LatencyMs: 4200 });
    const d = run([
      perfChange({ after: slower }),
      perfChange({ key: 'prompt_version', value: 'v7', previousValues: ['v6'], after: slower }),
      perfChange({ key: 'region_build', value: 'b2', changeAt: '2025-01-06T00:00:00.000Z', after: slower }),
    ]);
    expect(d.routes.map((r) => r.id)).toEqual([ROUTE, 'agent:performance:metadata.region_build=b2']);
    expect(d.routes[0]!.targets.map((t) => t.name)).toEqual(['metadata.app_version=2.0.0', 'metadata.prompt_version=v7']);
    expect(d.routes[0]!.findingIds).toEqual([FINDING, 'performance:change:metadata.prompt_version=v7']);
    expect(d.findings.filter((f) => f.plane === 'performance')).toHaveLength(3);
  });
});
