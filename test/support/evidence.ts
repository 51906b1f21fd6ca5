/** Synthetic DISCOVER FINDINGS for tests of Diagnose and of workflows that run without Braintrust. */
import type { CohortStats, DiscoverEvidence, PerformanceChange, PerformancePlane, PerfSide, ScoreStats } from '../../src/workflows/logic/evidence.js';

export const Q = "SELECT ... FROM project_logs('p1') WHERE created >= NOW() - INTERVAL 7 day";

export function score(name: string, over: Partial<ScoreStats> = {}): ScoreStats {
  return {
    name,
    n: 480,
    mean: 0.86,
    stddev: 0.12,
    shareZero: 0.02,
    shareOne: 0.3,
    distinctValues: 25,
    histogram: [2, 1, 3, 4, 6, 10, 30, 80, 150, 194],
    lowScoreExamples: ['t-low-1', 't-low-2'],
    query: Q,
    ...over,
  };
}

export function cohort(value: string, over: Partial<CohortStats> = {}): CohortStats {
  return {
    dimension: 'facet',
    key: 'category',
    value,
    traffic: 200,
    trafficShare: 0.4,
    score: 'Factuality',
    meanScore: 0.86,
    lowScoreShare: 0.05,
    datasetRows: 40,
    datasetShare: 0.4,
    exampleTraceIds: [`t-${value}-1`],
    query: Q,
    ...over,
  };
}

/** Healthy production: 500 traces, a discriminating scorer, few errors, cohorts covered. */
export function healthy(projectName = 'Support Bot'): DiscoverEvidence {
  return {
    project: { id: 'p1', name: projectName },
    goal: 'general health check',
    primaryScore: 'Factuality',
    window: { days: 7, from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z' },
    traffic: { traces: 500, spans: 2400, lowTraffic: false, query: Q },
    scores: [score('Factuality')],
    reliability: { errorCount: 3, errorRate: 0.006, groups: [{ message: 'timeout', count: 3, exampleTraceIds: ['t-err-1'] }], toolErrors: [{ tool: 'search', errors: 1, calls: 400, exampleTraceIds: ['t-tool-1'] }], query: Q },
    cohorts: [cohort('billing'), cohort('shipping', { traffic: 300, trafficShare: 0.6, datasetRows: 60, datasetShare: 0.6 })],
    performance: { p50LatencyMs: 900, p95LatencyMs: 4000, meanTokens: 800, p95Tokens: 2000, totalTokens: 400000, exampleTraceIds: ['t-slow-1'], query: Q },
    changes: [{ by: 'day', key: 'created', score: 'Factuality', groups: [{ group: '2025-01-01', n: 70, mean: 0.85 }, { group: '2025-01-02', n: 70, mean: 0.87 }], query: Q }],
    instrumentation: {
      rootSpans: 500,
      missingInput: 0,
      missingOutput: 0,
      missingScores: 20,
      missingInputShare: 0,
      missingOutputShare: 0,
      missingScoresShare: 0.04,
      staleScoreColumns: [],
      exampleTraceIds: [],
      query: Q,
    },
    evalAlignment: { baselineExperimentId: 'exp-base', baselineExperimentName: 'baseline', baselineChosenBy: 'latest', scores: [{ name: 'Factuality', baselineMean: 0.88, productionMean: 0.86 }], query: Q },
    datasets: [{ datasetId: 'ds1', name: 'support-golden', rows: 100, trainRows: 80, validationRows: 20, unlabeledRows: 0, cohorts: [], query: Q }],
    examples: [{ traceId: 't-ex-1', url: 'https://www.braintrust.dev/app/acme/p/Support%20Bot/r/t-ex-1', reason: 'sample' }],
  };
}


/** One side of a change point: 200 traces at p50 1 s / p95 2 s, 400 tokens and $0.0004 per trace. */
export function perfSide(over: Partial<PerfSide> = {}): PerfSide {
  return {
    traces: 200,
    latencyTraces: 200,
    p50LatencyMs: 1000,
    p95LatencyMs: 2000,
    tokenTraces: 200,
    meanTokens: 400,
    p50Tokens: 400,
    costTraces: 200,
    meanCostUsd: 0.0004,
    p50CostUsd: 0.0004,
    meanScore: 0.86,
    ...over,
  };
}

/** A release `metadata.app_version=2.0.0` mid-window; the same performance before and after unless overridden. */
export function perfChange(over: Partial<PerformanceChange> = {}): PerformanceChange {
  return {
    source: 'root',
    key: 'app_version',
    value: '2.0.0',
    previousValues: ['1.9.3'],
    changeAt: '2025-01-05T00:00:00.000Z',
    afterShare: 1,
    before: perfSide(),
    after: perfSide({ traces: 150, latencyTraces: 150, tokenTraces: 150, costTraces: 150 }),
    slowestAfterTraceIds: ['t-slow-a', 't-slow-b', 't-slow-c'],
    costliestAfterTraceIds: ['t-cost-a', 't-slow-a'],
    typicalBeforeTraceIds: ['t-typ-1', 't-typ-2'],
    query: Q,
    ...over,
  };
}

export function perfPlane(changes: PerformanceChange[]): PerformancePlane {
  return {
    dimensions: ['metadata.app_version', 'llm.metadata.model'],
    changes,
    sample: { traces: 350, llmSpans: 700, fraction: 1, truncated: false },
    pricing: 'test prices',
    rowsFile: null,
    query: Q,
  };
}
