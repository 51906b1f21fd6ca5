/**
 * What every evidence plane of Discover is given, and the small helpers they share.
 *
 * A plane is one module under src/activities/discover/ exporting an async function
 * `(pc: PlaneContext, …) => Promise<typed evidence>`. It runs its queries through `pc.q` (the bounded pool,
 * logged under the plane's name), reads only what the traffic plane measured before it, and returns
 * statistics, ids and query text — never rows. The planner (index.ts) runs the independent planes together
 * and assembles DiscoverEvidence in a fixed order.
 */
import { before, since, textEquals } from '../../bt/sql.js';
import type { OrientContext } from '../../workflows/types.js';
import type { PlaneQueries, Row } from './pool.js';

export type { Row };

/** Scores at or below this are "low" (matches Diagnose's `lowScore`). */
export const LOW = 0.5;
/** Fewer root traces than this in the window: widen it (7 → 30 days) before concluding. */
export const LOW_TRAFFIC_TRACES = 50;
export const WIDE_WINDOW_DAYS = 30;
/** Example traces kept per cohort, tool and error group (the smallest failing trace ids). */
export const EXAMPLES_PER_COHORT = 5;

/** The window and scope every plane after traffic works in. */
export interface PlaneContext {
  q: PlaneQueries;
  ctx: OrientContext;
  /** `project_logs('<id>')`. */
  src: string;
  /** The window's range filter (after any widening). */
  W: string;
  /** `<src> WHERE is_root = true AND <W>`: root spans of the window (append `AND …`). */
  roots: string;
  days: number;
  now: Date;
  /** Root traces and spans in the window (the traffic plane). */
  traces: number;
  spans: number;
  /** The goal / primary score column, and its SQL path. */
  primary: string | null;
  scorePath: string | null;
  /** Where this iteration's evidence files go. */
  dir: string;
  /** Eval dataset the flywheel curates into, if it exists already. */
  datasetId: string | null;
}

export const n = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : 0);
export const nOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number.isFinite(n(v)) ? n(v) : null);
export const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

export function windowClause(days: number, olderThanDays?: number): string {
  const lower = since(Math.trunc(days));
  return olderThanDays ? `${lower} AND ${before(Math.trunc(olderThanDays))}` : lower;
}

/**
 * Example traces where `field` equals `value`: the smallest trace ids, not whatever comes first, so two
 * lenses on one failure (a topic, a category, an issue label, a tool) name the same traces, which is how
 * Diagnose sees they are one failure, whichever traces happen to be in the window. Exact SQL, or a LIKE
 * superset narrowed here (sql.ts).
 */
export async function examplesWhere(q: PlaneQueries, from: string, field: string, value: string, rest: string, limit = EXAMPLES_PER_COHORT): Promise<string[]> {
  const m = textEquals(field, value);
  const rows = await q.run(`SELECT root_span_id, ${field} AS v FROM ${from} WHERE ${rest} AND ${m.sql} ORDER BY root_span_id LIMIT ${m.exact ? limit : limit * 20}`);
  return rows.filter((r) => m.matches(str(r.v))).slice(0, limit).map((r) => str(r.root_span_id));
}

/** Runs `f` over `xs` through the pool (which bounds it) and keeps the input order. */
export const each = <T, U>(xs: readonly T[], f: (x: T, i: number) => Promise<U>): Promise<U[]> => Promise.all(xs.map(f));
