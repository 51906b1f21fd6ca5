/**
 * Diagnose: DISCOVER FINDINGS in, a prioritized plan of artifact routes out.
 * Pure — no clock, no randomness, no I/O — so the workflow can call it and a replay re-derives it.
 *
 * Priority: measurement → instrumentation → dataset → agent → none. A mis-measured score is a
 * scorer problem and never yields an agent route; thin evidence never yields a confident route.
 */
import { queryNoOf } from './query-table.js';
import type { CohortStats, DiscoverEvidence, EvidencePlane, EvidenceWindow, FollowUp, PerformanceChange, ScoreStats } from './evidence.js';
import { assessScorer, cmp, SCORER_HEALTH_THRESHOLDS, type ScorerHealth, type ScorerHealthThresholds } from './scorer-health.js';

export type RouteArtifact = 'measurement' | 'instrumentation' | 'dataset' | 'agent' | 'none';
export const ROUTE_PRIORITY: readonly RouteArtifact[] = ['measurement', 'instrumentation', 'dataset', 'agent', 'none'];

export type Confidence = 'low' | 'medium' | 'high';
export type Severity = 'info' | 'warning' | 'critical';

export interface RouteTarget {
  /** `change`: a metadata value that marks a change (`metadata.agent_version=1.6.0`, `llm.metadata.model=gpt-4o`). */
  kind: 'score' | 'cohort' | 'tool' | 'error' | 'span_field' | 'score_column' | 'change';
  name: string;
}

/** One evidence-backed observation. Ids are derived from what was observed, so re-runs agree. */
export interface Finding {
  id: string;
  plane: EvidencePlane;
  severity: Severity;
  title: string;
  detail: string;
  counts: Record<string, number>;
  window: { from: string; to: string; days: number };
  exampleTraceIds: string[];
  /** Absent (undefined) when the evidence came with numbered queries: then `queryNo` (logic/query-table.ts). */
  query: string;
  queryRef?: string;
  queryNo?: number;
}

export interface Route {
  /** Stable id, e.g. `measurement:score:Factuality`; plan gates approve or skip routes by it. */
  id: string;
  artifact: RouteArtifact;
  title: string;
  rationale: string;
  evidence: string[];
  counterevidence: string[];
  confidence: Confidence;
  targets: RouteTarget[];
  findingIds: string[];
  exampleTraceIds: string[];
  /**
   * What Discover's follow-up pass found about this route's targets (their checks are also lines of `evidence`
   * and `counterevidence`). Absent when the evidence has no follow-up for them (and in older histories).
   */
  followUp?: FollowUp[];
}

export interface Diagnosis {
  /** Ordered plan; exactly one `none` route when nothing is actionable. */
  routes: Route[];
  findings: Finding[];
  lowConfidence: boolean;
  notes: string[];
  primaryScore: string | null;
  scorerHealth: ScorerHealth[];
}

export interface DiagnoseThresholds {
  /** Fewer root traces than this: low confidence. */
  minTraces: number;
  /** Fewer scored traces (primary score) than this: low confidence. */
  minScored: number;
  /** Scores at or below this count as "low" (matches the Discover low-score query). */
  lowScore: number;
  /** Primary mean below this, with no better explanation: low quality overall. */
  minHealthyMean: number;
  cohortMinTraces: number;
  cohortMinShare: number;
  /** A cohort scoring this much below the overall mean (or this much more low-score share) is "worse". */
  cohortScoreGap: number;
  /** Low-score share at which an underrepresented cohort is also routed to the agent (it mostly fails). */
  severeCohortLowShare: number;
  /** datasetShare < trafficShare × this: the cohort is underrepresented in the eval datasets. */
  underrepresentedRatio: number;
  /** Coverage gaps: sizeable cohorts the evaluated datasets (nearly) miss, routed to a dataset even when they score normally. */
  coverage: CoverageGapThresholds;
  toolErrorMin: number;
  /** Tool errors per call (or per trace when calls are unknown). */
  toolErrorRate: number;
  errorMin: number;
  errorRate: number;
  missingIoShare: number;
  missingScoresShare: number;
  /** Baseline eval mean above production mean by this: evals do not reflect production. */
  alignmentGap: number;
  /** A day/version group below the best group by this is reported as a change-correlated drop. */
  changeDrop: number;
  /** Smallest day/version group the change correlation compares. */
  changeMinGroup: number;
  /** p95 latency above this is reported (finding only). */
  p95LatencyMs: number;
  /** Counts at which a clear signal is called `high` confidence. */
  highConfidenceN: number;
  scorer: ScorerHealthThresholds;
  /** Performance/cost regressions at a change point (a new version, model, prompt…). */
  performance: PerfRegressionThresholds;
}

/**
 * When the traces carrying a new metadata value (after its change point) are materially slower or costlier than
 * the traces before it. Every ratio is after / before; each comes with a minimum sample on both sides and an
 * absolute increase, so a few slow traces or a millisecond-scale change do not make a finding.
 */
export interface PerfRegressionThresholds {
  /** Traces needed on each side (before, and after with the new value) to compare medians and means. */
  minTraces: number;
  /** Traces needed on each side to compare the p95 (the tail needs more samples to be stable). */
  minTailTraces: number;
  /** The new value must carry at least this share of the traffic since the change point (a release, not a cohort). */
  minAfterShare: number;
  /** p50 latency ratio at which the median trace is materially slower. */
  p50LatencyRatio: number;
  /** p95 latency ratio at which the tail is materially slower. */
  p95LatencyRatio: number;
  /** Smallest latency increase (ms, at the percentile that crossed its ratio) that counts. */
  minLatencyIncreaseMs: number;
  /** Mean estimated cost per trace ratio at which the change is materially costlier. */
  costRatio: number;
  /** Smallest increase of the mean estimated cost per trace (USD) that counts. */
  minCostIncreaseUsd: number;
  /** Mean tokens per trace ratio (used when cost cannot be estimated on both sides). */
  tokenRatio: number;
  /** Smallest increase of the mean tokens per trace that counts. */
  minTokenIncrease: number;
  /** A ratio at or above this makes the finding critical. */
  criticalRatio: number;
}

/**
 * A cohort that carries a sizeable share of production traffic while the datasets the project evaluates with hold
 * no (or far fewer) rows of it is a dataset gap whatever it scores: no eval can show how a change affects it.
 */
export interface CoverageGapThresholds {
  /** Share of root traces (0..1) from which a cohort is sizeable. */
  minTrafficShare: number;
  /** datasetShare < trafficShare × this: far fewer rows than traffic (0 rows always qualifies). */
  maxShareRatio: number;
  /** Evaluated-dataset rows needed in all before shares are compared (fewer: each row moves a share too much). */
  minDatasetRows: number;
  /** Gap routes planned at most (biggest first); the others stay findings and a note. */
  maxRoutes: number;
}

export const COVERAGE_GAP_THRESHOLDS: CoverageGapThresholds = {
  minTrafficShare: 0.1,
  maxShareRatio: 0.25,
  minDatasetRows: 20,
  maxRoutes: 3,
};

export const PERF_REGRESSION_THRESHOLDS: PerfRegressionThresholds = {
  minTraces: 30,
  minTailTraces: 60,
  minAfterShare: 0.5,
  p50LatencyRatio: 1.5,
  p95LatencyRatio: 2,
  minLatencyIncreaseMs: 250,
  costRatio: 1.5,
  minCostIncreaseUsd: 0.00001,
  tokenRatio: 1.5,
  minTokenIncrease: 50,
  criticalRatio: 3,
};

export const DIAGNOSE_THRESHOLDS: DiagnoseThresholds = {
  minTraces: 30,
  minScored: 10,
  lowScore: 0.5,
  minHealthyMean: 0.7,
  cohortMinTraces: 5,
  cohortMinShare: 0.05,
  cohortScoreGap: 0.15,
  severeCohortLowShare: 0.5,
  underrepresentedRatio: 0.5,
  coverage: COVERAGE_GAP_THRESHOLDS,
  toolErrorMin: 3,
  toolErrorRate: 0.05,
  errorMin: 3,
  errorRate: 0.05,
  missingIoShare: 0.1,
  missingScoresShare: 0.5,
  alignmentGap: 0.15,
  changeDrop: 0.15,
  changeMinGroup: 20,
  p95LatencyMs: 30_000,
  highConfidenceN: 100,
  scorer: SCORER_HEALTH_THRESHOLDS,
  performance: PERF_REGRESSION_THRESHOLDS,
};

export interface DiagnoseOptions {
  thresholds?: Partial<DiagnoseThresholds>;
  /** Pass/fail scorers by design (a 0/1 split is expected; stuck is still a problem). */
  binaryScores?: string[];
  /** Overrides `evidence.primaryScore`. */
  primaryScore?: string;
  /**
   * Plan coverage gaps of normally scoring cohorts as dataset routes (default true). The workflow passes false when
   * replaying a history recorded before they existed, so its plan — and the commands after it — stay the same.
   */
  coverageGapRoutes?: boolean;
}

interface Candidate extends Route {
  /** Strength within an artifact class; higher first. */
  weight: number;
  /** Within an artifact, lower ranks first (coverage gaps of normally scoring cohorts: 1, after failures). */
  rank?: number;
}

const MAX_EXAMPLES = 5;
const CONF_ORDER: Confidence[] = ['low', 'medium', 'high'];

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;
const num = (x: number | null | undefined): string => (x == null ? 'n/a' : String(Math.round(x * 1000) / 1000));
const minConf = (a: Confidence, b: Confidence): Confidence => (CONF_ORDER.indexOf(a) <= CONF_ORDER.indexOf(b) ? a : b);
const uniq = (xs: readonly string[]): string[] => [...new Set(xs)];
const ex = (ids: readonly string[]): string[] => uniq(ids).slice(0, MAX_EXAMPLES);
const cohortLabel = (c: Pick<CohortStats, 'dimension' | 'key' | 'value'>): string =>
  c.dimension === 'topic' ? `${c.key} topic "${c.value}"` : c.dimension === 'tag' ? `tag ${c.value}` : `${c.dimension} ${c.key}=${c.value}`;
const cohortId = (c: Pick<CohortStats, 'dimension' | 'key' | 'value'>): string => `${c.dimension}:${c.key}=${c.value}`;

export function windowText(w: EvidenceWindow): string {
  return `${w.days}-day window ${w.from} → ${w.to}`;
}

function traceText(ids: readonly string[]): string {
  return ids.length ? `example traces: ${ex(ids).join(', ')}` : 'no example traces';
}

/** Picks the score the goal is about: explicit option, evidence, else the lowest-mean scored column. */
export function resolvePrimaryScore(evidence: DiscoverEvidence, override?: string): string | null {
  if (override) return override;
  if (evidence.primaryScore) return evidence.primaryScore;
  const scored = evidence.scores.filter((s) => s.mean != null && s.n > 0);
  scored.sort((a, b) => (a.mean as number) - (b.mean as number) || cmp(a.name, b.name));
  return scored[0]?.name ?? null;
}

export function diagnose(evidence: DiscoverEvidence, options: DiagnoseOptions = {}): Diagnosis {
  const t: DiagnoseThresholds = {
    ...DIAGNOSE_THRESHOLDS,
    ...options.thresholds,
    performance: { ...DIAGNOSE_THRESHOLDS.performance, ...options.thresholds?.performance },
    coverage: { ...DIAGNOSE_THRESHOLDS.coverage, ...options.thresholds?.coverage },
  };
  const binary = options.binaryScores ?? [];
  const w = evidence.window;
  const win = { from: w.from, to: w.to, days: w.days };
  const wtext = windowText(w);
  const traces = evidence.traffic.traces;
  const primaryName = resolvePrimaryScore(evidence, options.primaryScore);
  const primary: ScoreStats | undefined = evidence.scores.find((s) => s.name === primaryName);
  const scores = [...evidence.scores].sort((a, b) => cmp(a.name, b.name));
  const scorerHealth = scores.map((s) => assessScorer(s, binary.includes(s.name), t.scorer));
  const misMeasured = new Set(scorerHealth.filter((h) => !h.healthy).map((h) => h.score));
  const scored = primary?.n ?? Math.max(0, ...scores.map((s) => s.n));

  const findings: Finding[] = [];
  const candidates: Candidate[] = [];
  const notes: string[] = [];

  const addFinding = (f: Omit<Finding, 'window'>): Finding => {
    const full = { ...f, window: win, exampleTraceIds: ex(f.exampleTraceIds) };
    findings.push(full);
    return full;
  };

  // ---- Confidence of the whole diagnosis
  const lowReasons: string[] = [];
  if (traces < t.minTraces) lowReasons.push(`only ${traces} root traces (< ${t.minTraces})`);
  if (scored < t.minScored) lowReasons.push(`only ${scored} scored traces${primaryName ? ` for ${primaryName}` : ''} (< ${t.minScored})`);
  const lowConfidence = lowReasons.length > 0;

  if (w.widenedFrom != null && w.widenedFrom !== w.days) {
    notes.push(
      `window widened from ${w.widenedFrom} to ${w.days} days because ${w.widenedReason ?? `traffic was low`}; ${traces} traces in the widened window`,
    );
  }
  notes.push(...(evidence.notes ?? []));
  if (evidence.traffic.lowTraffic) notes.push(`low traffic: ${traces} root traces and ${evidence.traffic.spans} spans in the ${wtext}`);
  if (lowConfidence) notes.push(`low confidence: ${lowReasons.join('; ')} — no verdict here is confident; gather more traffic or labels`);

  // ---- Measurement: scorers that cannot see failures
  const staleNames = new Set(evidence.instrumentation.staleScoreColumns.map((c) => c.name));
  for (const h of scorerHealth) {
    if (h.healthy) continue;
    // A score that stopped being logged has no values because of instrumentation, not a broken scorer.
    if (h.problem === 'no_values' && staleNames.has(h.score)) continue;
    const s = scores.find((x) => x.name === h.score) as ScoreStats;
    const f = addFinding({
      id: `quality:${s.name}:${h.problem}`,
      plane: 'quality',
      severity: 'warning',
      title: `Scorer ${s.name} is not discriminating (${h.problem})`,
      detail: h.detail,
      counts: { n: s.n, share_zero: s.shareZero, share_one: s.shareOne, distinct_values: s.distinctValues },
      exampleTraceIds: s.lowScoreExamples,
      query: s.query,
      ...(s.queryRef ? { queryRef: s.queryRef } : {}),
      ...queryNoOf(s),
    });
    candidates.push({
      id: `measurement:score:${s.name}`,
      artifact: 'measurement',
      title: `Fix the ${s.name} scorer`,
      rationale: `${h.detail}; a score that cannot vary cannot show whether the agent improves, so this is a scorer problem, not an agent problem.`,
      evidence: [`${h.detail} in the ${wtext}`, `mean ${num(s.mean)}, stddev ${num(s.stddev)}, ${s.distinctValues} distinct values`, traceText(s.lowScoreExamples)],
      counterevidence: binary.includes(s.name) ? [`${s.name} is declared pass/fail, so a 0/1 split alone would be expected`] : [],
      confidence: s.n >= t.highConfidenceN ? 'high' : 'medium',
      targets: [{ kind: 'score', name: s.name }],
      findingIds: [f.id],
      exampleTraceIds: ex(s.lowScoreExamples),
      weight: s.n,
    });
  }
  // Score columns that stopped being logged are an instrumentation problem, not a missing scorer.
  if (scores.length === 0 && traces > 0 && evidence.instrumentation.staleScoreColumns.length === 0) {
    const f = addFinding({
      id: 'quality:unmeasured',
      plane: 'quality',
      severity: 'warning',
      title: 'Production traffic is not scored',
      detail: `${traces} root traces in the ${wtext} carry no score columns`,
      counts: { traces },
      exampleTraceIds: evidence.examples.map((e) => e.traceId),
      query: evidence.traffic.query,
      ...queryNoOf(evidence.traffic),
    });
    candidates.push({
      id: 'measurement:unmeasured',
      artifact: 'measurement',
      title: 'Add a scorer for production traffic',
      rationale: 'No score column exists, so failures cannot be measured; measure first.',
      evidence: [f.detail],
      counterevidence: [],
      confidence: 'medium',
      targets: [{ kind: 'score', name: evidence.goal }],
      findingIds: [f.id],
      exampleTraceIds: f.exampleTraceIds,
      weight: traces,
    });
  }

  // ---- Instrumentation: traces that cannot support diagnosis
  const ins = evidence.instrumentation;
  const insQuery = { query: ins.query, ...(ins.queryRef ? { queryRef: ins.queryRef } : {}), ...queryNoOf(ins) };
  const io: Array<['input' | 'output', number, number]> = [
    ['input', ins.missingInput, ins.missingInputShare],
    ['output', ins.missingOutput, ins.missingOutputShare],
  ];
  const ioBad = io.filter(([, , share]) => share >= t.missingIoShare && ins.rootSpans > 0);
  if (ioBad.length) {
    const f = addFinding({
      id: 'instrumentation:root_io',
      plane: 'instrumentation',
      severity: 'warning',
      title: `Root spans missing ${ioBad.map(([k]) => k).join(' and ')}`,
      detail: ioBad.map(([k, n, share]) => `${n} of ${ins.rootSpans} root spans (${pct(share)}) have no ${k}`).join('; '),
      counts: { root_spans: ins.rootSpans, missing_input: ins.missingInput, missing_output: ins.missingOutput },
      exampleTraceIds: ins.exampleTraceIds,
      ...insQuery,
    });
    const maxShare = Math.max(...ioBad.map(([, , s]) => s));
    candidates.push({
      id: 'instrumentation:root_io',
      artifact: 'instrumentation',
      title: `Restore root ${ioBad.map(([k]) => k).join('/')} logging`,
      rationale: 'Without the root input and output, failing traces cannot be inspected, curated into datasets or verified.',
      evidence: [`${f.detail} in the ${wtext}`, traceText(ins.exampleTraceIds)],
      counterevidence: [],
      confidence: ins.rootSpans >= t.highConfidenceN && maxShare >= 2 * t.missingIoShare ? 'high' : 'medium',
      targets: ioBad.map(([k]) => ({ kind: 'span_field' as const, name: k })),
      findingIds: [f.id],
      exampleTraceIds: ex(ins.exampleTraceIds),
      weight: maxShare,
    });
  }
  if ((scores.length > 0 || ins.staleScoreColumns.length > 0) && ins.rootSpans > 0 && ins.missingScoresShare >= t.missingScoresShare) {
    const f = addFinding({
      id: 'instrumentation:missing_scores',
      plane: 'instrumentation',
      severity: 'warning',
      title: 'Most root spans carry no scores',
      detail: `${ins.missingScores} of ${ins.rootSpans} root spans (${pct(ins.missingScoresShare)}) have no scores`,
      counts: { root_spans: ins.rootSpans, missing_scores: ins.missingScores },
      exampleTraceIds: ins.exampleTraceIds,
      ...insQuery,
    });
    candidates.push({
      id: 'instrumentation:missing_scores',
      artifact: 'instrumentation',
      title: 'Attach scores to root spans',
      rationale: 'Quality statistics rest on a minority of traces; scores must reach the root spans they judge.',
      evidence: [`${f.detail} in the ${wtext}`],
      counterevidence: [],
      confidence: 'medium',
      targets: [{ kind: 'span_field', name: 'scores' }],
      findingIds: [f.id],
      exampleTraceIds: ex(ins.exampleTraceIds),
      weight: ins.missingScoresShare,
    });
  }
  if (ins.staleScoreColumns.length) {
    const cols = [...ins.staleScoreColumns].sort((a, b) => cmp(a.name, b.name));
    const desc = cols.map((c) => `${c.name}${c.likelyRenamedTo ? ` → ${c.likelyRenamedTo}` : ''} (last seen ${c.lastSeen ?? 'unknown'})`);
    const f = addFinding({
      id: 'instrumentation:renamed_scores',
      plane: 'instrumentation',
      severity: 'warning',
      title: 'Score columns disappeared from recent data',
      detail: `present in older data but missing in the ${wtext}: ${desc.join(', ')}`,
      counts: { columns: cols.length },
      exampleTraceIds: ins.exampleTraceIds,
      ...insQuery,
    });
    candidates.push({
      id: 'instrumentation:renamed_scores',
      artifact: 'instrumentation',
      title: 'Normalize renamed score columns',
      rationale: 'Renamed score columns split history, so trends and baselines compare different things.',
      evidence: [f.detail],
      counterevidence: cols.some((c) => !c.likelyRenamedTo) ? ['some columns have no recent look-alike; the scorer may have been removed on purpose'] : [],
      confidence: 'medium',
      targets: cols.map((c) => ({ kind: 'score_column' as const, name: c.name })),
      findingIds: [f.id],
      exampleTraceIds: ex(ins.exampleTraceIds),
      weight: cols.length,
    });
  }

  // ---- Coverage: cohorts vs eval datasets
  const overallMean = primary?.mean ?? null;
  const primaryMisMeasured = primaryName != null && misMeasured.has(primaryName);
  const cohortRouted = new Set<string>();
  const cohorts = [...evidence.cohorts].sort((a, b) => cmp(cohortId(a), cohortId(b)));
  const overallLowShare = overallLowFromCohorts(cohorts);
  const evaluatedRows = evidence.datasets.reduce((a, d) => a + d.rows, 0);
  const gapRoutes: Candidate[] = [];
  for (const c of cohorts) {
    if (c.traffic < t.cohortMinTraces || c.trafficShare < t.cohortMinShare) continue;
    const meanGap = c.meanScore != null && overallMean != null ? overallMean - c.meanScore : null;
    const lowGap = c.lowScoreShare != null && overallLowShare != null ? c.lowScoreShare - overallLowShare : null;
    const worse = (meanGap != null && meanGap >= t.cohortScoreGap) || (lowGap != null && lowGap >= t.cohortScoreGap);
    const under = c.datasetShare < c.trafficShare * t.underrepresentedRatio;
    const cq = { query: c.query, ...(c.queryRef ? { queryRef: c.queryRef } : {}), ...queryNoOf(c) };
    const scoreText = `${c.score ?? primaryName ?? 'score'} mean ${num(c.meanScore)} vs ${num(overallMean)} overall, ${c.lowScoreShare == null ? 'n/a' : pct(c.lowScoreShare)} low-scoring`;
    const covText = `${c.datasetRows} eval-dataset rows (${pct(c.datasetShare)} of dataset rows) vs ${pct(c.trafficShare)} of traffic (${c.traffic} traces)`;
    if (!worse) {
      const gap =
        options.coverageGapRoutes !== false &&
        evaluatedRows >= t.coverage.minDatasetRows &&
        c.trafficShare >= t.coverage.minTrafficShare &&
        (c.datasetRows === 0 || c.datasetShare < c.trafficShare * t.coverage.maxShareRatio);
      if (gap) {
        const f = addFinding({
          id: `coverage:${cohortId(c)}`,
          plane: 'coverage',
          severity: 'warning',
          title: `${cohortLabel(c)} is ${pct(c.trafficShare)} of traffic but ${c.datasetRows === 0 ? 'absent from' : 'barely in'} the eval datasets`,
          detail: `${covText}; ${scoreText}`,
          counts: { traffic: c.traffic, dataset_rows: c.datasetRows, evaluated_rows: evaluatedRows },
          exampleTraceIds: c.exampleTraceIds,
          ...cq,
        });
        gapRoutes.push({
          id: `dataset:coverage:${cohortId(c)}`,
          artifact: 'dataset',
          title: `Cover ${cohortLabel(c)} in the eval datasets`,
          rationale: `${pct(c.trafficShare)} of production traffic is in this cohort, but the ${evaluatedRows} rows of the evaluated datasets hold ${c.datasetRows === 0 ? 'none' : `only ${c.datasetRows}`} of it, so no eval can show how a change affects it; curate rows of it (production vs eval gap).`,
          evidence: [`${covText} in the ${wtext}`, scoreText, traceText(c.exampleTraceIds)],
          counterevidence: [`it scores normally in production (${scoreText}): the gap is in what the evals can show, not (yet) in quality`],
          confidence: c.datasetRows === 0 && c.traffic >= t.highConfidenceN ? 'high' : 'medium',
          targets: [{ kind: 'cohort', name: cohortId(c) }],
          findingIds: [f.id],
          exampleTraceIds: ex(c.exampleTraceIds),
          weight: c.traffic * (1 - Math.min(1, c.datasetShare / c.trafficShare)),
          rank: 1,
        });
      } else if (under) {
        addFinding({
          id: `coverage:${cohortId(c)}`,
          plane: 'coverage',
          severity: 'info',
          title: `${cohortLabel(c)} is underrepresented in eval datasets but scores normally`,
          detail: `${covText}; ${scoreText}`,
          counts: { traffic: c.traffic, dataset_rows: c.datasetRows },
          exampleTraceIds: c.exampleTraceIds,
          ...cq,
        });
      }
      continue;
    }
    const f = addFinding({
      id: `coverage:${cohortId(c)}`,
      plane: 'coverage',
      severity: 'warning',
      title: `${cohortLabel(c)} scores worse${under ? ' and is underrepresented in eval datasets' : ''}`,
      detail: `${scoreText}; ${covText}`,
      counts: {
        traffic: c.traffic,
        dataset_rows: c.datasetRows,
        ...(c.meanScore != null ? { mean_score: c.meanScore } : {}),
        ...(c.errorCount != null ? { errors: c.errorCount } : {}),
      },
      exampleTraceIds: c.exampleTraceIds,
      ...cq,
    });
    const base = {
      evidence: [`${scoreText} in the ${wtext}`, covText, traceText(c.exampleTraceIds)],
      targets: [{ kind: 'cohort' as const, name: cohortId(c) }],
      findingIds: [f.id],
      exampleTraceIds: ex(c.exampleTraceIds),
      weight: c.traffic * Math.max(meanGap ?? 0, lowGap ?? 0),
    };
    if (under) {
      const strong = c.traffic >= t.highConfidenceN / 2 && c.datasetRows === 0 && (meanGap ?? lowGap ?? 0) >= 2 * t.cohortScoreGap;
      cohortRouted.add(cohortId(c));
      candidates.push({
        ...base,
        id: `dataset:cohort:${cohortId(c)}`,
        artifact: 'dataset',
        title: `Add ${cohortLabel(c)} cases to the eval datasets`,
        rationale: 'Production traffic in this cohort scores worse and the evals barely cover it, so no eval can show a fix; curate balanced rows first.',
        counterevidence: primaryMisMeasured ? [`${primaryName} is mis-measured, so the score gap itself is uncertain`] : [],
        confidence: primaryMisMeasured ? 'low' : strong ? 'high' : 'medium',
      });
      // A cohort that mostly fails is also the agent's problem (wrong answers in one category): both go in
      // the plan, the dataset route first so the fix can be measured on the curated rows.
      const severe = (c.lowScoreShare ?? 0) >= t.severeCohortLowShare && (meanGap ?? 0) >= 2 * t.cohortScoreGap;
      if (severe && !primaryMisMeasured) {
        candidates.push({
          ...base,
          id: `agent:cohort:${cohortId(c)}`,
          artifact: 'agent',
          title: `Fix agent behaviour for ${cohortLabel(c)}`,
          rationale: 'Most traces of this cohort fail while the other cohorts are healthy, so the agent behaviour for it is wrong; the curated rows let the fix be verified.',
          counterevidence: ['the eval datasets barely cover this cohort yet: the dataset route runs first so the change can be measured'],
          confidence: 'medium',
        });
      }
    } else if (!primaryMisMeasured) {
      cohortRouted.add(cohortId(c));
      candidates.push({
        ...base,
        id: `agent:cohort:${cohortId(c)}`,
        artifact: 'agent',
        title: `Fix agent behaviour for ${cohortLabel(c)}`,
        rationale: 'Failures concentrate in one cohort that the eval datasets already cover, so the agent owns the behaviour.',
        counterevidence: [`cohort traffic is ${c.traffic} traces; inspect the example traces before editing`],
        confidence: c.traffic >= t.highConfidenceN / 2 ? 'high' : 'medium',
      });
    } else {
      notes.push(`${cohortLabel(c)} scores worse on ${primaryName}, but ${primaryName} is mis-measured; no agent route until the scorer is fixed`);
    }
  }

  // The biggest gaps become routes; the rest stay findings (one note names them).
  gapRoutes.sort((a, b) => b.weight - a.weight || cmp(a.id, b.id));
  candidates.push(...gapRoutes.slice(0, t.coverage.maxRoutes));
  if (gapRoutes.length > t.coverage.maxRoutes) {
    const rest = gapRoutes.slice(t.coverage.maxRoutes).map((r) => r.targets[0]!.name);
    notes.push(`${rest.length} more coverage gap(s) not planned this iteration (at most ${t.coverage.maxRoutes}): ${rest.join(', ')}`);
  }

  // ---- Eval alignment: evals that overestimate production
  const al = evidence.evalAlignment;
  if (al?.baselineExperimentId) {
    for (const s of [...al.scores].sort((a, b) => cmp(a.name, b.name))) {
      if (s.baselineMean == null || s.productionMean == null) continue;
      const gap = s.baselineMean - s.productionMean;
      if (gap < t.alignmentGap || misMeasured.has(s.name)) continue;
      const f = addFinding({
        id: `alignment:${s.name}`,
        plane: 'alignment',
        severity: 'warning',
        title: `Evals overestimate production on ${s.name}`,
        detail: `baseline ${al.baselineExperimentName ?? al.baselineExperimentId} mean ${num(s.baselineMean)} vs production ${num(s.productionMean)} (gap ${num(gap)})`,
        counts: { baseline_mean: s.baselineMean, production_mean: s.productionMean },
        exampleTraceIds: scores.find((x) => x.name === s.name)?.lowScoreExamples ?? [],
        query: al.query,
        ...(al.queryRef ? { queryRef: al.queryRef } : {}),
        ...queryNoOf(al),
      });
      candidates.push({
        id: `dataset:alignment:${s.name}`,
        artifact: 'dataset',
        title: `Bring production failures on ${s.name} into the eval datasets`,
        rationale: 'The eval baseline scores well above production, so the datasets miss the inputs that fail in production.',
        evidence: [`${f.detail}; production over the ${wtext}`],
        counterevidence: cohortRouted.size ? ['cohort routes above may already explain part of the gap'] : [],
        confidence: 'medium',
        targets: [{ kind: 'score', name: s.name }],
        findingIds: [f.id],
        exampleTraceIds: f.exampleTraceIds,
        weight: gap,
      });
    }
  }

  // ---- Agent: reliability owned by the agent
  const rel = evidence.reliability;
  const relQuery = { query: rel.query, ...(rel.queryRef ? { queryRef: rel.queryRef } : {}), ...queryNoOf(rel) };
  let toolRoutes = 0;
  for (const tool of [...rel.toolErrors].sort((a, b) => cmp(a.tool, b.tool))) {
    const denom = tool.calls ?? traces;
    const rate = denom > 0 ? tool.errors / denom : 0;
    // The rate must be above the threshold beyond sampling noise (a few timeouts in 90 calls are not a broken tool).
    if (tool.errors < t.toolErrorMin || rateLowerBound(tool.errors, denom) < t.toolErrorRate) continue;
    toolRoutes++;
    const f = addFinding({
      id: `reliability:tool:${tool.tool}`,
      plane: 'reliability',
      severity: rate >= 4 * t.toolErrorRate ? 'critical' : 'warning',
      title: `Tool ${tool.tool} fails`,
      detail: `${tool.errors} errors in ${denom} ${tool.calls != null ? 'calls' : 'traces'} (${pct(rate)})`,
      counts: { errors: tool.errors, ...(tool.calls != null ? { calls: tool.calls } : {}) },
      exampleTraceIds: tool.exampleTraceIds,
      ...(tool.query ? { query: tool.query } : typeof tool.queryNo === 'number' ? { query: tool.query as string, ...queryNoOf(tool) } : relQuery),
    });
    candidates.push({
      id: `agent:tool:${tool.tool}`,
      artifact: 'agent',
      title: `Fix how the agent calls ${tool.tool}`,
      rationale: 'Tool errors concentrate on one tool; the arguments, schema or retry behaviour the agent owns are the first suspects.',
      evidence: [`${f.detail} in the ${wtext}`, traceText(tool.exampleTraceIds)],
      counterevidence: ['the tool backend itself may be failing; confirm in the span tree that the agent sent bad arguments'],
      confidence: tool.errors >= t.highConfidenceN / 5 ? 'high' : 'medium',
      targets: [{ kind: 'tool', name: tool.tool }],
      findingIds: [f.id],
      exampleTraceIds: ex(tool.exampleTraceIds),
      weight: tool.errors,
    });
  }
  if (toolRoutes === 0 && rel.errorCount >= t.errorMin && rel.errorRate >= t.errorRate && rateLowerBound(rel.errorCount, traces) >= t.errorRate) {
    const groups = [...rel.groups].sort((a, b) => b.count - a.count || cmp(a.message, b.message)).slice(0, 3);
    const f = addFinding({
      id: 'reliability:errors',
      plane: 'reliability',
      severity: rel.errorRate >= 4 * t.errorRate ? 'critical' : 'warning',
      title: 'Root traces end in errors',
      detail: `${rel.errorCount} of ${traces} root traces (${pct(rel.errorRate)}) errored; top: ${groups.map((g) => `"${g.message}" ×${g.count}`).join(', ') || 'ungrouped'}`,
      counts: { errors: rel.errorCount, traces },
      exampleTraceIds: groups.flatMap((g) => g.exampleTraceIds),
      ...relQuery,
    });
    candidates.push({
      id: 'agent:errors',
      artifact: 'agent',
      title: 'Handle the recurring errors',
      rationale: 'A recurring error is behaviour the agent can catch, retry or avoid.',
      evidence: [`${f.detail} in the ${wtext}`, traceText(f.exampleTraceIds)],
      counterevidence: ['errors may come from dependencies rather than the agent; check the span tree'],
      confidence: 'medium',
      targets: groups.map((g) => ({ kind: 'error' as const, name: g.message })),
      findingIds: [f.id],
      exampleTraceIds: f.exampleTraceIds,
      weight: rel.errorCount,
    });
  }

  // ---- Agent: low quality overall, with no better explanation
  if (
    primary &&
    primary.mean != null &&
    primary.mean < t.minHealthyMean &&
    !primaryMisMeasured &&
    cohortRouted.size === 0 &&
    !candidates.some((c) => c.id.startsWith('dataset:alignment:'))
  ) {
    const f = addFinding({
      id: `quality:${primary.name}:low`,
      plane: 'quality',
      severity: 'warning',
      title: `${primary.name} is low across production`,
      detail: `${primary.name} mean ${num(primary.mean)} over ${primary.n} scored traces (below ${t.minHealthyMean})`,
      counts: { n: primary.n, mean: primary.mean },
      exampleTraceIds: primary.lowScoreExamples,
      query: primary.query,
      ...(primary.queryRef ? { queryRef: primary.queryRef } : {}),
      ...queryNoOf(primary),
    });
    candidates.push({
      id: `agent:quality:${primary.name}`,
      artifact: 'agent',
      title: `Improve ${primary.name} across the board`,
      rationale: 'Quality is low without a cohort or coverage explanation and the scorer looks healthy.',
      evidence: [`${f.detail} in the ${wtext}`, traceText(primary.lowScoreExamples)],
      counterevidence: ['no single cohort explains the failures; datasets may still miss them'],
      confidence: 'low',
      targets: [{ kind: 'score', name: primary.name }],
      findingIds: [f.id],
      exampleTraceIds: ex(primary.lowScoreExamples),
      weight: 1 - primary.mean,
    });
  }

  // ---- Agent: a release / model / prompt change that made traces materially slower or costlier
  const plane = evidence.performancePlane;
  const perfRoutes = new Map<string, Candidate>();
  for (const c of [...(plane?.changes ?? [])].sort((a, b) => cmp(changeLabel(a), changeLabel(b)))) {
    const r = assessPerfChange(c, t.performance);
    if (r.verdict === 'too_few' || r.verdict === 'not_a_release') continue;
    const label = changeLabel(c);
    const text = perfChangeText(c, primaryName);
    if (r.verdict === 'no_regression') {
      notes.push(`performance at ${label} (since ${c.changeAt}): ${text}; no material regression`);
      continue;
    }
    const worst = Math.max(...r.regressed.map((x) => x.ratio));
    const latency = r.regressed.some((x) => x.metric.startsWith('p'));
    const costly = r.regressed.some((x) => x.metric === 'cost' || x.metric === 'tokens');
    const what = r.regressed.map((x) => `${METRIC_TEXT[x.metric]} ×${ratioText(x.ratio)}`).join(', ');
    const examples = [...(latency ? c.slowestAfterTraceIds : []), ...(costly ? c.costliestAfterTraceIds : [])];
    const f = addFinding({
      id: `performance:change:${label}`,
      plane: 'performance',
      severity: worst >= t.performance.criticalRatio ? 'critical' : 'warning',
      title: `${latency && costly ? 'Slower and costlier' : latency ? 'Slower' : 'Costlier'} since ${label} (${what})`,
      detail: `since ${c.changeAt}: ${text}`,
      counts: perfCounts(c, r.ratios),
      exampleTraceIds: examples,
      query: c.query,
      ...(c.queryRef ? { queryRef: c.queryRef } : {}),
      ...queryNoOf(c),
    });
    const scoreMoved =
      c.before.meanScore != null && c.after.meanScore != null && Math.abs(c.after.meanScore - c.before.meanScore) >= t.changeDrop;
    const strong = Math.min(c.before.traces, c.after.traces) >= t.highConfidenceN && r.regressed.some((x) => x.ratio >= 2 * x.threshold);
    // Values that appeared at the same instant (a release that bumps agent_version and prompt_version) are one change.
    const same = perfRoutes.get(c.changeAt);
    if (same) {
      same.targets.push({ kind: 'change', name: label });
      same.findingIds.push(f.id);
      same.evidence.push(`${f.title}; ${f.detail}`);
      same.rationale = `${same.rationale} ${label} appeared at the same moment.`;
      continue;
    }
    const route: Candidate = {
      id: `agent:performance:${label}`,
      artifact: 'agent',
      title: `Find and undo what made ${label} ${latency && costly ? 'slower and costlier' : latency ? 'slower' : 'costlier'}`,
      rationale: `Since ${label} appeared, traces are materially ${latency && costly ? 'slower and costlier' : latency ? 'slower' : 'costlier'} (${what}) than before it; the release's code, prompt, model choice or tool loop — which the agent owns — is the first suspect.`,
      evidence: [
        `${f.detail} in the ${wtext}`,
        `example traces since the change: ${ex(examples).join(', ') || 'none'}`,
        `typical traces before it: ${c.typicalBeforeTraceIds.join(', ') || 'none'}`,
      ],
      counterevidence: [
        'a dependency (the LLM provider, a tool backend) may have slowed down at the same time; compare the span trees of the example traces before and after',
        ...(scoreMoved ? [`quality moved too (${primaryName ?? 'score'} mean ${num(c.before.meanScore)} → ${num(c.after.meanScore)}), so this may be more than a performance change`] : []),
        ...(c.afterShare < 0.9 ? [`only ${pct(c.afterShare)} of the traffic since the change point carries ${label}`] : []),
      ],
      confidence: strong ? 'high' : 'medium',
      targets: [{ kind: 'change', name: label }],
      findingIds: [f.id],
      exampleTraceIds: ex(examples),
      weight: worst,
    };
    perfRoutes.set(c.changeAt, route);
    candidates.push(route);
  }

  // ---- Findings without routes: performance and change correlation
  const perf = evidence.performance;
  if (perf?.p95LatencyMs != null && perf.p95LatencyMs > t.p95LatencyMs) {
    addFinding({
      id: 'performance:latency',
      plane: 'performance',
      severity: 'info',
      title: 'Slow tail latency',
      detail: `p95 latency ${Math.round(perf.p95LatencyMs)} ms (p50 ${perf.p50LatencyMs == null ? 'n/a' : Math.round(perf.p50LatencyMs)} ms)`,
      counts: { p95_latency_ms: perf.p95LatencyMs, ...(perf.p50LatencyMs != null ? { p50_latency_ms: perf.p50LatencyMs } : {}) },
      exampleTraceIds: perf.exampleTraceIds,
      query: perf.query,
      ...(perf.queryRef ? { queryRef: perf.queryRef } : {}),
      ...queryNoOf(perf),
    });
  }
  for (const ch of [...evidence.changes].sort((a, b) => cmp(`${a.by}:${a.key}:${a.score}`, `${b.by}:${b.key}:${b.score}`))) {
    // Tiny groups (a partial day, a rare version) swing by chance: compare only groups big enough to mean something.
    const groups = ch.groups.filter((g): g is { group: string; n: number; mean: number } => g.mean != null && g.n >= t.changeMinGroup);
    if (groups.length < 2) continue;
    const best = groups.reduce((a, b) => (b.mean > a.mean ? b : a));
    const worst = groups.reduce((a, b) => (b.mean < a.mean ? b : a));
    if (best.mean - worst.mean < t.changeDrop) continue;
    const f = addFinding({
      id: `change:${ch.by}:${ch.key}:${ch.score}`,
      plane: 'change',
      severity: 'info',
      title: `${ch.score} varies by ${ch.by === 'day' ? 'day' : ch.key}`,
      detail: `${ch.score} mean ${num(worst.mean)} for ${worst.group} (n=${worst.n}) vs ${num(best.mean)} for ${best.group} (n=${best.n})`,
      counts: { best_mean: best.mean, worst_mean: worst.mean },
      exampleTraceIds: [],
      query: ch.query,
      ...(ch.queryRef ? { queryRef: ch.queryRef } : {}),
      ...queryNoOf(ch),
    });
    notes.push(`change correlation: ${f.detail}`);
  }

  // ---- Order, cap confidence, or exit healthy
  let routes: Route[] = mergeSameFailure(
    candidates.sort(
      (a, b) =>
        // Within an artifact the surest diagnosis goes first, then the bigger one: weights of different kinds
        // (failing traces in a cohort, tool errors) are close on real traffic and would swap with every sample.
        ROUTE_PRIORITY.indexOf(a.artifact) - ROUTE_PRIORITY.indexOf(b.artifact) ||
        (a.rank ?? 0) - (b.rank ?? 0) ||
        CONF_ORDER.indexOf(b.confidence) - CONF_ORDER.indexOf(a.confidence) ||
        b.weight - a.weight ||
        cmp(a.id, b.id),
    ),
  ).map(({ weight: _weight, rank: _rank, ...r }) => r);

  // The follow-up pass's confirmations and refutations join the routes they bear on (evidence without a follow-up
  // plans exactly as before).
  if (evidence.followUp?.length) routes = routes.map((r) => withFollowUp(r, evidence.followUp!));

  if (routes.length === 0) {
    routes = [healthyRoute(evidence, scores, findings, lowConfidence, lowReasons, wtext, t)];
  }
  if (lowConfidence) routes = routes.map((r) => ({ ...r, confidence: minConf(r.confidence, 'low') }));
  routes = routes.map((r) => ({ ...r, evidence: r.evidence.filter(Boolean), counterevidence: lowConfidence ? [...r.counterevidence, `thin evidence: ${lowReasons.join('; ')}`] : r.counterevidence }));

  return { routes, findings, lowConfidence, notes, primaryScore: primaryName, scorerHealth };
}

/** One line of a follow-up check: what it found, the words it searched for and the query-log line behind it. */
export function followUpLine(f: Pick<FollowUp, 'target'>, c: FollowUp['checks'][number]): string {
  const searched = c.term ? ` (searched for the words "${c.term}")` : '';
  const ref = c.queryRef ? ` [${c.queryRef}]` : '';
  return `follow-up on ${f.target.kind} ${f.target.name}, ${c.verdict}: ${c.text}${searched}${ref}`;
}

function withFollowUp(r: Route, followUps: readonly FollowUp[]): Route {
  const mine = followUps.filter((f) => r.targets.some((t) => t.kind === f.target.kind && t.name === f.target.name));
  if (!mine.length) return r;
  const lines = (v: 'confirms' | 'refutes') => mine.flatMap((f) => f.checks.filter((c) => c.verdict === v).map((c) => followUpLine(f, c)));
  return { ...r, evidence: [...r.evidence, ...lines('confirms')], counterevidence: [...r.counterevidence, ...lines('refutes')], followUp: mine };
}

/**
 * One-sided 95% lower confidence bound (Wilson score interval) of a rate of `k` events in `n` trials: a
 * rate threshold is crossed only when this bound crosses it, so small samples near the threshold do not
 * flip a plan from run to run.
 */
export function rateLowerBound(k: number, n: number): number {
  if (n <= 0 || k <= 0) return 0;
  const z = 1.645;
  const p = Math.min(1, k / n);
  const z2n = (z * z) / n;
  const centre = p + z2n / 2;
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  return Math.max(0, (centre - margin) / (1 + z2n));
}

// ---- Performance change points

type PerfMetric = 'p50' | 'p95' | 'cost' | 'tokens';
const METRIC_TEXT: Record<PerfMetric, string> = { p50: 'p50 latency', p95: 'p95 latency', cost: 'est. cost/trace', tokens: 'tokens/trace' };

export interface PerfAssessment {
  /** too_few: not enough traces on a side; not_a_release: the value carries too little of the traffic since it appeared. */
  verdict: 'too_few' | 'not_a_release' | 'no_regression' | 'regression';
  /** after / before for each metric that could be compared. */
  ratios: Partial<Record<PerfMetric, number>>;
  /** The metrics past their thresholds (ratio and absolute increase, with enough samples). */
  regressed: Array<{ metric: PerfMetric; ratio: number; threshold: number }>;
}

const isPerfRoute = (c: { id: string }): boolean => c.id.startsWith('agent:performance:');
/** `metadata.agent_version=1.6.0` / `llm.metadata.model=gpt-4o` (values capped so ids stay short). */
export const changeLabel = (c: Pick<PerformanceChange, 'source' | 'key' | 'value'>): string =>
  `${c.source === 'llm' ? 'llm.' : ''}metadata.${c.key}=${c.value.length > 120 ? `${c.value.slice(0, 120)}…` : c.value}`;
const ratioText = (x: number): string => String(Math.round(x * 100) / 100);

/** Is the change point a material performance/cost regression? Pure; the thresholds are the only knobs. */
export function assessPerfChange(c: PerformanceChange, th: PerfRegressionThresholds = PERF_REGRESSION_THRESHOLDS): PerfAssessment {
  const ratios: PerfAssessment['ratios'] = {};
  const regressed: PerfAssessment['regressed'] = [];
  const { before: b, after: a } = c;
  if (b.traces < th.minTraces || a.traces < th.minTraces) return { verdict: 'too_few', ratios, regressed };
  if (c.afterShare < th.minAfterShare) return { verdict: 'not_a_release', ratios, regressed };
  const check = (metric: PerfMetric, before: number | null, after: number | null, samples: number, minSamples: number, ratio: number, minIncrease: number) => {
    if (before == null || after == null || before <= 0 || samples < minSamples) return;
    const r = after / before;
    ratios[metric] = r;
    if (r >= ratio && after - before >= minIncrease) regressed.push({ metric, ratio: r, threshold: ratio });
  };
  const latencyN = Math.min(b.latencyTraces, a.latencyTraces);
  check('p50', b.p50LatencyMs, a.p50LatencyMs, latencyN, th.minTraces, th.p50LatencyRatio, th.minLatencyIncreaseMs);
  check('p95', b.p95LatencyMs, a.p95LatencyMs, latencyN, th.minTailTraces, th.p95LatencyRatio, th.minLatencyIncreaseMs);
  const costN = Math.min(b.costTraces, a.costTraces);
  // Cost when both sides can be priced; tokens otherwise (an unknown model has tokens but no price).
  if (costN >= th.minTraces) check('cost', b.meanCostUsd, a.meanCostUsd, costN, th.minTraces, th.costRatio, th.minCostIncreaseUsd);
  else check('tokens', b.meanTokens, a.meanTokens, Math.min(b.tokenTraces, a.tokenTraces), th.minTraces, th.tokenRatio, th.minTokenIncrease);
  return { verdict: regressed.length ? 'regression' : 'no_regression', ratios, regressed };
}

const ms = (x: number | null): string => (x == null ? 'n/a' : `${Math.round(x)} ms`);
const usd = (x: number | null): string => (x == null ? 'n/a' : `$${x < 0.01 ? x.toPrecision(3) : x.toFixed(4)}`);
const arrow = (before: string, after: string, b: number | null, a: number | null): string =>
  `${before} → ${after}${b != null && a != null && b > 0 ? ` (×${ratioText(a / b)})` : ''}`;

function perfChangeText(c: PerformanceChange, score: string | null): string {
  const b = c.before;
  const a = c.after;
  const prev = c.previousValues.length ? ` (${c.previousValues.join(', ')})` : '';
  const parts = [
    `${a.traces} traces with ${changeLabel(c)} vs ${b.traces} before${prev}`,
    `p50 latency ${arrow(ms(b.p50LatencyMs), ms(a.p50LatencyMs), b.p50LatencyMs, a.p50LatencyMs)}`,
    `p95 latency ${arrow(ms(b.p95LatencyMs), ms(a.p95LatencyMs), b.p95LatencyMs, a.p95LatencyMs)}`,
    `mean tokens/trace ${arrow(num(b.meanTokens), num(a.meanTokens), b.meanTokens, a.meanTokens)}`,
    `est. cost/trace ${arrow(usd(b.meanCostUsd), usd(a.meanCostUsd), b.meanCostUsd, a.meanCostUsd)}`,
  ];
  if (b.meanScore != null || a.meanScore != null) parts.push(`${score ?? 'score'} mean ${num(b.meanScore)} → ${num(a.meanScore)}`);
  return parts.join('; ');
}

function perfCounts(c: PerformanceChange, ratios: PerfAssessment['ratios']): Record<string, number> {
  const out: Record<string, number> = { traces_before: c.before.traces, traces_after: c.after.traces };
  const put = (k: string, v: number | null | undefined) => {
    if (v != null && Number.isFinite(v)) out[k] = v;
  };
  put('p50_latency_ms_before', c.before.p50LatencyMs);
  put('p50_latency_ms_after', c.after.p50LatencyMs);
  put('p95_latency_ms_before', c.before.p95LatencyMs);
  put('p95_latency_ms_after', c.after.p95LatencyMs);
  put('mean_tokens_before', c.before.meanTokens);
  put('mean_tokens_after', c.after.meanTokens);
  put('mean_cost_usd_before', c.before.meanCostUsd);
  put('mean_cost_usd_after', c.after.meanCostUsd);
  put('mean_score_before', c.before.meanScore);
  put('mean_score_after', c.after.meanScore);
  for (const [k, v] of Object.entries(ratios)) put(`${k === 'p50' || k === 'p95' ? `${k}_latency` : k}_ratio`, v);
  return out;
}

/** Shared example traces at which two routes of one artifact are the same failure seen through two lenses. */
const SAME_FAILURE_SHARED_TRACES = 2;

/**
 * Folds dataset and agent routes that are one failure seen through different lenses (a topic facet, the
 * category metadata, an issue label, a failing tool) into the strongest of them: they share example traces.
 * The plan then has one step per failure, and the merged route keeps every finding, target and piece of
 * evidence. Input is in priority order; output keeps it.
 */
function mergeSameFailure(candidates: Candidate[]): Candidate[] {
  const kept: Candidate[] = [];
  for (const c of candidates) {
    const host =
      (c.artifact === 'dataset' || c.artifact === 'agent') && !isPerfRoute(c)
        ? kept.find((k) => k.artifact === c.artifact && !isPerfRoute(k) && k.exampleTraceIds.filter((id) => c.exampleTraceIds.includes(id)).length >= SAME_FAILURE_SHARED_TRACES)
        : undefined;
    if (!host) {
      kept.push({ ...c });
      continue;
    }
    host.evidence = uniq([...host.evidence, ...c.evidence]);
    host.counterevidence = uniq([...host.counterevidence, ...c.counterevidence]);
    host.targets = [...host.targets, ...c.targets.filter((t) => !host.targets.some((h) => h.kind === t.kind && h.name === t.name))];
    host.findingIds = uniq([...host.findingIds, ...c.findingIds]);
    host.rationale = `${host.rationale} The same failing traces also show up as: ${c.title}.`;
    host.confidence = CONF_ORDER[Math.max(CONF_ORDER.indexOf(host.confidence), CONF_ORDER.indexOf(c.confidence))]!;
  }
  return kept;
}

/** Overall low-score share of the primary score, estimated from cohort stats of one dimension/key. */
function overallLowFromCohorts(cohorts: readonly CohortStats[]): number | null {
  const byKey = new Map<string, CohortStats[]>();
  for (const c of cohorts) {
    if (c.lowScoreShare == null) continue;
    const k = `${c.dimension}:${c.key}`;
    byKey.set(k, [...(byKey.get(k) ?? []), c]);
  }
  // The dimension that covers the most traffic stands for "overall" (a facet set only on failing traces,
  // such as an issue label, would make everything look low). Ties break by name, so it is deterministic.
  const traffic = (k: string) => (byKey.get(k) as CohortStats[]).reduce((s, c) => s + c.traffic, 0);
  const first = [...byKey.keys()].sort((a, b) => traffic(b) - traffic(a) || cmp(a, b))[0];
  if (first === undefined) return null;
  const group = byKey.get(first) as CohortStats[];
  const total = traffic(first);
  if (total === 0) return null;
  return group.reduce((s, c) => s + (c.lowScoreShare as number) * c.traffic, 0) / total;
}

function healthyRoute(
  evidence: DiscoverEvidence,
  scores: readonly ScoreStats[],
  findings: readonly Finding[],
  lowConfidence: boolean,
  lowReasons: readonly string[],
  wtext: string,
  t: DiagnoseThresholds,
): Route {
  const traces = evidence.traffic.traces;
  const scoredN = Math.max(0, ...scores.map((s) => s.n));
  const evidenceLines = [
    `${traces} root traces in the ${wtext}`,
    ...scores.map((s) => `${s.name}: mean ${num(s.mean)} over ${s.n} traces, ${pct(s.shareZero)} at 0, ${s.distinctValues} distinct values`),
    `error rate ${pct(evidence.reliability.errorRate)} (${evidence.reliability.errorCount} errored traces)`,
  ];
  const counter = findings.filter((f) => f.severity !== 'info' || f.plane === 'coverage').map((f) => `${f.title}: ${f.detail}`);
  if (lowConfidence) counter.push(`too little evidence to call production healthy: ${lowReasons.join('; ')}`);
  return {
    id: 'none:healthy',
    artifact: 'none',
    title: lowConfidence ? 'Nothing actionable found (thin evidence)' : 'Production is healthy; no changes',
    rationale: lowConfidence
      ? 'No problem was detected, but the evidence is too thin to rule one out; re-run later with more traffic.'
      : 'Scores are good and discriminating, errors are rare and no cohort is both worse and uncovered.',
    evidence: evidenceLines,
    counterevidence: counter,
    confidence: lowConfidence ? 'low' : traces >= 2 * t.highConfidenceN && scoredN >= t.highConfidenceN ? 'high' : 'medium',
    targets: [],
    findingIds: findings.map((f) => f.id),
    exampleTraceIds: ex(evidence.examples.map((e) => e.traceId)),
  };
}

/** True when the plan says "nothing to change". */
export function isHealthy(d: Pick<Diagnosis, 'routes'>): boolean {
  return d.routes.length === 1 && d.routes[0]?.artifact === 'none';
}
