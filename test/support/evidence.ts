/** Synthetic DISCOVER FINDINGS for tests of Diagnose and of workflows that run without Braintrust. */
import type { CohortStats, DiscoverEvidence, ScoreStats } from '../../src/workflows/logic/evidence.js';

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

