/**
 * Drill-in: a few example traces from the other planes (failing tools, the worst cohorts, the first change
 * point, low scores), each fetched in full with `bt view trace` and saved to the run directory.
 */
import { join } from 'node:path';
import { traceUrl } from '../../handoff/urls.js';
import type { CohortStats, ExampleTrace, PerformancePlane, ScoreStats, ToolErrorStat } from '../../workflows/logic/evidence.js';
import { writeJsonAtomic } from '../files.js';
import { cohortId } from '../cohorts.js';
import { each, type PlaneContext } from './context.js';

/** Traces drilled into at most. */
export const MAX_DRILL_INS = 6;

export interface DrillInSources {
  toolErrors: readonly ToolErrorStat[];
  worstCohorts: readonly CohortStats[];
  performancePlane: PerformancePlane | null;
  scores: readonly ScoreStats[];
}

/** Which traces to drill into and why, in priority order, without duplicates (pure). */
export function pickExamples(pc: Pick<PlaneContext, 'ctx' | 'primary'>, s: DrillInSources): ExampleTrace[] {
  const { ctx } = pc;
  const examples: ExampleTrace[] = [];
  const pick = (traceId: string | undefined, reason: string) => {
    if (traceId && !examples.some((e) => e.traceId === traceId)) examples.push({ traceId, url: traceUrl(ctx.appUrl, ctx.org, ctx.project.name, traceId), reason });
  };
  for (const t of s.toolErrors.filter((x) => x.errors > 0).slice(0, 2)) pick(t.exampleTraceIds[0], `tool error: ${t.tool}`);
  for (const c of s.worstCohorts.slice(0, 2)) pick(c.exampleTraceIds[0], `low ${pc.primary} in ${cohortId(c)}`);
  // The first change point: its slowest trace next to a typical one from before, to compare the span trees.
  const change = s.performancePlane?.changes[0];
  if (change) {
    const label = `${change.source === 'llm' ? 'llm.' : ''}metadata.${change.key}=${change.value}`;
    pick(change.slowestAfterTraceIds[0], `slowest trace with ${label}`);
    pick(change.typicalBeforeTraceIds[0], `typical trace before ${label}`);
  }
  for (const sc of s.scores.slice(0, 2)) pick(sc.lowScoreExamples[0], `low ${sc.name}`);
  return examples;
}

/** Fetches the picked traces (full span trees saved under traces/) and notes their span counts. */
export async function drillIn(pc: PlaneContext, s: DrillInSources): Promise<ExampleTrace[]> {
  const examples = pickExamples(pc, s);
  await each(examples.slice(0, MAX_DRILL_INS), async (e) => {
    const trace = await pc.q.call((bt, signal) => bt.viewTrace({ objectRef: `project_logs:${pc.ctx.project.id}`, traceId: e.traceId, signal }));
    const spans = (trace as { items?: unknown[] }).items ?? [];
    await writeJsonAtomic(join(pc.dir, 'traces', `${e.traceId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), trace);
    e.note = `${spans.length} spans`;
  });
  return examples;
}
