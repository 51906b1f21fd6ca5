/**
 * Drill-in: a few example traces from the other planes (failing tools, the worst cohorts, the first change
 * point, low scores), each fetched in full with `bt view trace` and saved to the run directory.
 */
import { join } from 'node:path';
import { traceUrl } from '../../handoff/urls.js';
import type { CohortStats, ExampleTrace, PerformancePlane, ScoreStats, SpanTreeSummary, ToolErrorStat } from '../../workflows/logic/evidence.js';
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
    const spans = ((trace as { items?: unknown[] }).items ?? []) as Array<Record<string, unknown>>;
    await writeJsonAtomic(join(pc.dir, 'traces', `${e.traceId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), trace);
    e.spanTree = readSpanTree(spans);
    e.note = spanTreeText(e.spanTree);
  });
  return examples;
}

/** Tool names kept in a sequence at most. */
export const MAX_TOOL_SEQUENCE = 12;
/** What a refusal reads like at the start of an answer (values are previews: the start is what there is). */
const REFUSAL = /^\W*(?:i(?:'|’)?m sorry,? but|(?:i(?:'|’)?m |i am )?sorry,? (?:but )?i can(?:no|'|’)t|i can(?:no|'|’)t (?:help|assist|do that)|i(?: am|'m|’m) (?:unable|not able) to (?:help|assist))/i;

/**
 * A span name from a trace, made safe to quote in evidence: one line, no markup characters, bounded. (Trace
 * strings are untrusted; names only — never inputs or outputs — leave the run directory this way.)
 */
export function safeName(v: unknown): string {
  const s = typeof v === 'string' ? v : '';
  const clean = s.replace(/[\u0000-\u001f\u007f`<>[\]|*#\\]/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > 60 ? `${clean.slice(0, 59)}…` : clean || '(unnamed)';
}

/** No value: null, blank text, an empty list or an empty object. */
export const isEmpty = (v: unknown): boolean =>
  v === null || v === undefined || (typeof v === 'string' && v.trim() === '') || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** The text of an output: itself when a string, else its first string field of `keys`, in that order. */
export const textOf = (v: unknown, keys: readonly string[] = ['content', 'text', 'answer', 'output', 'message']): string => {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of keys) if (typeof o[k] === 'string') return o[k] as string;
  }
  return '';
};

/** Reads a span tree (the rows of `bt view trace`, in order): pure, so it is table-tested. */
export function readSpanTree(spans: ReadonlyArray<Record<string, unknown>>): SpanTreeSummary {
  const type = (s: Record<string, unknown>) => (s.span_attributes as { type?: unknown } | null | undefined)?.type;
  const name = (s: Record<string, unknown>) => safeName((s.span_attributes as { name?: unknown } | null | undefined)?.name);
  const tools = spans.filter((s) => type(s) === 'tool').map(name);
  const counts = new Map<string, number>();
  for (const t of tools) counts.set(t, (counts.get(t) ?? 0) + 1);
  const judged = spans.filter((s) => s.is_root === true || type(s) === 'llm' || type(s) === 'tool');
  return {
    spans: spans.length,
    toolSequence: tools.slice(0, MAX_TOOL_SEQUENCE),
    repeatedTools: [...counts.entries()].filter(([, c]) => c > 1).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([tool, calls]) => ({ tool, calls })),
    errorSpans: spans.filter((s) => !isEmpty(s.error)).map(name),
    emptyOutputs: judged.filter((s) => isEmpty(s.output)).length,
    refusal: spans.filter((s) => s.is_root === true || type(s) === 'llm').some((s) => REFUSAL.test(textOf(s.output))),
  };
}

/** One line for the evidence: `7 spans; tools: search → lookup_order → lookup_order; repeated: lookup_order ×2; …`. */
export function spanTreeText(t: SpanTreeSummary): string {
  const parts = [`${t.spans} spans`];
  parts.push(t.toolSequence.length ? `tools: ${t.toolSequence.join(' → ')}` : 'no tool calls');
  if (t.repeatedTools.length) parts.push(`repeated: ${t.repeatedTools.map((r) => `${r.tool} ×${r.calls}`).join(', ')}`);
  if (t.errorSpans.length) parts.push(`errors in: ${t.errorSpans.join(', ')}`);
  if (t.emptyOutputs) parts.push(`${t.emptyOutputs} empty output${t.emptyOutputs === 1 ? '' : 's'}`);
  if (t.refusal) parts.push('the answer reads as a refusal');
  return parts.join('; ');
}
