import { describe, expect, it } from 'vitest';
import { COVERAGE_GAP_THRESHOLDS, diagnose, isHealthy, rateLowerBound, type Diagnosis, type DiagnoseOptions } from '../src/workflows/logic/diagnose.js';
import type { CohortStats, DiscoverEvidence } from '../src/workflows/logic/evidence.js';
import { assessScorer } from '../src/workflows/logic/scorer-health.js';

import { cohort, healthy, Q, score } from './support/evidence.js';

type Mutator = (e: DiscoverEvidence) => void;

const bimodal: Mutator = (e) => {
  e.scores = [score('Factuality', { mean: 0.48, stddev: 0.5, shareZero: 0.52, shareOne: 0.48, distinctValues: 2, histogram: [250, 0, 0, 0, 0, 0, 0, 0, 0, 230] })];
};
const stuckZero: Mutator = (e) => {
  e.scores = [score('Factuality', { mean: 0, stddev: 0, shareZero: 1, shareOne: 0, distinctValues: 1 })];
};
const datasetGap: Mutator = (e) => {
  e.cohorts.push(cohort('refunds', { traffic: 60, trafficShare: 0.12, meanScore: 0.5, lowScoreShare: 0.45, datasetRows: 1, datasetShare: 0.01, exampleTraceIds: ['t-ref-1', 't-ref-2'] }));
};
const topicGap: Mutator = (e) => {
  e.cohorts.push(cohort('Returns & refunds', { dimension: 'topic', key: 'Task', traffic: 60, trafficShare: 0.12, meanScore: 0.5, lowScoreShare: 0.45, datasetRows: 1, datasetShare: 0.01, exampleTraceIds: ['t-ref-1', 't-ref-2'] }));
};
const coveredFailingCohort: Mutator = (e) => {
  e.cohorts.push(cohort('refunds', { traffic: 60, trafficShare: 0.12, meanScore: 0.5, lowScoreShare: 0.45, datasetRows: 20, datasetShare: 0.17, exampleTraceIds: ['t-ref-1'] }));
};
const toolErrors: Mutator = (e) => {
  e.reliability.toolErrors = [{ tool: 'search', errors: 40, calls: 400, exampleTraceIds: ['t-tool-1', 't-tool-2'] }];
};
const missingIo: Mutator = (e) => {
  Object.assign(e.instrumentation, { missingInput: 150, missingInputShare: 0.3, exampleTraceIds: ['t-noinput-1'] });
};
const renamed: Mutator = (e) => {
  e.instrumentation.staleScoreColumns = [{ name: 'Accuracy', lastSeen: '2024-12-20T00:00:00Z', likelyRenamedTo: 'Factuality' }];
};
const missingScores: Mutator = (e) => {
  Object.assign(e.instrumentation, { missingScores: 350, missingScoresShare: 0.7 });
};
const lowTraffic: Mutator = (e) => {
  e.window = { days: 30, from: '2024-12-09T00:00:00Z', to: '2025-01-08T00:00:00Z', widenedFrom: 7, widenedReason: 'only 4 root traces in 7 days' };
  e.traffic = { traces: 12, spans: 40, lowTraffic: true, query: Q };
  e.scores = [score('Factuality', { n: 8 })];
  e.instrumentation.rootSpans = 12;
  for (const c of e.cohorts) c.traffic = 6;
};

function run(mutators: Mutator[], options?: DiagnoseOptions): Diagnosis {
  const e = healthy();
  for (const m of mutators) m(e);
  return diagnose(e, options);
}

const artifacts = (d: Diagnosis): string[] => d.routes.map((r) => r.artifact);
const ids = (d: Diagnosis): string[] => d.routes.map((r) => r.id);

describe('diagnose: routing table', () => {
  const rows: Array<{ name: string; mutators: Mutator[]; options?: DiagnoseOptions; artifacts: string[]; ids?: string[]; lowConfidence?: boolean }> = [
    { name: 'healthy production → a single none route', mutators: [], artifacts: ['none'], ids: ['none:healthy'], lowConfidence: false },
    { name: 'score stuck at 0 → measurement', mutators: [stuckZero], artifacts: ['measurement'], ids: ['measurement:score:Factuality'] },
    { name: 'score split between exactly 0 and 1 → measurement, never agent', mutators: [bimodal], artifacts: ['measurement'] },
    { name: 'declared pass/fail scorer with a 0/1 split → healthy', mutators: [bimodal], options: { binaryScores: ['Factuality'] }, artifacts: ['agent'] },
    { name: 'worse cohort underrepresented in datasets → dataset gap', mutators: [datasetGap], artifacts: ['dataset'], ids: ['dataset:cohort:facet:category=refunds'] },
    { name: 'worse Topics cohort underrepresented → dataset gap with a topic id', mutators: [topicGap], artifacts: ['dataset'], ids: ['dataset:cohort:topic:Task=Returns & refunds'] },
    { name: 'worse cohort the datasets cover → agent', mutators: [coveredFailingCohort], artifacts: ['agent'], ids: ['agent:cohort:facet:category=refunds'] },
    { name: 'tool errors concentrated on one tool → agent', mutators: [toolErrors], artifacts: ['agent'], ids: ['agent:tool:search'] },
    { name: 'root spans missing input → instrumentation', mutators: [missingIo], artifacts: ['instrumentation'], ids: ['instrumentation:root_io'] },
    { name: 'renamed score columns → instrumentation', mutators: [renamed], artifacts: ['instrumentation'], ids: ['instrumentation:renamed_scores'] },
    { name: 'root spans missing scores → instrumentation', mutators: [missingScores], artifacts: ['instrumentation'], ids: ['instrumentation:missing_scores'] },
    { name: 'bimodal scorer + dataset gap → both, measurement first', mutators: [datasetGap, bimodal], artifacts: ['measurement', 'dataset'] },
    { name: 'instrumentation + tool errors → instrumentation before agent', mutators: [toolErrors, missingIo], artifacts: ['instrumentation', 'agent'] },
    {
      name: 'all four problems → measurement → instrumentation → dataset → agent',
      mutators: [toolErrors, datasetGap, renamed, stuckZero],
      artifacts: ['measurement', 'instrumentation', 'dataset', 'agent'],
    },
    { name: 'low traffic, nothing found → none with low confidence', mutators: [lowTraffic], artifacts: ['none'], lowConfidence: true },
  ];
  it.each(rows)('$name', ({ mutators, options, artifacts: want, ids: wantIds, lowConfidence }) => {
    const d = run(mutators, options);
    expect(artifacts(d)).toEqual(want);
    if (wantIds) expect(ids(d)).toEqual(wantIds);
    if (lowConfidence !== undefined) expect(d.lowConfidence).toBe(lowConfidence);
  });
});

describe('diagnose: one failure seen through several cohorts', () => {
  // The same failing traces under a topic facet and the category metadata, and a failing tool whose error
  // traces are the ones an issue-label facet marks: one plan step per failure, not one per lens.
  const sameFailure: Mutator = (e) => {
    const shared = ['t-ref-1', 't-ref-2', 't-ref-3'];
    e.cohorts.push(cohort('refunds', { traffic: 60, trafficShare: 0.12, meanScore: 0.2, lowScoreShare: 0.8, datasetRows: 0, datasetShare: 0, exampleTraceIds: shared }));
    e.cohorts.push(cohort('escalation', { key: 'route', dimension: 'metadata', traffic: 70, trafficShare: 0.14, meanScore: 0.15, lowScoreShare: 0.85, datasetRows: 0, datasetShare: 0, exampleTraceIds: shared }));
  };
  it('folds them into one route that keeps every target and finding', () => {
    const d = run([sameFailure]);
    const datasetRoutes = d.routes.filter((r) => r.artifact === 'dataset');
    expect(datasetRoutes).toHaveLength(1);
    expect(datasetRoutes[0]!.targets.map((t) => t.name).sort()).toEqual(['facet:category=refunds', 'metadata:route=escalation']);
    expect(datasetRoutes[0]!.findingIds.sort()).toEqual(['coverage:facet:category=refunds', 'coverage:metadata:route=escalation']);
    expect(datasetRoutes[0]!.rationale).toMatch(/same failing traces/);
  });
  it('keeps routes apart when their traces differ', () => {
    const d = run([datasetGap, (e) => e.cohorts.push(cohort('returns', { traffic: 60, trafficShare: 0.12, meanScore: 0.5, lowScoreShare: 0.45, datasetRows: 1, datasetShare: 0.01, exampleTraceIds: ['t-ret-1', 't-ret-2'] }))]);
    expect(d.routes.filter((r) => r.artifact === 'dataset')).toHaveLength(2);
  });
});

describe('diagnose: counter-cases and evidence', () => {
  it('a bimodal scorer never produces an agent route, even with a low mean and a covered failing cohort', () => {
    const d = run([bimodal, coveredFailingCohort]);
    expect(d.routes.some((r) => r.artifact === 'agent')).toBe(false);
    expect(d.routes[0]?.id).toBe('measurement:score:Factuality');
    expect(d.notes.join('\n')).toMatch(/mis-measured/);
  });

  it('a declared pass/fail scorer stuck at one value is still a scorer problem', () => {
    const d = run([stuckZero], { binaryScores: ['Factuality'] });
    expect(artifacts(d)).toEqual(['measurement']);
  });

  it('no score columns at all → measurement (unmeasured)', () => {
    const d = run([(e) => void (e.scores = [])]);
    expect(ids(d)[0]).toBe('measurement:unmeasured');
  });

  it('eval baseline well above production → dataset (alignment)', () => {
    const d = run([(e) => void (e.evalAlignment!.scores = [{ name: 'Factuality', baselineMean: 0.95, productionMean: 0.72 }])]);
    expect(ids(d)).toEqual(['dataset:alignment:Factuality']);
  });

  it('low quality with no better explanation → agent (low confidence)', () => {
    const d = run([(e) => void (e.scores = [score('Factuality', { mean: 0.55 })]), (e) => void (e.evalAlignment = null)]);
    expect(ids(d)).toEqual(['agent:quality:Factuality']);
    expect(d.routes[0]?.confidence).toBe('low');
  });

  it('a high root error rate with no tool to blame → agent:errors', () => {
    const d = run([(e) => Object.assign(e.reliability, { errorCount: 60, errorRate: 0.12, groups: [{ message: 'JSON parse error', count: 55, exampleTraceIds: ['t-json-1'] }] })]);
    expect(ids(d)).toEqual(['agent:errors']);
    expect(d.routes[0]?.evidence.join(' ')).toContain('JSON parse error');
  });

  it('low traffic: notes the widened window, flags low confidence, no high-confidence route', () => {
    const d = run([lowTraffic, stuckZero, datasetGap]);
    expect(d.lowConfidence).toBe(true);
    expect(d.notes.join('\n')).toMatch(/window widened from 7 to 30 days because only 4 root traces in 7 days/);
    expect(d.routes.every((r) => r.confidence !== 'high')).toBe(true);
    expect(d.routes.every((r) => r.counterevidence.some((c) => c.startsWith('thin evidence')))).toBe(true);
  });

  it('too few scored traces → low confidence even with plenty of traffic', () => {
    const d = run([(e) => void (e.scores = [score('Factuality', { n: 6 })])]);
    expect(d.lowConfidence).toBe(true);
    expect(d.routes[0]).toMatchObject({ artifact: 'none', confidence: 'low' });
  });

  it('healthy production with plenty of evidence is a confident none', () => {
    const d = run([]);
    expect(isHealthy(d)).toBe(true);
    expect(d.routes[0]?.confidence).toBe('high');
    expect(d.routes[0]?.evidence[0]).toContain('500 root traces');
  });

  it('every route cites evidence and every finding its query, window and traces', () => {
    const d = run([toolErrors, datasetGap, renamed, bimodal, missingIo]);
    for (const r of d.routes) {
      expect(r.evidence.length).toBeGreaterThan(0);
      expect(r.findingIds.length).toBeGreaterThan(0);
      for (const f of r.findingIds) expect(d.findings.map((x) => x.id)).toContain(f);
    }
    for (const f of d.findings) {
      expect(f.query).toBeTruthy();
      expect(f.window).toEqual({ from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z', days: 7 });
    }
    const gap = d.routes.find((r) => r.artifact === 'dataset')!;
    expect(gap.evidence.join(' ')).toMatch(/t-ref-1/);
    expect(gap.evidence.join(' ')).toMatch(/7-day window/);
  });

  it('is deterministic and independent of input order', () => {
    const a = run([toolErrors, datasetGap, renamed]);
    const b = run([toolErrors, datasetGap, renamed, (e) => e.cohorts.reverse()]);
    expect(b).toEqual(a);
    expect(run([toolErrors, datasetGap, renamed])).toEqual(a);
  });

  it('thresholds are options', () => {
    const d = run([toolErrors], { thresholds: { toolErrorRate: 0.5 } });
    expect(artifacts(d)).toEqual(['none']);
  });
});

describe('assessScorer', () => {
  const base = { name: 's', n: 100, mean: 0.5, stddev: 0.2, shareZero: 0.1, shareOne: 0.1, distinctValues: 20 };
  it.each([
    { name: 'healthy spread', d: base, problem: null },
    { name: 'stuck at 1', d: { ...base, shareOne: 0.99, shareZero: 0, distinctValues: 2 }, problem: 'stuck_one' },
    { name: 'constant 0.5', d: { ...base, shareZero: 0, shareOne: 0, distinctValues: 1 }, problem: 'stuck_constant' },
    { name: 'bimodal', d: { ...base, shareZero: 0.6, shareOne: 0.38, distinctValues: 3 }, problem: 'bimodal' },
    { name: 'no values', d: { ...base, n: 0 }, problem: 'no_values' },
    { name: 'too few to judge', d: { ...base, n: 3, shareZero: 1, distinctValues: 1 }, problem: null },
  ])('$name', ({ d, problem }) => {
    expect(assessScorer(d).problem).toBe(problem);
  });
});

describe('diagnose: rates judged beyond sampling noise', () => {
  const tool = (errors: number, calls: number): Mutator => (e) => {
    e.reliability.toolErrors = [{ tool: 'lookup', errors, calls, exampleTraceIds: ['t-1', 't-2', 't-3'] }];
  };
  it.each([
    // A few timeouts just above 5% in under a hundred calls are noise; the same rate over thousands is not.
    { errors: 5, calls: 88, routed: false },
    { errors: 250, calls: 4000, routed: true },
    // A clearly broken tool is routed even on little traffic.
    { errors: 30, calls: 100, routed: true },
    { errors: 4, calls: 10, routed: true },
  ])('$errors errors in $calls calls → routed: $routed', ({ errors, calls, routed }) => {
    const d = run([tool(errors, calls)]);
    expect(d.routes.some((r) => r.id === 'agent:tool:lookup')).toBe(routed);
  });
  it('rateLowerBound is below the observed rate, and tightens with more trials', () => {
    expect(rateLowerBound(0, 10)).toBe(0);
    expect(rateLowerBound(5, 88)).toBeLessThan(5 / 88);
    expect(rateLowerBound(500, 8800)).toBeGreaterThan(rateLowerBound(5, 88));
    expect(rateLowerBound(500, 8800)).toBeLessThan(500 / 8800);
    expect(rateLowerBound(10, 10)).toBeGreaterThan(0.75);
  });
});

describe('diagnose: Topics cohorts and Discover notes', () => {
  it('a topic cohort reads by its facet and label, and Discover notes reach the diagnosis', () => {
    const e = healthy();
    topicGap(e);
    e.notes = ['no Topics automation data: example note'];
    const d = diagnose(e);
    const route = d.routes.find((r) => r.id === 'dataset:cohort:topic:Task=Returns & refunds')!;
    expect(route.title).toBe('Add Task topic "Returns & refunds" cases to the eval datasets');
    expect(route.targets).toEqual([{ kind: 'cohort', name: 'topic:Task=Returns & refunds' }]);
    expect(d.findings.map((f) => f.id)).toContain('coverage:topic:Task=Returns & refunds');
    expect(d.notes).toContain('no Topics automation data: example note');
  });
});

describe('diagnose: coverage gaps are dataset routes even when the cohort scores normally (issue 8 item 4)', () => {
  const G = COVERAGE_GAP_THRESHOLDS;
  // The healthy fixture evaluates with 100 dataset rows; `returns` scores like everything else.
  const normal = (over: Partial<CohortStats>): Mutator => (e) => {
    e.cohorts.push(cohort('returns', { traffic: 100, trafficShare: 0.2, meanScore: 0.86, lowScoreShare: 0.05, datasetRows: 0, datasetShare: 0, exampleTraceIds: [], ...over }));
  };
  const gapId = 'dataset:coverage:facet:category=returns';
  const rows: Array<{ name: string; mutators: Mutator[]; options?: DiagnoseOptions; ids: string[] }> = [
    { name: `a ${G.minTrafficShare * 100}%+ cohort with no dataset rows → dataset route`, mutators: [normal({})], ids: [gapId] },
    { name: `far fewer rows (share < ${G.maxShareRatio} × traffic share) → dataset route`, mutators: [normal({ datasetRows: 4, datasetShare: 0.04 })], ids: [gapId] },
    { name: 'fewer rows, but not far fewer → no route', mutators: [normal({ datasetRows: 8, datasetShare: 0.08 })], ids: ['none:healthy'] },
    { name: 'too small a share of traffic → no route', mutators: [normal({ traffic: 40, trafficShare: G.minTrafficShare - 0.01 })], ids: ['none:healthy'] },
    {
      name: `fewer than ${G.minDatasetRows} evaluated rows in all → no route (shares are too coarse)`,
      mutators: [normal({}), (e) => void (e.datasets = [{ ...e.datasets[0]!, rows: G.minDatasetRows - 1 }])],
      ids: ['none:healthy'],
    },
    { name: 'no evaluated dataset at all → no route', mutators: [normal({}), (e) => void (e.datasets = [])], ids: ['none:healthy'] },
    { name: 'switched off (a history recorded before gap routes) → no route', mutators: [normal({})], options: { coverageGapRoutes: false }, ids: ['none:healthy'] },
    {
      name: 'a failing uncovered cohort goes before a normally scoring one',
      mutators: [normal({ traffic: 150, trafficShare: 0.3 }), datasetGap],
      ids: ['dataset:cohort:facet:category=refunds', gapId],
    },
    {
      name: 'with a broken scorer, missing input, a failing tool and a gap, the plan keeps all four, measurement and instrumentation first',
      mutators: [normal({}), stuckZero, missingIo, toolErrors],
      ids: ['measurement:score:Factuality', 'instrumentation:root_io', gapId, 'agent:tool:search'],
    },
    {
      name: 'renamed score columns and a gap: instrumentation first, the gap kept',
      mutators: [normal({}), renamed],
      ids: ['instrumentation:renamed_scores', gapId],
    },
  ];
  it.each(rows)('$name', ({ mutators, options, ids: want }) => {
    expect(ids(run(mutators, options))).toEqual(want);
  });

  it('the route names the cohort, its traffic and its rows, and says it scores normally', () => {
    const d = run([normal({})]);
    const r = d.routes[0]!;
    expect(r).toMatchObject({ artifact: 'dataset', targets: [{ kind: 'cohort', name: 'facet:category=returns' }], findingIds: ['coverage:facet:category=returns'], confidence: 'high' });
    expect(r.rationale).toMatch(/20% of production traffic .* 100 rows of the evaluated datasets hold none/);
    expect(r.counterevidence.join(' ')).toMatch(/scores normally/);
    const f = d.findings.find((x) => x.id === 'coverage:facet:category=returns')!;
    expect(f).toMatchObject({ severity: 'warning', counts: { traffic: 100, dataset_rows: 0, evaluated_rows: 100 } });
  });

  it(`plans at most ${G.maxRoutes} gaps, the biggest first, and notes the rest`, () => {
    const many: Mutator = (e) => {
      ['a', 'b', 'c', 'd', 'e'].forEach((v, i) => e.cohorts.push(cohort(v, { key: 'region', dimension: 'metadata', traffic: 60 + 10 * i, trafficShare: 0.12 + 0.02 * i, datasetRows: 0, datasetShare: 0, exampleTraceIds: [] })));
    };
    const d = run([many]);
    expect(ids(d)).toEqual(['dataset:coverage:metadata:region=e', 'dataset:coverage:metadata:region=d', 'dataset:coverage:metadata:region=c']);
    expect(d.notes.join('\n')).toMatch(/2 more coverage gap\(s\) not planned .*metadata:region=b, metadata:region=a/);
    expect(d.findings.filter((f) => f.plane === 'coverage' && f.severity === 'warning')).toHaveLength(5);
  });

  it('thresholds are options', () => {
    expect(ids(run([normal({})], { thresholds: { coverage: { ...G, minTrafficShare: 0.5 } } }))).toEqual(['none:healthy']);
  });
});
