/**
 * Discover's performance/cost plane, sliced by change points.
 *
 * A change point is a value of a metadata key — the root span's metadata (agent/app version, prompt version,
 * model, release, or any other key) or the model on the trace's LLM spans — that first appears inside the window
 * after its first day. For each one, latency per trace (root metrics.end - metrics.start), tokens per trace (the
 * LLM spans' token metrics) and an estimated cost per trace are compared before vs after the change point.
 *
 * Only field names (quoted with fieldPath) go into SQL: trace-derived values are compared here, in memory, after
 * bounded paged reads. Per-trace rows go to the run directory; the returned plane holds statistics and ids only.
 */
import { join } from 'node:path';
import { before, fieldPath, isQuotable, SQL_MAX_LIMIT, sqlString } from '../bt/sql.js';
import type { PerformanceChange, PerformancePlane, PerfSide } from '../workflows/logic/evidence.js';
import { writeJsonlAtomic } from './files.js';

type Row = Record<string, unknown>;

/** Root traces read per change analysis at most (five pages of the service's maximum). */
export const PERF_PLANE_MAX_TRACES = 5000;
/** LLM spans read at most (the token and model side of the same traces). */
export const PERF_PLANE_MAX_LLM_SPANS = 20_000;
/** Root metadata keys examined for change points (version-like keys first). */
export const PERF_PLANE_MAX_KEYS = 8;
/** A key with more distinct values than this in the window is an id or free text, not a change dimension. */
export const PERF_PLANE_MAX_VALUES = 10;
/** Change points reported at most (the most frequent new values). */
export const PERF_PLANE_MAX_CHANGES = 5;
/** A new value seen fewer times than this (traces, or LLM spans for a model) is not analysed. */
export const PERF_PLANE_MIN_VALUE_COUNT = 5;
/** Keys whose name marks a change: examined first. */
export const VERSION_LIKE_KEY = /version|release|deploy|model|prompt|build|commit|revision/i;
const EXAMPLES = 3;
const DAY_MS = 86_400_000;

/** List prices in USD per million tokens (input, output), for estimating cost from token counts. */
export const MODEL_PRICES_USD_PER_MTOK: Readonly<Record<string, { input: number; output: number }>> = {
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-3-5-sonnet': { input: 3, output: 15 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-sonnet-4': { input: 3, output: 15 },
};
export const PRICING_NOTE = `estimated from the LLM spans' prompt/completion tokens at list prices per 1M tokens for ${Object.keys(MODEL_PRICES_USD_PER_MTOK).join(', ')} (dated model names match by prefix); traces with another model count for tokens, not cost`;

/** The price of a model: exact name, else the longest known name it starts with (`gpt-4o-mini-2024-07-18`). */
export function priceOf(model: string | null | undefined): { input: number; output: number } | null {
  if (!model) return null;
  const m = model.toLowerCase();
  if (MODEL_PRICES_USD_PER_MTOK[m]) return MODEL_PRICES_USD_PER_MTOK[m]!;
  const prefix = Object.keys(MODEL_PRICES_USD_PER_MTOK)
    .filter((k) => m.startsWith(`${k}-`))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? MODEL_PRICES_USD_PER_MTOK[prefix]! : null;
}

/** Estimated cost of one LLM span in USD; null when the model's price is unknown or no tokens were recorded. */
export function spanCostUsd(model: string | null, prompt: number | null, completion: number | null, total: number | null): number | null {
  const price = priceOf(model);
  if (!price) return null;
  if (prompt !== null || completion !== null) return ((prompt ?? 0) * price.input + (completion ?? 0) * price.output) / 1e6;
  // Only a total: priced as input tokens (a lower bound).
  return total !== null ? (total * price.input) / 1e6 : null;
}

/** Nearest-rank (lower) percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;
}

/** One trace of the sample, as written to the run directory. */
export interface PerfTrace {
  id: string;
  createdMs: number;
  latencyMs: number | null;
  tokens: number | null;
  costUsd: number | null;
  score: number | null;
  /** Dimension label (`metadata.agent_version`, `llm.metadata.model`) → the trace's value(s). */
  dims: Record<string, string[]>;
}

const num = (v: unknown): number | null => {
  const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(x) ? x : null;
};
const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));
const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const asc = (xs: Iterable<number>): number[] => [...xs].sort((a, b) => a - b);

export function sideStats(traces: readonly PerfTrace[]): PerfSide {
  const lat = asc(traces.flatMap((t) => (t.latencyMs === null ? [] : [t.latencyMs])));
  const tok = asc(traces.flatMap((t) => (t.tokens === null ? [] : [t.tokens])));
  const cost = asc(traces.flatMap((t) => (t.costUsd === null ? [] : [t.costUsd])));
  const scores = traces.flatMap((t) => (t.score === null ? [] : [t.score]));
  return {
    traces: traces.length,
    latencyTraces: lat.length,
    p50LatencyMs: percentile(lat, 0.5),
    p95LatencyMs: percentile(lat, 0.95),
    tokenTraces: tok.length,
    meanTokens: mean(tok),
    p50Tokens: percentile(tok, 0.5),
    costTraces: cost.length,
    meanCostUsd: mean(cost),
    p50CostUsd: percentile(cost, 0.5),
    meanScore: mean(scores),
  };
}

/** A dimension: where the key lives, its SQL path, and its label in the evidence. */
export interface PerfDimension {
  source: 'root' | 'llm';
  key: string;
  path: string;
  label: string;
}

export function perfDimensions(metadataKeys: readonly string[]): PerfDimension[] {
  const keys = [...new Set(metadataKeys)].filter((k) => isQuotable(k) && k.length > 0);
  // Version-like keys first, then the rest, each in name order: the cap keeps the keys that mark changes.
  keys.sort((a, b) => Number(VERSION_LIKE_KEY.test(b)) - Number(VERSION_LIKE_KEY.test(a)) || (a < b ? -1 : a > b ? 1 : 0));
  const root = keys.slice(0, PERF_PLANE_MAX_KEYS).map((key) => ({ source: 'root' as const, key, path: fieldPath('metadata', key), label: `metadata.${key}` }));
  return [...root, { source: 'llm', key: 'model', path: fieldPath('metadata', 'model'), label: 'llm.metadata.model' }];
}

/** The id-prefix bound that samples about `fraction` of uniformly random (uuid/hex) trace ids. */
export function sampleBound(fraction: number): string | null {
  if (!(fraction < 1)) return null;
  const x = Math.max(1, Math.floor(fraction * 0x1_0000_0000));
  return x.toString(16).padStart(8, '0');
}

export interface PerfQueries {
  run(query: string): Promise<Row[]>;
  pages(base: string, pageSize: number, maxRows: number): Promise<{ rows: Row[]; truncated: boolean }>;
}

export interface PerfPlaneParams {
  /** `project_logs('<id>')`. */
  src: string;
  /** The window's range filter. */
  window: string;
  days: number;
  now: Date;
  traces: number;
  spans: number;
  /** SQL path of the primary score, for quality context. */
  scorePath: string | null;
  metadataKeys: readonly string[];
  dir: string;
}

/** Change points in the window and performance/cost before vs after each one. */
export async function performancePlane(q: PerfQueries, p: PerfPlaneParams): Promise<PerformancePlane> {
  const dims = perfDimensions(p.metadataKeys);
  const rootDims = dims.filter((d) => d.source === 'root');
  const llmDim = dims.find((d) => d.source === 'llm')!;
  const roots = `${p.src} WHERE is_root = true AND ${p.window}`;
  const llm = `${p.src} WHERE span_attributes.type = 'llm' AND ${p.window}`;
  const queries: string[] = [];
  const empty = (): PerformancePlane => ({
    dimensions: dims.map((d) => d.label),
    changes: [],
    sample: { traces: 0, llmSpans: 0, fraction: 0, truncated: false },
    pricing: PRICING_NOTE,
    rowsFile: null,
    query: queries.join('; '),
  });
  // A change needs a first day to differ from: a one-day window has no before.
  if (p.days < 2 || p.traces === 0) return empty();

  // 1. Which dimensions have values that the window's first day does not have (one query per source).
  const firstDay = before(p.days - 1);
  const distinct = (list: PerfDimension[]) =>
    list.map((d, i) => `count_distinct(${d.path}) AS a${i}, count_distinct((${firstDay}) ? ${d.path} : null) AS e${i}`).join(', ');
  const candidates: PerfDimension[] = [];
  const sources = ([[rootDims, roots], [[llmDim], llm]] as const).filter(([list]) => list.length > 0);
  const distinctQueries = sources.map(([list, from]) => `SELECT ${distinct([...list])} FROM ${from}`);
  queries.push(...distinctQueries);
  // Independent queries run together (the caller's pool bounds them); results are read in a fixed order.
  const distinctRows = await Promise.all(distinctQueries.map((query) => q.run(query)));
  sources.forEach(([list], k) => {
    const r = distinctRows[k]![0];
    list.forEach((d, i) => {
      const all = num(r?.[`a${i}`]) ?? 0;
      const early = num(r?.[`e${i}`]) ?? 0;
      if (all >= 2 && all <= PERF_PLANE_MAX_VALUES && all > early) candidates.push(d);
    });
  });

  // 2. The new values of those dimensions and when each first appeared.
  const boundaryMs = p.now.getTime() - (p.days - 1) * DAY_MS;
  const found: Array<{ dim: PerfDimension; value: string; n: number; changeAtMs: number; changeAt: string; query: string }> = [];
  const valueQueries = candidates.map((d) => {
    const from = d.source === 'root' ? roots : llm;
    return `SELECT ${d.path} AS value, COUNT(*) AS n, MIN(created) AS first_seen FROM ${from} AND ${d.path} IS NOT NULL GROUP BY ${d.path} ORDER BY n DESC LIMIT ${PERF_PLANE_MAX_VALUES + 1}`;
  });
  queries.push(...valueQueries);
  const valueRows = await Promise.all(valueQueries.map((query) => q.run(query)));
  for (const [k, d] of candidates.entries()) {
    const query = valueQueries[k]!;
    for (const r of valueRows[k]!) {
      const at = Date.parse(str(r.first_seen));
      const n = num(r.n) ?? 0;
      // A model recorded on the root too is one change, reported once (under the root key).
      const seenOnRoot = d.source === 'llm' && found.some((f) => f.dim.source === 'root' && f.dim.key.toLowerCase() === 'model' && f.value === str(r.value));
      if (Number.isFinite(at) && at >= boundaryMs && n >= PERF_PLANE_MIN_VALUE_COUNT && !seenOnRoot) {
        found.push({ dim: d, value: str(r.value), n, changeAtMs: at, changeAt: new Date(at).toISOString(), query });
      }
    }
  }
  found.sort((a, b) => b.n - a.n || a.changeAtMs - b.changeAtMs || (a.dim.label + a.value < b.dim.label + b.value ? -1 : 1));
  const changes = found.slice(0, PERF_PLANE_MAX_CHANGES);
  if (!changes.length) return empty();

  // 3. One bounded per-trace sample: roots (latency, score, the changed root dimensions) and their LLM spans (tokens, model).
  const readDims = rootDims.filter((d) => changes.some((c) => c.dim === d));
  const fraction = Math.min(1, PERF_PLANE_MAX_TRACES / p.traces, PERF_PLANE_MAX_LLM_SPANS / Math.max(1, p.spans));
  const bound = sampleBound(fraction);
  const sampled = bound ? ` AND root_span_id < ${sqlString(bound)}` : '';
  const rootCols = [
    'root_span_id',
    'created',
    `${fieldPath('metrics', 'start')} AS s`,
    `${fieldPath('metrics', 'end')} AS e`,
    ...(p.scorePath ? [`${p.scorePath} AS score`] : []),
    ...readDims.map((d, i) => `${d.path} AS d${i}`),
  ];
  const rootQuery = `SELECT ${rootCols.join(', ')} FROM ${roots}${sampled}`;
  const llmQuery = `SELECT root_span_id, ${llmDim.path} AS model, ${fieldPath('metrics', 'prompt_tokens')} AS pt, ${fieldPath('metrics', 'completion_tokens')} AS ct, ${fieldPath('metrics', 'tokens')} AS t FROM ${llm}${sampled}`;
  queries.push(rootQuery, llmQuery);
  const [rootRead, llmRead] = await Promise.all([q.pages(rootQuery, SQL_MAX_LIMIT, PERF_PLANE_MAX_TRACES), q.pages(llmQuery, SQL_MAX_LIMIT, PERF_PLANE_MAX_LLM_SPANS)]);

  const byId = new Map<string, PerfTrace>();
  for (const r of rootRead.rows) {
    const id = str(r.root_span_id);
    const createdMs = Date.parse(str(r.created));
    if (!id || !Number.isFinite(createdMs)) continue;
    const s = num(r.s);
    const e = num(r.e);
    const ms = s !== null && e !== null ? (e - s) * 1000 : null;
    const dimsOf: Record<string, string[]> = {};
    readDims.forEach((d, i) => {
      const v = r[`d${i}`];
      if (v !== null && v !== undefined) dimsOf[d.label] = [str(v)];
    });
    byId.set(id, {
      id,
      createdMs,
      latencyMs: ms !== null && ms >= 0 && ms < DAY_MS ? ms : null,
      tokens: null,
      costUsd: null,
      score: num(r.score),
      dims: dimsOf,
    });
  }
  const unpriced = new Set<string>();
  for (const r of llmRead.rows) {
    const t = byId.get(str(r.root_span_id));
    if (!t) continue;
    const model = r.model === null || r.model === undefined ? null : str(r.model);
    if (model !== null) {
      const models = (t.dims[llmDim.label] ??= []);
      if (!models.includes(model)) models.push(model);
    }
    const pt = num(r.pt);
    const ct = num(r.ct);
    const total = num(r.t) ?? (pt !== null || ct !== null ? (pt ?? 0) + (ct ?? 0) : null);
    if (total !== null) t.tokens = (t.tokens ?? 0) + total;
    const cost = spanCostUsd(model, pt, ct, total);
    if (cost === null) unpriced.add(t.id);
    else t.costUsd = (t.costUsd ?? 0) + cost;
  }
  for (const id of unpriced) byId.get(id)!.costUsd = null;
  const sample = [...byId.values()].sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  // 4. Before vs after each change point.
  const out: PerformanceChange[] = changes.map((c) => {
    const has = (t: PerfTrace) => (t.dims[c.dim.label] ?? []).includes(c.value);
    const beforeSide = sample.filter((t) => t.createdMs < c.changeAtMs && !has(t));
    const since = sample.filter((t) => t.createdMs >= c.changeAtMs);
    const afterSide = since.filter(has);
    const previous = new Map<string, number>();
    for (const t of beforeSide) for (const v of t.dims[c.dim.label] ?? []) previous.set(v, (previous.get(v) ?? 0) + 1);
    const b = sideStats(beforeSide);
    const byLatency = [...afterSide].filter((t) => t.latencyMs !== null).sort((x, y) => y.latencyMs! - x.latencyMs! || (x.id < y.id ? -1 : 1));
    const byCost = [...afterSide]
      .filter((t) => (t.costUsd ?? t.tokens) !== null)
      .sort((x, y) => (y.costUsd ?? y.tokens!) - (x.costUsd ?? x.tokens!) || (x.id < y.id ? -1 : 1));
    const typical = [...beforeSide]
      .filter((t) => t.latencyMs !== null)
      .sort((x, y) => Math.abs(x.latencyMs! - (b.p50LatencyMs ?? 0)) - Math.abs(y.latencyMs! - (b.p50LatencyMs ?? 0)) || (x.id < y.id ? -1 : 1));
    return {
      query: `${c.query}; ${rootQuery}; ${llmQuery}`,
      source: c.dim.source,
      key: c.dim.key,
      value: c.value,
      previousValues: [...previous.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, 3).map(([v]) => v),
      changeAt: c.changeAt,
      afterShare: since.length ? afterSide.length / since.length : 0,
      before: b,
      after: sideStats(afterSide),
      slowestAfterTraceIds: byLatency.slice(0, EXAMPLES).map((t) => t.id),
      costliestAfterTraceIds: byCost.slice(0, EXAMPLES).map((t) => t.id),
      typicalBeforeTraceIds: typical.slice(0, EXAMPLES).map((t) => t.id),
    };
  });

  const rowsFile = await writeJsonlAtomic(
    join(p.dir, 'performance-traces.jsonl'),
    sample.map((t) => ({ trace_id: t.id, created: new Date(t.createdMs).toISOString(), latency_ms: t.latencyMs, tokens: t.tokens, cost_usd: t.costUsd, score: t.score, dimensions: t.dims })),
  );
  return {
    dimensions: dims.map((d) => d.label),
    changes: out,
    sample: { traces: sample.length, llmSpans: llmRead.rows.length, fraction, truncated: rootRead.truncated || llmRead.truncated },
    pricing: PRICING_NOTE,
    rowsFile,
    query: queries.join('; '),
  };
}
