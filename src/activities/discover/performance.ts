/**
 * Performance/cost plane: latency and token percentiles over a bounded sample of the window, and performance
 * and cost before vs after each change point (a version, model or any metadata value new in the window; the
 * change-point analysis lives in ../performance.ts).
 */
import type { PerformancePlane, PerformanceStats } from '../../workflows/logic/evidence.js';
import { percentile, performancePlane } from '../performance.js';
import { n, nOrNull, str, type PlaneContext, type Row } from './context.js';

/** Traces sampled for latency and token percentiles: one page of the service's maximum (LIMIT ≤ 1000). */
export const PERF_SAMPLE_CAP = 1000;

export interface PerformanceEvidence {
  performance: PerformanceStats | null;
  performancePlane: PerformancePlane;
}

export async function performanceEvidence(pc: PlaneContext): Promise<PerformanceEvidence> {
  const { q, src, W, roots } = pc;
  // Latency from the root's metrics.start/end; tokens from the LLM spans (where Braintrust records them), summed per
  // trace in SQL. Both read the same sample: the PERF_SAMPLE_CAP traces with the smallest ids (ids are random, so
  // the sample is unbiased), one page each — not every LLM span of the window.
  const perfQuery = `SELECT root_span_id, metrics."start" AS s, metrics."end" AS e FROM ${roots} ORDER BY root_span_id LIMIT ${PERF_SAMPLE_CAP}`;
  const tokenQuery = `SELECT root_span_id, SUM(metrics.tokens) AS tokens FROM ${src} WHERE span_attributes.type = 'llm' AND metrics.tokens IS NOT NULL AND ${W} GROUP BY root_span_id ORDER BY root_span_id LIMIT ${PERF_SAMPLE_CAP}`;
  const [perfRows, tokenRows, plane] = await Promise.all([
    q.run(perfQuery),
    q.run(tokenQuery),
    performancePlane(q, {
      src,
      window: W,
      days: pc.days,
      now: pc.now,
      traces: pc.traces,
      spans: pc.spans,
      scorePath: pc.scorePath,
      metadataKeys: pc.ctx.metadataKeys,
      dir: pc.dir,
    }),
  ]);
  const tokensByTrace = new Map<string, number>();
  for (const r of tokenRows) tokensByTrace.set(str(r.root_span_id), (tokensByTrace.get(str(r.root_span_id)) ?? 0) + n(r.tokens));
  for (const r of perfRows) r.tokens = tokensByTrace.get(str(r.root_span_id)) ?? null;
  return { performance: perfStats(perfRows, `${perfQuery}; ${tokenQuery}`), performancePlane: plane };
}

/** p50/p95 latency and token statistics of the sampled traces; null when none has either. */
export function perfStats(rows: Row[], query: string): PerformanceStats | null {
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
