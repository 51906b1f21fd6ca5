/**
 * Regression drill-in: for the few rows that dropped most from the baseline (compareRuns' per-row comparison), the
 * eval trace's input, expected, output before and after, and each regressed score's rationale as its scorer logged it
 * (the score span's metadata: `rationale`, or what the scorer put there). Written to the run directory; the handoff
 * reads it back (rows never travel through history). Every text is production- or agent-derived: stripped and cut here,
 * escaped or fenced where it is shown.
 */
import { join } from 'node:path';
import type { BtClient } from '../bt/client.js';
import { LARGE_FIELD_PAGE_SIZE, experimentSource, isQuotable, sqlString } from '../bt/sql.js';
import { cleanText } from '../untrusted.js';
import type { EvalResult, RegressionDrilldown, RowComparison, RowScores } from '../workflows/logic/evidence.js';
import { readJsonl, writeJsonAtomic, type FileRef } from './files.js';
import { allInOrder } from './concurrent.js';

/** Regressed rows drilled into (the largest drops). */
export const DRILLDOWN_ROWS = 3;
/** Characters kept of each input, output, expected and rationale. */
export const DRILLDOWN_TEXT_CHARS = 400;

const text = (v: unknown): string | null => (v === null || v === undefined ? null : cleanText(typeof v === 'string' ? v : JSON.stringify(v), DRILLDOWN_TEXT_CHARS, false));

/** The rationale a scorer logged for `score` on its score span: `metadata.rationale`, the score's own entry, or the metadata. */
export function rationaleOf(score: string, spans: readonly Record<string, unknown>[]): string | null {
  const attrs = (s: Record<string, unknown>) => (s.span_attributes ?? {}) as { name?: unknown; type?: unknown };
  const scores = (s: Record<string, unknown>) => (s.scores ?? {}) as Record<string, unknown>;
  const span = spans.find((s) => attrs(s).name === score && score in scores(s)) ?? spans.find((s) => score in scores(s) && attrs(s).type === 'score');
  if (!span) return null;
  const meta = span.metadata as Record<string, unknown> | null | undefined;
  if (meta === null || meta === undefined || (typeof meta === 'object' && !Object.keys(meta).length)) return null;
  if (typeof meta !== 'object') return text(meta);
  for (const k of ['rationale', 'reason', 'explanation']) if (typeof meta[k] === 'string') return text(meta[k]);
  // Several scores from one scorer: the metadata is keyed by score name.
  const own = meta[score];
  if (own && typeof own === 'object') {
    const o = own as Record<string, unknown>;
    for (const k of ['rationale', 'reason', 'explanation']) if (typeof o[k] === 'string') return text(o[k]);
    return text(own);
  }
  return text(meta);
}

/** Root rows (input, output, expected) and score spans of some traces of one experiment. */
async function readTraces(bt: BtClient, experimentId: string, traceIds: string[], signal?: AbortSignal): Promise<{ roots: Map<string, Record<string, unknown>>; scoreSpans: Map<string, Record<string, unknown>[]> }> {
  const roots = new Map<string, Record<string, unknown>>();
  const scoreSpans = new Map<string, Record<string, unknown>[]>();
  const ids = traceIds.filter(isQuotable);
  if (!ids.length) return { roots, scoreSpans };
  const src = experimentSource(experimentId);
  const inList = ids.map(sqlString).join(', ');
  // The root rows and the score spans are independent reads: both at once.
  const [r, s] = await allInOrder(signal, [
    (sig) => bt.sqlPages(`SELECT root_span_id, input, output, expected FROM ${src} WHERE is_root = true AND root_span_id IN (${inList})`, { signal: sig, pageSize: LARGE_FIELD_PAGE_SIZE, maxRows: ids.length }),
    (sig) =>
      bt.sqlPages(`SELECT root_span_id, span_attributes, scores, metadata FROM ${src} WHERE is_root = false AND scores IS NOT NULL AND root_span_id IN (${inList})`, {
        signal: sig,
        // metadata is a large field: pages of LARGE_FIELD_PAGE_SIZE.
        pageSize: LARGE_FIELD_PAGE_SIZE,
        maxRows: ids.length * 50,
      }),
  ] as const);
  for (const row of r.data as Record<string, unknown>[]) roots.set(String(row.root_span_id), row);
  for (const row of s.data as Record<string, unknown>[]) {
    const id = String(row.root_span_id);
    scoreSpans.set(id, [...(scoreSpans.get(id) ?? []), row]);
  }
  return { roots, scoreSpans };
}

export interface DrilldownDoc {
  baselineExperimentId: string;
  newExperimentId: string;
  /** Rows that regressed, and how many of them are drilled into here. */
  regressedRows: number;
  rows: RegressionDrilldown[];
}

/**
 * Drills into the largest regressions of `comparison` (baseline vs next) and writes them to `dir`. Null when nothing
 * regressed.
 */
export async function drillIntoRegressions(
  bt: BtClient,
  p: { baseline: EvalResult; next: EvalResult; comparison: Pick<RowComparison, 'regressions' | 'regressed'>; dir: string; maxRows?: number },
  signal?: AbortSignal,
): Promise<FileRef | null> {
  if (!p.comparison.regressions.length) return null;
  // Rows in order of their largest drop (regressions come largest first), each with all of its dropped scores.
  const byKey = new Map<string, RowComparison['regressions']>();
  for (const r of p.comparison.regressions) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  const keys = [...byKey.keys()].slice(0, p.maxRows ?? DRILLDOWN_ROWS);
  const baseRows = p.baseline.rowsFile ? await readJsonl<RowScores>(p.baseline.rowsFile.path) : [];
  const baseTrace = new Map(baseRows.map((r) => [r.key, r.traceId ?? null]));
  const picked = keys.map((key) => {
    const regs = byKey.get(key)!;
    return { key, regs, traceId: regs[0]!.traceId ?? null, baselineTraceId: baseTrace.get(key) ?? null };
  });
  const [before, after] = await allInOrder(signal, [
    (sig) => readTraces(bt, p.baseline.experimentId, picked.flatMap((x) => (x.baselineTraceId ? [x.baselineTraceId] : [])), sig),
    (sig) => readTraces(bt, p.next.experimentId, picked.flatMap((x) => (x.traceId ? [x.traceId] : [])), sig),
  ] as const);
  const rows: RegressionDrilldown[] = picked.map(({ key, regs, traceId, baselineTraceId }) => {
    const b = baselineTraceId ? before.roots.get(baselineTraceId) : undefined;
    const a = traceId ? after.roots.get(traceId) : undefined;
    return {
      key,
      rowId: regs[0]!.rowId,
      experimentId: p.next.experimentId,
      traceId,
      baselineExperimentId: p.baseline.experimentId,
      baselineTraceId,
      scores: regs.map((r) => ({ score: r.score, baseline: r.baseline, new: r.new, delta: r.delta })),
      input: text(a?.input ?? b?.input),
      expected: text(a?.expected ?? b?.expected),
      outputBefore: text(b?.output),
      outputAfter: text(a?.output),
      rationale: regs.map((r) => ({
        score: r.score,
        before: baselineTraceId ? rationaleOf(r.score, before.scoreSpans.get(baselineTraceId) ?? []) : null,
        after: traceId ? rationaleOf(r.score, after.scoreSpans.get(traceId) ?? []) : null,
      })),
    };
  });
  const doc: DrilldownDoc = { baselineExperimentId: p.baseline.experimentId, newExperimentId: p.next.experimentId, regressedRows: p.comparison.regressed, rows };
  return writeJsonAtomic(join(p.dir, `regressions-drilldown-${p.baseline.experimentId}-${p.next.experimentId}.json`), doc);
}
