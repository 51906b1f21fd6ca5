/**
 * Discover: bounded Braintrust SQL over the evidence planes, turned into the DISCOVER FINDINGS record.
 * Rows stay in the run directory (queries.jsonl, traces/); only statistics, ids and refs are returned.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BtClient } from '../bt/client.js';
import { SQL_MAX_LIMIT, before, datasetSource, experimentSource, fieldPath, isQuotable, projectLogs, since, sqlString, textEquals } from '../bt/sql.js';
import { NO_MATCH, cohortCondition, cohortId, cohortPath, datasetTopicMetadataPath, parseCohortId, type CohortKey } from './cohorts.js';
import { traceUrl } from '../handoff/urls.js';
import type {
  ChangeCorrelation,
  CohortStats,
  DatasetCoverage,
  DiscoverEvidence,
  EvalAlignment,
  ExampleTrace,
  InstrumentationHealth,
  PerformanceStats,
  ReliabilityStats,
  ScoreStats,
  StaleScoreColumn,
} from '../workflows/logic/evidence.js';
import type { OrientContext } from '../workflows/types.js';
import { writeJsonAtomic, writeJsonlAtomic } from './files.js';
import { keysOf } from './orient.js';
import { performancePlane } from './performance.js';

type Row = Record<string, unknown>;

/** Fewer root traces than this in the window: widen it (7 → 30 days) before concluding. */
export const LOW_TRAFFIC_TRACES = 50;
const WIDE_WINDOW_DAYS = 30;
const MAX_COHORT_VALUES = 25;
const MAX_COHORT_KEYS = 8;
/** Tag values measured as cohorts (from the schema sample). */
const MAX_TAG_COHORTS = 10;
/** Datasets measured for coverage. */
const MAX_COVERAGE_DATASETS = 10;
const LOW = 0.5;
/** Example traces kept per cohort, tool and error group (the smallest failing trace ids). */
const EXAMPLES_PER_COHORT = 5;
/** Cohorts that get example-trace queries (those with failures, worst first). */
const MAX_COHORT_EXAMPLE_QUERIES = 10;
/** Traces sampled for latency and token percentiles: one page of the service's maximum (LIMIT ≤ 1000). */
export const PERF_SAMPLE_CAP = 1000;

export interface DiscoverParams {
  ctx: OrientContext;
  goal: string;
  windowDays: number;
  iteration: number;
  /** Where this iteration's discover evidence goes. */
  dir: string;
  /** Eval dataset to measure coverage against, if it exists already. */
  datasetId?: string | null;
  /** The instant the window ends at (the same `NOW()` the queries are evaluated at); default the real clock. */
  now?: Date;
}

/** Runs queries and keeps every query with its row count, for the evidence file. */
class QueryLog {
  readonly entries: { query: string; rows: number; ms: number; requests?: number; truncated?: boolean }[] = [];
  constructor(
    private readonly bt: BtClient,
    private readonly signal?: AbortSignal,
  ) {}
  async run(query: string): Promise<Row[]> {
    const started = Date.now();
    const res = await this.bt.sql(query, { signal: this.signal });
    const rows = res.data as Row[];
    this.entries.push({ query, rows: rows.length, ms: Date.now() - started });
    return rows;
  }
  /** A cursor-paged read (`base` without ORDER BY / LIMIT); logged with its request count and whether it hit the cap. */
  async pages(base: string, pageSize: number, maxRows: number): Promise<{ rows: Row[]; truncated: boolean }> {
    const started = Date.now();
    // Newest first: when the cap cuts the read short, the sample is the most recent rows.
    const res = await this.bt.sqlPages(base, { signal: this.signal, pageSize, maxRows, order: 'desc' });
    const rows = res.data as Row[];
    this.entries.push({ query: base, rows: rows.length, ms: Date.now() - started, requests: res.requests, truncated: res.truncated });
    return { rows, truncated: res.truncated };
  }
}

const n = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : 0);
const nOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number.isFinite(n(v)) ? n(v) : null);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

export function windowClause(days: number, olderThanDays?: number): string {
  const lower = since(Math.trunc(days));
  return olderThanDays ? `${lower} AND ${before(Math.trunc(olderThanDays))}` : lower;
}

/** Example trace ids for an equality on a text field: exact SQL, or a LIKE superset narrowed here (sql.ts). */
/**
 * Example traces where `field` equals `value`: the smallest trace ids, not whatever comes first, so two
 * lenses on one failure (a topic, a category, an issue label, a tool) name the same traces, which is how
 * Diagnose sees they are one failure, whichever traces happen to be in the window.
 */
async function examplesWhere(q: QueryLog, from: string, field: string, value: string, rest: string, limit = EXAMPLES_PER_COHORT): Promise<string[]> {
  const m = textEquals(field, value);
  const rows = await q.run(`SELECT root_span_id, ${field} AS v FROM ${from} WHERE ${rest} AND ${m.sql} ORDER BY root_span_id LIMIT ${m.exact ? limit : limit * 20}`);
  return rows.filter((r) => m.matches(str(r.v))).slice(0, limit).map((r) => str(r.root_span_id));
}

export async function discover(bt: BtClient, p: DiscoverParams, signal?: AbortSignal, progress?: (what: string) => void): Promise<DiscoverEvidence> {
  const q = new QueryLog(bt, signal);
  const { ctx } = p;
  const notes: string[] = [];
  if (!(ctx.topicFacets ?? []).length) {
    notes.push('no Topics automation data: root spans carry no classifications, so cohorts come from metadata and tags only (enable Topics in Braintrust for topic cohorts)');
  }
  const src = projectLogs(ctx.project.id);
  const url = (traceId: string) => traceUrl(ctx.appUrl, ctx.org, ctx.project.name, traceId);

  // Traffic, widening the window for low traffic.
  progress?.('measuring traffic');
  const trafficQuery = (days: number) =>
    `SELECT COUNT(*) AS spans, count_distinct(root_span_id) AS traces FROM ${src} WHERE ${windowClause(days)}`;
  let days = p.windowDays;
  let [t] = await q.run(trafficQuery(days));
  let widenedFrom: number | undefined;
  let widenedReason: string | undefined;
  if (n(t?.traces) < LOW_TRAFFIC_TRACES && days < WIDE_WINDOW_DAYS) {
    widenedFrom = days;
    widenedReason = `only ${n(t?.traces)} traces in ${days} days (< ${LOW_TRAFFIC_TRACES})`;
    days = WIDE_WINDOW_DAYS;
    [t] = await q.run(trafficQuery(days));
  }
  const traces = n(t?.traces);
  const now = p.now ?? new Date();
  const window = {
    days,
    from: new Date(now.getTime() - days * 86_400_000).toISOString(),
    to: now.toISOString(),
    ...(widenedFrom !== undefined ? { widenedFrom, widenedReason } : {}),
  };
  const W = windowClause(days);
  const roots = `${src} WHERE is_root = true AND ${W}`;
  const primary = ctx.primaryScore;

  // Quality: one distribution query per score column (the seed's score distribution template).
  progress?.('quality: score distributions');
  const scores: ScoreStats[] = [];
  for (const name of ctx.scoreColumns) {
    const col = fieldPath('scores', name);
    const query = `SELECT ${col} AS value, COUNT(*) AS count FROM ${roots} AND ${col} IS NOT NULL GROUP BY ${col} ORDER BY ${col} LIMIT ${SQL_MAX_LIMIT}`;
    const dist = (await q.run(query)).map((r) => ({ value: n(r.value), count: n(r.count) }));
    const lowQuery = `SELECT root_span_id, ${col} AS score FROM ${roots} AND ${col} <= ${LOW} ORDER BY ${col} LIMIT 5`;
    const low = await q.run(lowQuery);
    scores.push({ ...distributionStats(name, dist), lowScoreExamples: low.map((r) => str(r.root_span_id)), query });
  }

  // Reliability: errors grouped, tool errors by tool.
  progress?.('reliability: errors and tool failures');
  const errQuery = `SELECT error, COUNT(*) AS count FROM ${src} WHERE error IS NOT NULL AND ${W} GROUP BY error ORDER BY count DESC LIMIT 500`;
  // Messages that differ only in ids and numbers are one failure mode: group them by their shape.
  const shapes = new Map<string, { message: string; count: number; sample: string }>();
  for (const g of await q.run(errQuery)) {
    const message = str(g.error);
    const shape = errorShape(message);
    const entry = shapes.get(shape) ?? { message: shape.slice(0, 300), count: 0, sample: message };
    entry.count += n(g.count);
    shapes.set(shape, entry);
  }
  const ranked = [...shapes.values()].sort((a, b) => b.count - a.count || a.message.localeCompare(b.message)).slice(0, 20);
  const groups = [];
  for (const [i, g] of ranked.entries()) {
    const ex = i < 5 ? await examplesWhere(q, src, 'error', g.sample, `error IS NOT NULL AND ${W}`, 3) : [];
    groups.push({ message: g.message, count: g.count, exampleTraceIds: ex });
  }
  const toolQuery = `SELECT span_attributes.name AS tool, COUNT(*) AS calls, COUNT(error) AS errors FROM ${src} WHERE span_attributes.type = 'tool' AND ${W} GROUP BY span_attributes.name ORDER BY errors DESC LIMIT 20`;
  const toolErrors = [];
  for (const r of await q.run(toolQuery)) {
    const errors = n(r.errors);
    const ex = errors ? await examplesWhere(q, src, 'span_attributes.name', str(r.tool), `span_attributes.type = 'tool' AND error IS NOT NULL AND ${W}`) : [];
    toolErrors.push({ tool: str(r.tool), errors, calls: n(r.calls), exampleTraceIds: ex, query: toolQuery });
  }
  const [rootErr] = await q.run(`SELECT count_distinct(root_span_id) AS traces FROM ${src} WHERE error IS NOT NULL AND ${W}`);
  const errorCount = n(rootErr?.traces);
  const reliability: ReliabilityStats = {
    errorCount,
    errorRate: traces ? errorCount / traces : 0,
    groups,
    toolErrors,
    query: errQuery,
  };

  // Coverage: production cohorts (Topics labels, metadata, tags) vs the rows of the datasets the project evaluates with.
  progress?.('coverage: cohorts vs eval datasets');
  const cohortKeys: CohortKey[] = [
    ...(ctx.topicFacets ?? []).filter(isQuotable).map((k) => ({ dimension: 'topic' as const, key: k })),
    ...ctx.metadataKeys.filter(isQuotable).map((k) => ({ dimension: 'metadata' as const, key: k })),
  ].slice(0, MAX_COHORT_KEYS);
  const cohorts: CohortStats[] = [];
  const sc = primary ? fieldPath('scores', primary) : null;
  const measures = sc ? `COUNT(*) AS n, AVG(${sc}) AS mean, COUNT(${sc}) AS scored, count((${sc} <= ${LOW}) ? 1 : null) AS low` : 'COUNT(*) AS n';
  const cohortOf = (ck: CohortKey, value: string, r: Row, query: string): CohortStats => ({
    dimension: ck.dimension,
    key: ck.key,
    value,
    traffic: n(r.n),
    trafficShare: traces ? n(r.n) / traces : 0,
    score: primary,
    meanScore: sc ? nOrNull(r.mean) : null,
    lowScoreShare: sc && n(r.scored) ? n(r.low) / n(r.scored) : null,
    datasetRows: 0,
    datasetShare: 0,
    exampleTraceIds: [],
    query,
  });
  for (const ck of cohortKeys) {
    const path = cohortPath(ck)!;
    const query = `SELECT ${path} AS value, ${measures} FROM ${roots} AND ${path} IS NOT NULL GROUP BY ${path} ORDER BY n DESC LIMIT ${MAX_COHORT_VALUES}`;
    // `no_match` is what Topics writes when nothing applies: never a cohort.
    const rows = (await q.run(query)).filter((r) => !(ck.dimension === 'topic' && str(r.value) === NO_MATCH));
    if (rows.length < 2) continue; // one value is not a cohort split
    for (const r of rows) cohorts.push(cohortOf(ck, str(r.value), r, query));
  }
  // Tags: one bounded query for every tag value seen in the schema sample (a tag on every root is no split).
  const tagValues = (ctx.tagValues ?? []).filter(isQuotable).slice(0, MAX_TAG_COHORTS);
  if (tagValues.length >= 2) {
    const parts = tagValues.map((v, i) => {
      const inTag = `tags IN (${sqlString(v)})`;
      return sc
        ? `count((${inTag}) ? 1 : null) AS n${i}, AVG((${inTag}) ? ${sc} : null) AS mean${i}, count((${inTag}) ? ${sc} : null) AS scored${i}, count((${inTag} AND ${sc} <= ${LOW}) ? 1 : null) AS low${i}`
        : `count((${inTag}) ? 1 : null) AS n${i}`;
    });
    const query = `SELECT ${parts.join(', ')} FROM ${roots}`;
    const [row] = await q.run(query);
    tagValues.forEach((v, i) => {
      const r = { n: row?.[`n${i}`], mean: row?.[`mean${i}`], scored: row?.[`scored${i}`], low: row?.[`low${i}`] };
      if (n(r.n) > 0) cohorts.push(cohortOf({ dimension: 'tag', key: 'tags' }, v, r, query));
    });
  }

  // The datasets the project evaluates with, and how many of their rows fall in each cohort.
  const coverage = await datasetCoverage(q, bt, ctx, p.datasetId ?? null, cohorts, signal);
  for (const c of cohorts) {
    c.datasetRows = coverage.rowsByCohort.get(cohortId(c)) ?? 0;
    c.datasetShare = coverage.totalRows ? c.datasetRows / coverage.totalRows : 0;
  }
  // Example traces for the cohorts that fail at all, worst first (bounded number of queries; see examplesWhere).
  const worst = cohorts
    .filter((c) => c.lowScoreShare !== null && c.lowScoreShare > 0)
    .sort((a, b) => (b.lowScoreShare ?? 0) - (a.lowScoreShare ?? 0) || b.traffic - a.traffic)
    .slice(0, MAX_COHORT_EXAMPLE_QUERIES);
  for (const c of worst) {
    c.exampleTraceIds = await cohortExamples(q, src, c, `is_root = true AND ${W} AND ${fieldPath('scores', primary!)} <= ${LOW}`);
  }

  // Performance and cost: a bounded sample of root metrics; percentiles computed here.
  progress?.('performance: latency and tokens');
  // Latency from the root's metrics.start/end; tokens from the LLM spans (where Braintrust records them), summed per
  // trace in SQL. Both read the same sample: the PERF_SAMPLE_CAP traces with the smallest ids (ids are random, so
  // the sample is unbiased), one page each — not every LLM span of the window.
  const perfQuery = `SELECT root_span_id, metrics."start" AS s, metrics."end" AS e FROM ${roots} ORDER BY root_span_id LIMIT ${PERF_SAMPLE_CAP}`;
  const perfRows = await q.run(perfQuery);
  const tokenQuery = `SELECT root_span_id, SUM(metrics.tokens) AS tokens FROM ${src} WHERE span_attributes.type = 'llm' AND metrics.tokens IS NOT NULL AND ${W} GROUP BY root_span_id ORDER BY root_span_id LIMIT ${PERF_SAMPLE_CAP}`;
  const tokenRows = await q.run(tokenQuery);
  const tokensByTrace = new Map<string, number>();
  for (const r of tokenRows) tokensByTrace.set(str(r.root_span_id), (tokensByTrace.get(str(r.root_span_id)) ?? 0) + n(r.tokens));
  for (const r of perfRows) r.tokens = tokensByTrace.get(str(r.root_span_id)) ?? null;
  const performance = perfStats(perfRows, `${perfQuery}; ${tokenQuery}`);

  // Change correlation: by day and by version-like metadata.
  progress?.('change correlation');
  const changes: ChangeCorrelation[] = [];
  if (primary) {
    const sc = fieldPath('scores', primary);
    const dayQuery = `SELECT DATE_TRUNC('day', created) AS day, COUNT(*) AS n, AVG(${sc}) AS mean FROM ${roots} GROUP BY DATE_TRUNC('day', created) ORDER BY day LIMIT 400`;
    const byDay = await q.run(dayQuery);
    changes.push({ by: 'day', key: 'created', score: primary, groups: byDay.map((r) => ({ group: str(r.day).slice(0, 10), n: n(r.n), mean: nOrNull(r.mean) })), query: dayQuery });
    for (const key of ctx.metadataKeys.filter((k) => /version|model|release|deploy/i.test(k)).slice(0, 3)) {
      const path = fieldPath('metadata', key);
      const vq = `SELECT ${path} AS version, COUNT(*) AS n, AVG(${sc}) AS mean FROM ${roots} GROUP BY ${path} ORDER BY n DESC LIMIT 20`;
      const rows = await q.run(vq);
      changes.push({ by: 'version', key: `metadata.${key}`, score: primary, groups: rows.map((r) => ({ group: str(r.version), n: n(r.n), mean: nOrNull(r.mean) })), query: vq });
    }
  }

  // Performance and cost before vs after each change point (a version, model or any metadata value new in the window).
  progress?.('performance: change points');
  const perfPlane = await performancePlane(q, {
    src,
    window: W,
    days,
    now,
    traces,
    spans: n(t?.spans),
    scorePath: primary ? fieldPath('scores', primary) : null,
    metadataKeys: ctx.metadataKeys,
    dir: p.dir,
  });

  // Instrumentation health: root spans missing input/output/scores; score columns that disappeared.
  progress?.('instrumentation health');
  const instQuery = `SELECT COUNT(*) AS roots, count((input IS NULL) ? 1 : null) AS no_input, count((output IS NULL) ? 1 : null) AS no_output, count((scores IS NULL) ? 1 : null) AS no_scores FROM ${roots}`;
  const [inst] = await q.run(instQuery);
  const rootsN = n(inst?.roots);
  const missingEx = await q.run(`SELECT root_span_id FROM ${roots} AND (input IS NULL OR output IS NULL) LIMIT 3`);
  const stale = await staleScoreColumns(q, src, days);
  const instrumentation: InstrumentationHealth = {
    rootSpans: rootsN,
    missingInput: n(inst?.no_input),
    missingOutput: n(inst?.no_output),
    missingScores: n(inst?.no_scores),
    missingInputShare: rootsN ? n(inst?.no_input) / rootsN : 0,
    missingOutputShare: rootsN ? n(inst?.no_output) / rootsN : 0,
    missingScoresShare: rootsN ? n(inst?.no_scores) / rootsN : 0,
    staleScoreColumns: stale,
    exampleTraceIds: missingEx.map((r) => str(r.root_span_id)),
    query: instQuery,
  };

  // Eval alignment: the baseline experiment vs production on the same scores.
  progress?.('eval alignment');
  let evalAlignment: EvalAlignment | null = null;
  if (ctx.baseline) {
    const names = ctx.scoreColumns;
    const expScores = await experimentScoreNames(q, ctx.baseline.id);
    const common = names.filter((s) => expScores.includes(s));
    const alignQuery = common.length
      ? `SELECT ${common.map((s, i) => `AVG(${fieldPath('scores', s)}) AS s${i}`).join(', ')} FROM ${experimentSource(ctx.baseline.id)} WHERE scores IS NOT NULL`
      : '';
    const [row] = alignQuery ? await q.run(alignQuery) : [undefined];
    evalAlignment = {
      baselineExperimentId: ctx.baseline.id,
      baselineExperimentName: ctx.baseline.name,
      baselineChosenBy: ctx.baseline.chosenBy,
      scores: common.map((s, i) => ({ name: s, baselineMean: nOrNull(row?.[`s${i}`]), productionMean: scores.find((x) => x.name === s)?.mean ?? null })),
      query: alignQuery || `(no score column shared by production and experiment ${ctx.baseline.id})`,
    };
  }

  // Dataset coverage: every dataset measured above, with its splits and per-cohort rows.
  const datasets: DatasetCoverage[] = coverage.datasets;
  if (coverage.note) notes.push(coverage.note);

  // Drill into a few example traces (full span trees saved to the run directory).
  progress?.('drilling into example traces');
  const examples: ExampleTrace[] = [];
  const pick = (traceId: string | undefined, reason: string, score?: number) => {
    if (traceId && !examples.some((e) => e.traceId === traceId)) examples.push({ traceId, url: url(traceId), reason, ...(score !== undefined ? { score } : {}) });
  };
  for (const t of toolErrors.filter((x) => x.errors > 0).slice(0, 2)) pick(t.exampleTraceIds[0], `tool error: ${t.tool}`);
  for (const c of worst.slice(0, 2)) pick(c.exampleTraceIds[0], `low ${primary} in ${cohortId(c)}`);
  // The first change point: its slowest trace next to a typical one from before, to compare the span trees.
  const change = perfPlane.changes[0];
  if (change) {
    const label = `${change.source === 'llm' ? 'llm.' : ''}metadata.${change.key}=${change.value}`;
    pick(change.slowestAfterTraceIds[0], `slowest trace with ${label}`);
    pick(change.typicalBeforeTraceIds[0], `typical trace before ${label}`);
  }
  for (const s of scores.slice(0, 2)) pick(s.lowScoreExamples[0], `low ${s.name}`);
  for (const e of examples.slice(0, 6)) {
    const trace = await bt.viewTrace({ objectRef: `project_logs:${ctx.project.id}`, traceId: e.traceId, signal });
    const spans = (trace as { items?: unknown[] }).items ?? [];
    await writeJsonAtomic(join(p.dir, 'traces', `${e.traceId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), trace);
    e.note = `${spans.length} spans`;
  }

  const evidence: DiscoverEvidence = {
    project: { id: ctx.project.id, name: ctx.project.name },
    goal: p.goal,
    primaryScore: primary,
    window,
    traffic: { traces, spans: n(t?.spans), lowTraffic: traces < LOW_TRAFFIC_TRACES, query: trafficQuery(days) },
    scores,
    reliability,
    cohorts,
    performance,
    performancePlane: perfPlane,
    changes,
    instrumentation,
    evalAlignment,
    datasets,
    examples,
    ...(notes.length ? { notes } : {}),
  };
  await writeJsonlAtomic(join(p.dir, 'queries.jsonl'), q.entries);
  const file = await writeJsonAtomic(join(p.dir, 'evidence.json'), evidence);
  return { ...evidence, file };
}

/** Example traces of a cohort: the smallest trace ids matching `rest` (see examplesWhere). */
async function cohortExamples(q: QueryLog, from: string, c: CohortStats, rest: string, limit = EXAMPLES_PER_COHORT): Promise<string[]> {
  const cond = cohortCondition(c);
  if (!cond) return [];
  const column = c.dimension === 'tag' ? 'tags' : c.dimension === 'topic' ? 'classifications' : c.dimension === 'facet' ? 'facets' : 'metadata';
  const rows = await q.run(`SELECT root_span_id, ${column} FROM ${from} WHERE ${rest} AND ${cond.sql} ORDER BY root_span_id LIMIT ${cond.exact ? limit : limit * 20}`);
  return rows.filter(cond.keep).slice(0, limit).map((r) => str(r.root_span_id));
}

interface CoverageResult {
  datasets: DatasetCoverage[];
  /** Rows of all measured datasets per cohort id, and their total. */
  rowsByCohort: Map<string, number>;
  totalRows: number;
  note?: string;
}

/**
 * The datasets the project evaluates with: those named in its eval or instruction files when any is, else
 * every dataset of the project (`bt datasets list`); plus the flywheel's own dataset. Each dataset's rows are
 * counted per cohort by the matching rule in cohorts.ts (metadata key, tag, topic label).
 */
async function datasetCoverage(
  q: QueryLog,
  bt: BtClient,
  ctx: OrientContext,
  flywheelDatasetId: string | null,
  cohorts: CohortStats[],
  signal?: AbortSignal,
): Promise<CoverageResult> {
  let listed: { id: string; name: string }[] = [];
  try {
    listed = (await bt.datasetsList(ctx.project.name, { signal })).map((d) => ({ id: d.id, name: d.name }));
  } catch {
    listed = [];
  }
  const named = await datasetsNamedIn(ctx, listed.map((d) => d.name));
  let chosen = named.length ? listed.filter((d) => named.includes(d.name)) : listed.filter((d) => d.id !== flywheelDatasetId && d.name !== ctx.datasetName);
  const how = named.length ? `named in ${[...ctx.evalFiles, ...ctx.instructionFiles].join(', ')}` : 'every dataset of the project';
  const flywheel = flywheelDatasetId ? { id: flywheelDatasetId, name: ctx.datasetName } : listed.find((d) => d.name === ctx.datasetName);
  if (flywheel && !chosen.some((d) => d.id === flywheel.id)) chosen.push(flywheel);
  chosen = chosen.slice(0, MAX_COVERAGE_DATASETS);
  const rowsByCohort = new Map<string, number>();
  const out: DatasetCoverage[] = [];
  let totalRows = 0;
  const keys = new Map<string, CohortKey>();
  for (const c of cohorts) keys.set(`${c.dimension}:${c.key}`, { dimension: c.dimension, key: c.key });
  const tagValues = cohorts.filter((c) => c.dimension === 'tag').map((c) => c.value);
  for (const d of chosen) {
    const source = datasetSource(d.id);
    const dq = `SELECT metadata.split AS split, COUNT(*) AS n, count((expected IS NULL) ? 1 : null) AS unlabeled FROM ${source} GROUP BY metadata.split`;
    const splits = await q.run(dq);
    const rows = splits.reduce((a, r) => a + n(r.n), 0);
    totalRows += rows;
    const byKey = (k: string) => splits.filter((r) => str(r.split) === k).reduce((a, r) => a + n(r.n), 0);
    const counts = new Map<string, number>();
    const add = (id: string, k: number) => k && counts.set(id, (counts.get(id) ?? 0) + k);
    for (const ck of keys.values()) {
      if (ck.dimension === 'tag') continue;
      const path = cohortPath(ck);
      if (!path) continue;
      if (ck.dimension === 'topic') {
        // A row counts once: its classification label, else the label recorded in metadata.topics.
        const meta = datasetTopicMetadataPath(ck.key);
        for (const r of await q.run(`SELECT ${path} AS a, ${meta} AS b, COUNT(*) AS n FROM ${source} WHERE ${path} IS NOT NULL OR ${meta} IS NOT NULL GROUP BY ${path}, ${meta}`)) {
          const v = r.a !== null && r.a !== undefined ? str(r.a) : str(r.b);
          if (v !== NO_MATCH) add(cohortId({ ...ck, value: v }), n(r.n));
        }
      } else {
        for (const r of await q.run(`SELECT ${path} AS value, COUNT(*) AS n FROM ${source} WHERE ${path} IS NOT NULL GROUP BY ${path}`)) add(cohortId({ ...ck, value: str(r.value) }), n(r.n));
      }
    }
    if (tagValues.length) {
      const [r] = await q.run(`SELECT ${tagValues.map((v, i) => `count((tags IN (${sqlString(v)})) ? 1 : null) AS t${i}`).join(', ')} FROM ${source}`);
      tagValues.forEach((v, i) => add(cohortId({ dimension: 'tag', key: 'tags', value: v }), n(r?.[`t${i}`])));
    }
    for (const [id, k] of counts) rowsByCohort.set(id, (rowsByCohort.get(id) ?? 0) + k);
    out.push({
      datasetId: d.id,
      name: d.name,
      rows,
      trainRows: byKey('train'),
      validationRows: byKey('validation'),
      unlabeledRows: splits.reduce((a, r) => a + n(r.unlabeled), 0),
      cohorts: [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, rowsN]) => {
        const c = parseCohortId(id)!;
        return { dimension: c.dimension, key: c.key, value: c.value, rows: rowsN };
      }),
      query: dq,
    });
  }
  const note = chosen.length
    ? `coverage measured against ${chosen.map((d) => d.name).join(', ')} (${named.length ? how : `${how}${flywheel ? ' and the flywheel dataset' : ''}`}; ${totalRows} rows)`
    : 'no datasets in the project: every cohort reads 0 eval-dataset rows';
  return { datasets: out, rowsByCohort, totalRows, note };
}

/** Dataset names that appear as quoted strings in the project's eval files or instruction files. */
async function datasetsNamedIn(ctx: OrientContext, names: string[]): Promise<string[]> {
  if (!names.length) return [];
  let text = '';
  for (const f of [...ctx.evalFiles, ...ctx.instructionFiles]) {
    try {
      const path = join(ctx.agentDir, f);
      if ((await stat(path)).isFile()) text += `\n${await readFile(path, 'utf8')}`;
    } catch {
      // unreadable or a directory: skip
    }
  }
  return names.filter((name) => ['"', "'", '`'].some((qt) => text.includes(`${qt}${name}${qt}`)));
}

/** An error message with quoted values and numbers masked, so the same failure mode groups together. */
export function errorShape(message: string): string {
  return message
    .replace(/"[^"]*"|'[^']*'/g, '"…"')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\d+/g, '#');
}

/** Statistics of one score from its value counts. */
export function distributionStats(name: string, dist: { value: number; count: number }[]) {
  const total = dist.reduce((a, d) => a + d.count, 0);
  const mean = total ? dist.reduce((a, d) => a + d.value * d.count, 0) / total : null;
  const variance = total && mean !== null ? dist.reduce((a, d) => a + d.count * (d.value - mean) ** 2, 0) / total : null;
  const histogram = new Array<number>(10).fill(0);
  for (const d of dist) histogram[Math.min(9, Math.max(0, Math.floor(d.value * 10)))]! += d.count;
  return {
    name,
    n: total,
    mean,
    stddev: variance === null ? null : Math.sqrt(variance),
    shareZero: total ? dist.filter((d) => d.value === 0).reduce((a, d) => a + d.count, 0) / total : 0,
    shareOne: total ? dist.filter((d) => d.value === 1).reduce((a, d) => a + d.count, 0) / total : 0,
    distinctValues: dist.length,
    histogram,
  };
}

function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;
}

function perfStats(rows: Row[], query: string): PerformanceStats | null {
  const lat = rows
    .map((r) => ({ id: str(r.root_span_id), ms: (n(r.e) - n(r.s)) * 1000 }))
    .filter((x) => Number.isFinite(x.ms) && x.ms >= 0 && x.ms < 86_400_000)
    .sort((a, b) => a.ms - b.ms);
  const tok = rows.map((r) => nOrNull(r.tokens)).filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (!lat.length && !tok.length) return null;
  return {
    p50LatencyMs: percentile(lat.map((x) => x.ms), 0.5),
    p95LatencyMs: percentile(lat.map((x) => x.ms), 0.95),
    meanTokens: tok.length ? tok.reduce((a, b) => a + b, 0) / tok.length : null,
    p95Tokens: percentile(tok, 0.95),
    totalTokens: tok.length ? tok.reduce((a, b) => a + b, 0) : null,
    exampleTraceIds: lat.slice(-3).reverse().map((x) => x.id),
    query,
  };
}

/** Score columns present in older data (days..30) but absent from the recent window: renamed or dropped. */
async function staleScoreColumns(q: QueryLog, src: string, days: number): Promise<StaleScoreColumn[]> {
  const recentRows = await q.run(`SELECT scores FROM ${src} WHERE is_root = true AND ${windowClause(Math.min(days, 7))} LIMIT 300`);
  // No recent root spans: nothing can be said about columns disappearing. Recent root spans WITHOUT any
  // score keys are the strongest case (every score column disappeared), so they must not return early.
  if (!recentRows.length) return [];
  const recent = new Set(keysOf(recentRows, 'scores'));
  // Only scored rows: the newest older rows may sit in the same logging gap and carry no scores at all.
  const olderRows = await q.run(`SELECT scores, created FROM ${src} WHERE is_root = true AND scores IS NOT NULL AND ${windowClause(Math.max(days, WIDE_WINDOW_DAYS), Math.min(days, 7))} LIMIT 300`);
  const older = new Set(keysOf(olderRows, 'scores'));
  const gone = [...older].filter((k) => !recent.has(k)).sort();
  const fresh = [...recent].filter((k) => !older.has(k));
  return gone.map((name) => {
    const lastSeen = olderRows.filter((r) => r.scores && typeof r.scores === 'object' && name in (r.scores as Row)).map((r) => str(r.created)).sort().pop() ?? null;
    const similar = fresh.find((f) => normalize(f) === normalize(name)) ?? (fresh.length === 1 ? fresh[0]! : null);
    return { name, lastSeen, likelyRenamedTo: similar };
  });
}

const normalize = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

async function experimentScoreNames(q: QueryLog, experimentId: string): Promise<string[]> {
  // Eval scores live on child `score` spans, not on the root.
  return keysOf(await q.run(`SELECT scores FROM ${experimentSource(experimentId)} WHERE scores IS NOT NULL LIMIT 200`), 'scores');
}
