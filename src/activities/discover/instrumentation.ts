/**
 * Instrumentation plane: root spans missing input, output or scores, and score columns that disappeared from
 * recent data (renamed or dropped).
 */
import type { InstrumentationHealth, StaleScoreColumn } from '../../workflows/logic/evidence.js';
import { keysOf } from '../orient.js';
import { WIDE_WINDOW_DAYS, n, str, windowClause, type PlaneContext, type Row } from './context.js';
import type { PlaneQueries } from './pool.js';

export async function instrumentationPlane(pc: PlaneContext): Promise<InstrumentationHealth> {
  const { q, roots } = pc;
  const instQuery = `SELECT COUNT(*) AS roots, count((input IS NULL) ? 1 : null) AS no_input, count((output IS NULL) ? 1 : null) AS no_output, count((scores IS NULL) ? 1 : null) AS no_scores FROM ${roots}`;
  const [[inst], missingEx, stale] = await Promise.all([
    q.run(instQuery),
    q.run(`SELECT root_span_id FROM ${roots} AND (input IS NULL OR output IS NULL) ORDER BY root_span_id LIMIT 3`),
    staleScoreColumns(q, pc.src, pc.days),
  ]);
  const rootsN = n(inst?.roots);
  return {
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
}

/** Score columns present in older data (days..30) but absent from the recent window: renamed or dropped. */
async function staleScoreColumns(q: PlaneQueries, src: string, days: number): Promise<StaleScoreColumn[]> {
  // Only scored rows in the older read: the newest older rows may sit in the same logging gap and carry no scores at all.
  const [recentRows, olderRows] = await Promise.all([
    q.run(`SELECT scores FROM ${src} WHERE is_root = true AND ${windowClause(Math.min(days, 7))} LIMIT 300`),
    q.run(`SELECT scores, created FROM ${src} WHERE is_root = true AND scores IS NOT NULL AND ${windowClause(Math.max(days, WIDE_WINDOW_DAYS), Math.min(days, 7))} LIMIT 300`),
  ]);
  return staleColumns(recentRows, olderRows);
}

/**
 * No recent root spans: nothing can be said about columns disappearing. Recent root spans WITHOUT any score
 * keys are the strongest case (every score column disappeared), so they do not return early.
 */
export function staleColumns(recentRows: Row[], olderRows: Row[]): StaleScoreColumn[] {
  if (!recentRows.length) return [];
  const recent = new Set(keysOf(recentRows, 'scores'));
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
