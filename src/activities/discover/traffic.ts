/**
 * Traffic plane: root traces and spans in the window, widening a low-traffic window (7 → 30 days) before
 * anything is concluded. Runs first: every other plane works in the window it settles on.
 */
import type { EvidenceWindow, TrafficStats } from '../../workflows/logic/evidence.js';
import { LOW_TRAFFIC_TRACES, WIDE_WINDOW_DAYS, n, windowClause } from './context.js';
import type { PlaneQueries } from './pool.js';

export interface TrafficEvidence {
  traffic: TrafficStats;
  window: EvidenceWindow;
}

export const trafficQuery = (src: string, days: number): string =>
  `SELECT COUNT(*) AS spans, count_distinct(root_span_id) AS traces FROM ${src} WHERE ${windowClause(days)}`;

export async function trafficPlane(q: PlaneQueries, p: { src: string; windowDays: number; now: Date }): Promise<TrafficEvidence> {
  let days = p.windowDays;
  let [t] = await q.run(trafficQuery(p.src, days));
  let widenedFrom: number | undefined;
  let widenedReason: string | undefined;
  if (n(t?.traces) < LOW_TRAFFIC_TRACES && days < WIDE_WINDOW_DAYS) {
    widenedFrom = days;
    widenedReason = `only ${n(t?.traces)} traces in ${days} days (< ${LOW_TRAFFIC_TRACES})`;
    days = WIDE_WINDOW_DAYS;
    [t] = await q.run(trafficQuery(p.src, days));
  }
  const traces = n(t?.traces);
  return {
    traffic: { traces, spans: n(t?.spans), lowTraffic: traces < LOW_TRAFFIC_TRACES, query: trafficQuery(p.src, days) },
    window: {
      days,
      from: new Date(p.now.getTime() - days * 86_400_000).toISOString(),
      to: p.now.toISOString(),
      ...(widenedFrom !== undefined ? { widenedFrom, widenedReason } : {}),
    },
  };
}
