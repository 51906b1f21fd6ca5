/**
 * Discover: a small planner over one module per evidence plane, turned into the DISCOVER FINDINGS record.
 *
 *   traffic (settles the window) → quality, reliability, coverage, performance/cost, change correlation,
 *   instrumentation, alignment (independent, together) → drill-in into a few example traces
 *   → follow-up (follow-up.ts): a bounded second pass that confirms or refutes the candidate causes
 *
 * Every plane returns typed evidence; the planner assembles DiscoverEvidence in a fixed order, so the record
 * is the same whichever query finishes first. Queries run in a bounded pool (pool.ts). Rows stay in the run
 * directory (queries.jsonl, traces/, performance-traces.jsonl); only statistics, ids and refs are returned.
 *
 * A new plane: one file here exporting `(pc: PlaneContext) => Promise<its evidence>`, a field in
 * DiscoverEvidence (workflows/logic/evidence.ts), one entry in `planes` below, and a table test.
 */
import { join } from 'node:path';
import type { BtClient } from '../../bt/client.js';
import { fieldPath, projectLogs } from '../../bt/sql.js';
import type { DiscoverEvidence } from '../../workflows/logic/evidence.js';
import type { OrientContext } from '../../workflows/types.js';
import { writeJsonAtomic, writeJsonlAtomic } from '../files.js';
import { alignmentPlane } from './alignment.js';
import { changePlane } from './change.js';
import { windowClause, type PlaneContext } from './context.js';
import { coveragePlane } from './coverage.js';
import { drillIn } from './examples.js';
import { followUpPlane, type PendingFollowUp } from './follow-up.js';
import { instrumentationPlane } from './instrumentation.js';
import { performanceEvidence } from './performance.js';
import { QueryPool, type QueryLogEntry } from './pool.js';
import { qualityPlane } from './quality.js';
import { reliabilityPlane } from './reliability.js';
import { trafficPlane } from './traffic.js';

export { LOW_TRAFFIC_TRACES, windowClause } from './context.js';
export { DISCOVER_CONCURRENCY, QueryPool, type QueryLogEntry } from './pool.js';
export { PERF_SAMPLE_CAP } from './performance.js';
export { distributionStats } from './quality.js';
export { errorShape } from './reliability.js';

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
  /** `bt` calls in flight at once (default DISCOVER_CONCURRENCY; 1 runs them one after another). */
  concurrency?: number;
}

export async function discover(bt: BtClient, p: DiscoverParams, signal?: AbortSignal, progress?: (what: string) => void): Promise<DiscoverEvidence> {
  const pool = new QueryPool(bt, { ...(p.concurrency !== undefined ? { concurrency: p.concurrency } : {}), signal });
  try {
    return await plan(pool, p, progress);
  } catch (err) {
    // Nothing a failed Discover started outlives it: queued queries never start, running `bt` processes are
    // killed; then the first failure is the one reported (the others are the cancellations it caused).
    pool.abort(err);
    await pool.drain();
    throw pool.failure;
  }
}

async function plan(pool: QueryPool, p: DiscoverParams, progress?: (what: string) => void): Promise<DiscoverEvidence> {
  const { ctx } = p;
  const now = p.now ?? new Date();
  const src = projectLogs(ctx.project.id);
  const notes: string[] = [];
  if (!(ctx.topicFacets ?? []).length) {
    notes.push('no Topics automation data: root spans carry no classifications, so cohorts come from metadata and tags only (enable Topics in Braintrust for topic cohorts)');
  }

  progress?.('measuring traffic');
  const { traffic, window } = await trafficPlane(pool.plane('traffic'), { src, windowDays: p.windowDays, now });
  const W = windowClause(window.days);
  const base: Omit<PlaneContext, 'q'> = {
    ctx,
    src,
    W,
    roots: `${src} WHERE is_root = true AND ${W}`,
    days: window.days,
    now,
    traces: traffic.traces,
    spans: traffic.spans,
    primary: ctx.primaryScore,
    scorePath: ctx.primaryScore ? fieldPath('scores', ctx.primaryScore) : null,
    dir: p.dir,
    datasetId: p.datasetId ?? null,
  };
  // The query log lists the planes in evidence order (handles are made here, in this order)…
  const pcs = {
    quality: { ...base, q: pool.plane('quality') },
    reliability: { ...base, q: pool.plane('reliability') },
    coverage: { ...base, q: pool.plane('coverage') },
    performance: { ...base, q: pool.plane('performance') },
    change: { ...base, q: pool.plane('change') },
    instrumentation: { ...base, q: pool.plane('instrumentation') },
    alignment: { ...base, q: pool.plane('alignment') },
    examples: { ...base, q: pool.plane('examples') },
    followUp: { ...base, q: pool.plane('follow-up') },
  };
  // …and the planes with the longest chains of dependent queries (paged reads, per-cohort follow-ups) start
  // first, so the pool's queue does not leave them for last.
  const pending = new Set<string>();
  const track = <T>(name: string, what: string, f: () => Promise<T>): Promise<T> => {
    progress?.(what);
    pending.add(name);
    return f().then(
      (v) => {
        pending.delete(name);
        progress?.(`${name} done${pending.size ? `; still running: ${[...pending].join(', ')}` : ''}`);
        return v;
      },
      (err: unknown) => {
        pool.abort(err); // the other planes stop at once
        throw err;
      },
    );
  };
  const performance = track('performance', 'performance: latency, tokens and change points', () => performanceEvidence(pcs.performance));
  const coverage = track('coverage', 'coverage: cohorts vs eval datasets', () => coveragePlane(pcs.coverage));
  const reliability = track('reliability', 'reliability: errors and tool failures', () => reliabilityPlane(pcs.reliability));
  const quality = track('quality', 'quality: score distributions', () => qualityPlane(pcs.quality));
  const changes = track('change', 'change correlation', () => changePlane(pcs.change));
  const instrumentation = track('instrumentation', 'instrumentation health', () => instrumentationPlane(pcs.instrumentation));
  const evalAlignment = track('alignment', 'eval alignment', () => alignmentPlane(pcs.alignment, quality));
  const planes = await Promise.all([quality, reliability, coverage, performance, changes, instrumentation, evalAlignment] as const);
  const [scores, rel, cov, perf, ch, inst, align] = planes;
  if (cov.note) notes.push(cov.note);

  // Drill into a few example traces (full span trees saved to the run directory)…
  progress?.('drilling into example traces');
  const drilling = drillIn(pcs.examples, {
    toolErrors: rel.toolErrors,
    worstCohorts: cov.worst,
    performancePlane: perf.performancePlane,
    scores,
  });
  // …and, alongside it, the bounded second pass: targeted queries that confirm or refute the battery's candidate
  // causes (it waits for the drill-in only where it reads the traces the drill-in fetched).
  progress?.('following up the candidate causes');
  const following = followUpPlane(pcs.followUp, {
    toolErrors: rel.toolErrors,
    errorGroups: rel.groups,
    worstCohorts: cov.worst,
    performancePlane: perf.performancePlane,
    examples: drilling,
  });
  const [examples, followUps] = await Promise.all([drilling, following]);
  const log = pool.entries();

  const evidence: DiscoverEvidence = {
    project: { id: ctx.project.id, name: ctx.project.name },
    goal: p.goal,
    primaryScore: ctx.primaryScore,
    window,
    traffic,
    scores,
    reliability: rel,
    cohorts: cov.cohorts,
    performance: perf.performance,
    performancePlane: perf.performancePlane,
    changes: ch,
    instrumentation: inst,
    evalAlignment: align,
    datasets: cov.datasets,
    examples,
    ...(notes.length ? { notes } : {}),
    followUp: withQueryRefs(followUps, log),
  };
  await writeJsonlAtomic(join(p.dir, 'queries.jsonl'), log);
  const file = await writeJsonAtomic(join(p.dir, 'evidence.json'), evidence);
  return { ...evidence, file };
}

/**
 * The follow-up checks with their query texts replaced by refs to lines of queries.jsonl (`queries.jsonl#<line>`,
 * 1-based): the texts are in the log once, not again in the evidence that travels through history.
 */
export function withQueryRefs(pending: readonly PendingFollowUp[], log: readonly QueryLogEntry[]): DiscoverEvidence['followUp'] {
  const line = new Map<string, number>();
  log.forEach((e, i) => {
    if (e.plane === 'follow-up' && !line.has(e.query)) line.set(e.query, i + 1);
  });
  return pending.map((f) => ({
    ...f,
    checks: f.checks.map(({ query, ...c }) => (query && line.has(query) ? { ...c, queryRef: `queries.jsonl#${line.get(query)}` } : c)),
  }));
}
