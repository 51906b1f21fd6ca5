/**
 * `GET /experiment-comparison2`: per-score and per-metric summaries of an experiment against a base
 * experiment. Rows are matched by their input (canonical JSON); a row whose score rose is an
 * improvement, one whose score fell is a regression. For metrics (duration, tokens) lower is better.
 */
import { sqlStr } from './btql/translate.js';
import type { Store } from './store.js';

export interface ScoreSummary {
  name: string;
  score: number;
  diff?: number;
  improvements?: number;
  regressions?: number;
}

export interface MetricSummary {
  name: string;
  metric: number;
  unit: string;
  diff?: number;
  improvements?: number;
  regressions?: number;
}

interface TraceStats {
  key: string;
  scores: Record<string, number>;
  metrics: Record<string, number>;
}

const EPS = 1e-9;
const TOKEN_METRICS: Array<[string, string]> = [
  ['prompt_tokens', 'prompt_tokens'],
  ['completion_tokens', 'completion_tokens'],
  ['tokens', 'total_tokens'],
];

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

async function traceStats(store: Store, experimentId: string): Promise<TraceStats[]> {
  // Scores of a trace are those of all its spans (the SDK logs each scorer as a child "score" span),
  // averaged per name; token metrics are summed over spans; duration is the root span's.
  const rows = await store.readJson(
    `SELECT root_span_id, is_root, input, scores, metrics FROM rows
     WHERE object_type = 'experiment' AND object_id = ${sqlStr(experimentId)} ORDER BY _pk`,
  );
  const traces = new Map<string, { key: string; hasRoot: boolean; scoreLists: Map<string, number[]>; metrics: Record<string, number> }>();
  for (const r of rows) {
    const rid = String(r.root_span_id);
    let t = traces.get(rid);
    if (!t) traces.set(rid, (t = { key: '', hasRoot: false, scoreLists: new Map(), metrics: {} }));
    const m = (r.metrics ?? {}) as Record<string, unknown>;
    if (r.is_root === true) {
      t.hasRoot = true;
      t.key = canonicalJson(r.input ?? null);
      if (typeof m.start === 'number' && typeof m.end === 'number') t.metrics.duration = m.end - m.start;
    }
    for (const [col, name] of TOKEN_METRICS) {
      const v = m[col];
      if (typeof v === 'number' && Number.isFinite(v)) t.metrics[name] = (t.metrics[name] ?? 0) + v;
    }
    if (r.scores && typeof r.scores === 'object') {
      for (const [k, v] of Object.entries(r.scores as Record<string, unknown>)) {
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        const list = t.scoreLists.get(k);
        if (list) list.push(v);
        else t.scoreLists.set(k, [v]);
      }
    }
  }
  return [...traces.values()]
    .filter((t) => t.hasRoot)
    .map((t) => ({ key: t.key, metrics: t.metrics, scores: Object.fromEntries([...t.scoreLists].map(([k, vs]) => [k, mean(vs)])) }));
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function collect(stats: TraceStats[], pick: (s: TraceStats) => Record<string, number>): Map<string, { all: number[]; byKey: Map<string, number[]> }> {
  const out = new Map<string, { all: number[]; byKey: Map<string, number[]> }>();
  for (const s of stats) {
    for (const [name, v] of Object.entries(pick(s))) {
      let e = out.get(name);
      if (!e) out.set(name, (e = { all: [], byKey: new Map() }));
      e.all.push(v);
      const list = e.byKey.get(s.key);
      if (list) list.push(v);
      else e.byKey.set(s.key, [v]);
    }
  }
  return out;
}

function compare(
  cur: { all: number[]; byKey: Map<string, number[]> },
  base: { all: number[]; byKey: Map<string, number[]> } | undefined,
  higherIsBetter: boolean,
): { value: number; diff?: number; improvements?: number; regressions?: number } {
  const value = mean(cur.all);
  if (!base || base.all.length === 0) return { value };
  let improvements = 0;
  let regressions = 0;
  for (const [key, vals] of cur.byKey) {
    const b = base.byKey.get(key);
    if (!b) continue;
    const d = mean(vals) - mean(b);
    if (Math.abs(d) <= EPS) continue;
    if (d > 0 === higherIsBetter) improvements++;
    else regressions++;
  }
  return { value, diff: value - mean(base.all), improvements, regressions };
}

export async function experimentComparison(
  store: Store,
  experimentId: string,
  baseExperimentId: string | undefined,
): Promise<{ scores: Record<string, ScoreSummary>; metrics: Record<string, MetricSummary> }> {
  const cur = await traceStats(store, experimentId);
  const base = baseExperimentId ? await traceStats(store, baseExperimentId) : [];
  const curScores = collect(cur, (s) => s.scores);
  const baseScores = collect(base, (s) => s.scores);
  const scores: Record<string, ScoreSummary> = {};
  for (const name of [...curScores.keys()].sort()) {
    const c = compare(curScores.get(name)!, baseExperimentId ? baseScores.get(name) : undefined, true);
    scores[name] = { name, score: c.value, ...(c.diff !== undefined ? { diff: c.diff, improvements: c.improvements!, regressions: c.regressions! } : {}) };
  }
  const curMetrics = collect(cur, (s) => s.metrics);
  const baseMetrics = collect(base, (s) => s.metrics);
  const metrics: Record<string, MetricSummary> = {};
  for (const name of [...curMetrics.keys()].sort()) {
    const c = compare(curMetrics.get(name)!, baseExperimentId ? baseMetrics.get(name) : undefined, false);
    metrics[name] = {
      name,
      metric: c.value,
      unit: name === 'duration' ? 's' : 'tok',
      ...(c.diff !== undefined ? { diff: c.diff, improvements: c.improvements!, regressions: c.regressions! } : {}),
    };
  }
  return { scores, metrics };
}
