/**
 * Typed evidence produced by the Discover, Improve and Verify activities.
 *
 * Everything here travels through Temporal history, so it holds statistics, ids and file
 * references only — never rows. Every section carries the query text that produced it (or a
 * ref id into the run directory) and example trace ids, so each finding can cite its evidence.
 * Types only: safe to import from workflow code.
 */

/** A file written to the run directory; structurally the same as the activities' `FileRef`. */
export interface FileRef {
  path: string;
  sha256: string;
  bytes: number;
  rows?: number;
}

/** The query (SQL or `bt` command line) behind a statistic, or a ref id of a query stored in the run directory. */
export interface QuerySource {
  /** Absent from the discover activity's result since queries went by number (`queryNo`, logic/query-table.ts). */
  query: string;
  queryRef?: string;
  /** The query's number (discover results with `queriesByNumber`): its text is in the evidence file. */
  queryNo?: number;
}

export type EvidencePlane =
  | 'traffic'
  | 'reliability'
  | 'quality'
  | 'coverage'
  | 'performance'
  | 'change'
  | 'alignment'
  | 'instrumentation';

export interface EvidenceWindow {
  /** Days covered by the queries (after any widening). */
  days: number;
  from: string;
  to: string;
  /** Days of the window first tried, when it was widened for low traffic. */
  widenedFrom?: number;
  /** Why it was widened, e.g. "only 4 root traces in 7 days". */
  widenedReason?: string;
}

export interface TrafficStats extends QuerySource {
  traces: number;
  spans: number;
  lowTraffic: boolean;
}

/** Shape of one score column's values; used for production and for experiments. */
export interface ScoreDistribution {
  name: string;
  /** Non-null values. */
  n: number;
  mean: number | null;
  stddev: number | null;
  /** Share (0..1) of values exactly 0. */
  shareZero: number;
  /** Share (0..1) of values exactly 1. */
  shareOne: number;
  distinctValues: number;
  /** Counts in equal-width bins over [0, 1] (last bin closed); for charts. */
  histogram?: number[];
}

export interface ScoreStats extends ScoreDistribution, QuerySource {
  /** Trace ids of low-scoring root spans (≤ 0.5), a handful. */
  lowScoreExamples: string[];
}

export interface ErrorGroup {
  message: string;
  count: number;
  exampleTraceIds: string[];
}

export interface ToolErrorStat {
  tool: string;
  errors: number;
  /** Total calls of the tool in the window, when known. */
  calls?: number;
  exampleTraceIds: string[];
  /** The query that counted the tool's calls and errors. */
  query?: string;
  queryNo?: number;
}

export interface ReliabilityStats extends QuerySource {
  /** Root traces with an error. */
  errorCount: number;
  /** errorCount / traces. */
  errorRate: number;
  groups: ErrorGroup[];
  toolErrors: ToolErrorStat[];
}

export type CohortDimension = 'facet' | 'metadata' | 'tag' | 'topic';

export interface CohortStats extends QuerySource {
  dimension: CohortDimension;
  key: string;
  value: string;
  traffic: number;
  /** traffic / all traces (0..1). */
  trafficShare: number;
  /** Score the mean refers to (the goal / primary score). */
  score: string | null;
  meanScore: number | null;
  /** Share of scored traces in the cohort at ≤ 0.5. */
  lowScoreShare: number | null;
  /** Root traces of the cohort with an error, when known. */
  errorCount?: number;
  /** Eval-dataset rows covering the cohort, and their share of all dataset rows. */
  datasetRows: number;
  datasetShare: number;
  exampleTraceIds: string[];
}

export interface PerformanceStats extends QuerySource {
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  meanTokens: number | null;
  p95Tokens: number | null;
  totalTokens: number | null;
  /** Slowest traces. */
  exampleTraceIds: string[];
}

/** Latency, tokens, estimated cost and quality of one side (before or after) of a change point. */
export interface PerfSide {
  /** Traces on this side (in the sample). */
  traces: number;
  /** Traces with a usable root latency (metrics.end - metrics.start). */
  latencyTraces: number;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  /** Traces with token counts on their LLM spans. */
  tokenTraces: number;
  meanTokens: number | null;
  p50Tokens: number | null;
  /** Traces whose every LLM span has a model with a known price. */
  costTraces: number;
  /** Estimated cost per trace in USD (list prices; see PerformancePlane.pricing). */
  meanCostUsd: number | null;
  p50CostUsd: number | null;
  /** Mean of the primary score on this side (quality context), when there is one. */
  meanScore: number | null;
}

/**
 * One change point: a value of a metadata key (root metadata, or the model of the trace's LLM spans) that first
 * appears inside the window after its first day, with performance and cost before vs after it.
 */
export interface PerformanceChange extends QuerySource {
  /** Where the key lives: the root span's metadata, or the metadata of the trace's LLM spans. */
  source: 'root' | 'llm';
  key: string;
  /** The new value. */
  value: string;
  /** Values seen before the change point, most common first (a few). */
  previousValues: string[];
  /** First time the value was seen (ISO). */
  changeAt: string;
  /** Share of the sampled traces since the change point that carry the new value. */
  afterShare: number;
  /** Traces before the change point (any other value) vs traces since it carrying the new value. */
  before: PerfSide;
  after: PerfSide;
  /** Slowest and costliest traces with the new value; typical ones from before (median latency). */
  slowestAfterTraceIds: string[];
  costliestAfterTraceIds: string[];
  typicalBeforeTraceIds: string[];
}

/** The performance/cost plane sliced by change points (versions, models, prompts, any key whose value changed). */
export interface PerformancePlane extends QuerySource {
  /** Dimensions examined for change points, e.g. `metadata.agent_version`, `llm.metadata.model`. */
  dimensions: string[];
  changes: PerformanceChange[];
  /** The per-trace sample the statistics come from (a hash-prefix sample of trace ids when traffic exceeds the cap). */
  sample: { traces: number; llmSpans: number; fraction: number; truncated: boolean };
  /** How cost was estimated. */
  pricing: string;
  /** Per-trace rows (latency, tokens, cost, dimension values) in the run directory. */
  rowsFile: FileRef | null;
}

export interface CorrelationGroup {
  group: string;
  n: number;
  mean: number | null;
}

export interface ChangeCorrelation extends QuerySource {
  by: 'day' | 'version';
  /** Metadata key grouped on for `version` (e.g. "metadata.model"); "created" for `day`. */
  key: string;
  score: string;
  groups: CorrelationGroup[];
}

export interface StaleScoreColumn {
  /** Present in older data but not in the recent window. */
  name: string;
  lastSeen: string | null;
  /** A recent-only column with a similar name, if any. */
  likelyRenamedTo: string | null;
}

export interface InstrumentationHealth extends QuerySource {
  rootSpans: number;
  missingInput: number;
  missingOutput: number;
  missingScores: number;
  missingInputShare: number;
  missingOutputShare: number;
  missingScoresShare: number;
  staleScoreColumns: StaleScoreColumn[];
  exampleTraceIds: string[];
}

export interface AlignmentScore {
  name: string;
  baselineMean: number | null;
  productionMean: number | null;
}

export interface EvalAlignment extends QuerySource {
  baselineExperimentId: string | null;
  baselineExperimentName: string | null;
  /** How the baseline was chosen (Orient records it). */
  baselineChosenBy: 'env' | 'session' | 'latest' | 'none';
  scores: AlignmentScore[];
}

export interface ExampleTrace {
  traceId: string;
  url: string;
  /** Why it was drilled into ("low Factuality", "tool error: search"). */
  reason: string;
  score?: number;
  note?: string;
  /** What the trace's span tree shows, when it was fetched (absent in histories recorded before it existed). */
  spanTree?: SpanTreeSummary;
}

/** A drilled-into trace's span tree, read: tool sequence, repeated tool calls, errors, empty outputs, refusals. */
export interface SpanTreeSummary {
  spans: number;
  /** Tool span names in the order they ran (capped). */
  toolSequence: string[];
  /** Tools called more than once in the trace, with their call counts. */
  repeatedTools: Array<{ tool: string; calls: number }>;
  /** Names of the spans that carry an error. */
  errorSpans: string[];
  /** Spans (root, llm, tool) whose output is missing or empty. */
  emptyOutputs: number;
  /** The root or an LLM output reads as a refusal ("I can't help with that…"). */
  refusal: boolean;
}

/** What a follow-up check concluded about its candidate cause. */
export type FollowUpVerdict = 'confirms' | 'refutes' | 'inconclusive';

/**
 * One targeted check of the follow-up pass (src/activities/discover/follow-up.ts): counts from one query (or from
 * span trees already read), the verdict they support and one line in our own words. `term` is trace text (the
 * searched words): untrusted, fenced wherever it is shown.
 */
export interface FollowUpCheck {
  /**
   * error_shape: where an error shape occurs (the candidate's spans vs the rest); low_text: where the candidate's
   * characteristic low-score text occurs (in the cohort vs outside, failing vs passing); outputs: whether the
   * cohort's low scores come with empty or errored outputs; span_trees: the drilled-into traces' span trees.
   */
  kind: 'error_shape' | 'low_text' | 'outputs' | 'span_trees';
  verdict: FollowUpVerdict;
  /** One line: what was counted and what it means (no trace text in it). */
  text: string;
  term?: string;
  counts: Record<string, number>;
  /** The query behind the counts, as a line of the run's queries.jsonl (`queries.jsonl#<line>`). */
  queryRef?: string;
  /** Traces drilled into for this check (a couple at most). */
  traceIds: string[];
}

/** The follow-up of one candidate cause, keyed by the route target it would be (`tool`, `cohort`, `error`, `change`). */
export interface FollowUp {
  target: { kind: 'tool' | 'cohort' | 'error' | 'change'; name: string };
  /** The checks together: refutes if any refutes, confirms if any confirms and none refutes, else inconclusive. */
  verdict: FollowUpVerdict;
  checks: FollowUpCheck[];
}

export interface DatasetCohortCoverage {
  dimension: CohortDimension;
  key: string;
  value: string;
  rows: number;
}

export interface DatasetCoverage extends QuerySource {
  datasetId: string;
  name: string;
  rows: number;
  trainRows: number;
  validationRows: number;
  /** Rows still waiting for a human label. */
  unlabeledRows: number;
  cohorts: DatasetCohortCoverage[];
}

/** The DISCOVER FINDINGS record: everything Diagnose needs, in history-sized form. */
export interface DiscoverEvidence {
  /**
   * The evidence as written to the run directory (everything here but this field). The handoff reads it from
   * there instead of carrying it through history a second time. Absent in histories recorded before it existed.
   */
  file?: FileRef;
  project: { id: string; name: string };
  goal: string;
  /** The goal / primary score column, if one was resolved. */
  primaryScore: string | null;
  window: EvidenceWindow;
  traffic: TrafficStats;
  scores: ScoreStats[];
  reliability: ReliabilityStats;
  cohorts: CohortStats[];
  performance: PerformanceStats | null;
  /** Performance and cost before vs after each change point found in the window (absent in older histories). */
  performancePlane?: PerformancePlane | null;
  changes: ChangeCorrelation[];
  instrumentation: InstrumentationHealth;
  evalAlignment: EvalAlignment | null;
  datasets: DatasetCoverage[];
  examples: ExampleTrace[];
  /** What Discover could not measure or how it chose (no Topics data, which datasets coverage counts). */
  notes?: string[];
  /**
   * The bounded second pass: targeted checks that confirm or refute the battery's candidate causes (absent in
   * histories recorded before it existed; Diagnose then plans exactly as before).
   */
  followUp?: FollowUp[];
  /**
   * Set on the discover activity's result (not in the file): every `query` is a `queryNo`, numbered as
   * numberQueries() numbers the evidence file (logic/query-table.ts). Absent in histories recorded before.
   */
  queriesByNumber?: true;
}

export type EvalSplit = 'train' | 'validation' | 'all';
export type EvalRunMode = 'smoke' | 'full' | 'baseline';

/** One `bt eval` (or the pinned baseline experiment): means only; per-row scores live in `rowsFile`. */
export interface EvalResult {
  experimentId: string;
  experimentName: string;
  url: string;
  split: EvalSplit;
  runMode: EvalRunMode;
  /** Mean per score (null: the score produced no values). */
  scores: Record<string, number | null>;
  rowCount: number;
  /** Rows whose task or scorer raised. */
  errorCount: number;
  /**
   * JSONL of `RowScores`, for the per-row comparison. Only in the stored result (`stored`) since results went to the
   * workflow without it (issue 9: the workflow never reads it; the activities it sends the result to read the file).
   */
  rowsFile?: FileRef | null;
  distributions?: ScoreDistribution[];
  /**
   * Set when the experiment had more spans than the loader's cap: the means and the per-row comparison cover only
   * the `spansRead` spans that were read.
   */
  rowsTruncated?: { spansRead: number; cap: number };
  /**
   * This result as the activity wrote it to the run directory: later activities (compareRuns, writeHandoff) are
   * sent the reference, not the result again. Absent in histories recorded before it existed.
   */
  stored?: FileRef & { kind: 'eval' };
}

/** One eval row's scores, keyed for the join between baseline and new run. */
export interface RowScores {
  /** Stable join key: the dataset record id, else a hash of the input. */
  key: string;
  rowId: string;
  traceId?: string;
  scores: Record<string, number | null>;
}

export interface RowRegression {
  key: string;
  rowId: string;
  traceId?: string;
  score: string;
  baseline: number;
  new: number;
  delta: number;
}

export interface ScoreRowCounts {
  improved: number;
  regressed: number;
  unchanged: number;
}

/** Per-row join of a baseline and a new run. A regression drops by more than `tolerance`. */
export interface RowComparison {
  tolerance: number;
  /** Keys present in both runs. */
  joined: number;
  onlyBaseline: number;
  onlyNew: number;
  /** Row-level: regressed if any score dropped > tolerance; improved if none dropped and one rose > tolerance. */
  improved: number;
  regressed: number;
  unchanged: number;
  perScore: Record<string, ScoreRowCounts>;
  /** Every (row, score) drop, largest drop first. */
  regressions: RowRegression[];
  /**
   * The largest regressions drilled into (input, outputs before and after, scorer rationale), in the run directory
   * (src/activities/drilldown.ts). Absent when nothing regressed, and in histories recorded before it existed.
   */
  drilldown?: FileRef;
  /** Why the drill-in could not be made (the comparison itself stands). */
  drilldownError?: string;
}

/** One regressed eval row, drilled into: its texts are cut and stripped, and still untrusted. */
export interface RegressionDrilldown {
  key: string;
  rowId: string;
  /** The row's trace in the new experiment, and the same row's trace in the baseline experiment. */
  experimentId: string;
  traceId: string | null;
  baselineExperimentId: string;
  baselineTraceId: string | null;
  scores: { score: string; baseline: number; new: number; delta: number }[];
  input: string | null;
  expected: string | null;
  outputBefore: string | null;
  outputAfter: string | null;
  /** Per regressed score: what its scorer logged as the reason, before and after (null: nothing logged). */
  rationale: { score: string; before: string | null; after: string | null }[];
}

export type ChangeArtifact = 'measurement' | 'instrumentation' | 'dataset' | 'agent';

export interface DatasetRowsWritten {
  dataset: string;
  datasetId?: string;
  upserted: number;
  train: number;
  validation: number;
  /** Failing rows written without a label (a `label_data` next step follows). */
  needsLabel: number;
  rowsFile: FileRef | null;
  /** A candidate query hit its row cap: more matching production rows exist than were read. */
  candidatesTruncated?: { cap: number; buckets: Array<'failing' | 'passing'> };
}

export interface FunctionPushed {
  slug: string;
  action: 'created' | 'updated' | 'pushed';
}

/** What one Improve step changed; recorded by the activities. */
export interface ChangeRecord {
  id: string;
  iteration: number;
  /** The Diagnose route that asked for it, and the findings behind that route. */
  routeId: string;
  findingIds: string[];
  artifact: ChangeArtifact;
  description: string;
  files: string[];
  diffStat?: { files: number; insertions: number; deletions: number };
  /** The change as a unified diff, in the run directory (the handoff quotes it; absent in older histories). */
  diffFile?: FileRef;
  datasetRows?: DatasetRowsWritten;
  functions?: FunctionPushed[];
  /** Who applied it: the change-agent command, a person (by signal), or the flywheel itself. */
  appliedBy: string;
  /** The change agent kept a backup of what the change replaced, so it can be put back. */
  revertible?: boolean;
  /** Set when Verify & Decide rejected the change and its files were put back as they were before it. */
  reverted?: ChangeRevert;
}

/** A rejected change, put back in the working copy before the next attempt. */
export interface ChangeRevert {
  /** The routing rule of the verdict that rejected it. */
  rule: string;
  /** Why the change was not accepted. */
  reason: string;
  /** Files restored to their content before the change (or deleted, when it added them). */
  files: string[];
  /** Of those, files edited again after the change (those later edits were undone too). */
  overwritten: string[];
  /** Scorer files pushed again after they were restored. */
  repushedScorers: string[];
}
