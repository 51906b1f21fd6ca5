/**
 * Follow-up plane: a bounded second pass after the battery. For each candidate cause the battery found (a failing
 * tool, a recurring error shape, a low-scoring cohort, a performance change point) a couple of targeted queries
 * confirm or refute it:
 *
 * - an error shape: `error MATCH '<its words>'` over every span — is it concentrated in the candidate tool's calls,
 *   or just as common elsewhere (a shared dependency)? Does it read as the backend failing rather than bad arguments?
 * - a low-scoring cohort: a sample of its low-scoring traces (do they have an output at all? empty or errored outputs
 *   point at instrumentation or reliability, not at the agent's answers), then `output MATCH '<their common opening>'`
 *   over every root trace — is that text concentrated in the cohort and in failing traces, or as common in passing
 *   traces and other cohorts?
 * - a change point: the span trees of its slowest trace after and a typical one before (already read by the drill-in).
 *
 * and a couple of full traces are drilled into (span tree read). The verdicts are pure functions of the counts
 * (table-tested); Diagnose puts the checks into the routes they bear on, as evidence or counterevidence.
 *
 * Bounded: at most FOLLOW_UP_CANDIDATES candidates, FOLLOW_UP_QUERIES_PER_CANDIDATE queries each and
 * FOLLOW_UP_TRACES new `bt view trace` calls in all. Trace text never becomes SQL except through the word-only
 * MATCH builder (`matchClause`); equality on trace values goes through `textEquals` / `cohortCondition`.
 */
import { join } from 'node:path';
import { fieldPath, matchClause, textEquals } from '../../bt/sql.js';
import type { CohortStats, ErrorGroup, ExampleTrace, FollowUp, FollowUpCheck, FollowUpVerdict, PerformanceChange, PerformancePlane, SpanTreeSummary, ToolErrorStat } from '../../workflows/logic/evidence.js';
import { writeJsonAtomic } from '../files.js';
import { cohortCondition, cohortId } from '../cohorts.js';
import { LOW, each, n, str, type PlaneContext, type Row } from './context.js';
import { isEmpty, readSpanTree, spanTreeText, textOf } from './examples.js';
import type { PlaneQueries } from './pool.js';
import { rankErrorShapes } from './reliability.js';

/** Candidate causes followed up at most, queries per candidate at most, and new full traces fetched in all. */
export const FOLLOW_UP_CANDIDATES = 4;
export const FOLLOW_UP_QUERIES_PER_CANDIDATE = 2;
export const FOLLOW_UP_TRACES = 2;
/** Fewer matching rows than this: the counts say nothing either way. */
export const FOLLOW_UP_MIN_MATCHES = 5;
/** Low-scoring traces of a cohort read for their outputs. */
export const FOLLOW_UP_SAMPLE = 20;
/** Shares the pure judgements below draw their lines at (each table-tested in test/discover-follow-up.test.ts). */
export const FOLLOW_UP_SHARES = {
  /** An error shape with at most this share in the candidate's spans is shared with others (refutes). */
  errorShared: 0.5,
  /** …and with at least this share it is the candidate's own (confirms). */
  errorConcentrated: 0.8,
  /** A low-score text less often than this in failing traces, or in the cohort, is not what fails (refutes). */
  textRefutesBelow: 0.5,
  /** At least this often in both: the cohort's own failure (confirms). */
  textConfirmsAt: 0.7,
  /** Low-scoring outputs missing or errored at least this often: the scores judge no answer (refutes the agent). */
  outputsMissing: 0.5,
  /** At most this often: the agent answered, and was judged low (confirms). */
  outputsAnswered: 0.1,
} as const;
/** Fewer low-scoring traces read than this: too few to judge their outputs. */
export const FOLLOW_UP_MIN_OUTPUTS = 3;
/** Words a MATCH term is made of at most (all must occur; short words are left out). */
export const MATCH_WORDS = 4;

/** A check as the plane builds it: the query text stays here; the planner turns it into a query ref. */
export type PendingCheck = FollowUpCheck & { query?: string };
export type PendingFollowUp = Omit<FollowUp, 'checks'> & { checks: PendingCheck[] };

export interface FollowUpSources {
  toolErrors: readonly ToolErrorStat[];
  errorGroups: readonly ErrorGroup[];
  worstCohorts: readonly CohortStats[];
  performancePlane: PerformancePlane | null;
  /** The drill-in's traces; a promise while the drill-in still runs (the pass waits for it only where it reads them). */
  examples: readonly ExampleTrace[] | Promise<readonly ExampleTrace[]>;
}

export type Candidate =
  | { kind: 'tool'; tool: ToolErrorStat }
  | { kind: 'error'; group: ErrorGroup }
  | { kind: 'cohort'; cohort: CohortStats }
  | { kind: 'change'; change: PerformanceChange; label: string };

/** Which candidate causes to follow up, in order (pure): failing tools, else the top error shape; failing cohorts; the first change point. */
export function pickCandidates(s: FollowUpSources, traces: number, scored: boolean): Candidate[] {
  const out: Candidate[] = [];
  const tools = [...s.toolErrors].filter((t) => t.errors >= 3).sort((a, b) => b.errors - a.errors || (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : 0));
  for (const tool of tools.slice(0, 2)) out.push({ kind: 'tool', tool });
  if (!tools.length) {
    const group = [...s.errorGroups].filter((g) => g.count >= 3 && matchTerm(g.message)).sort((a, b) => b.count - a.count || a.message.localeCompare(b.message))[0];
    if (group) out.push({ kind: 'error', group });
  }
  if (scored) {
    const cohorts = s.worstCohorts.filter((c) => c.traffic >= 5 && (traces ? c.traffic / traces : 0) >= 0.05 && cohortCondition(c)?.exact);
    for (const cohort of cohorts.slice(0, 2)) out.push({ kind: 'cohort', cohort });
  }
  const change = s.performancePlane?.changes[0];
  if (change && change.slowestAfterTraceIds[0] && change.typicalBeforeTraceIds[0]) {
    out.push({ kind: 'change', change, label: `${change.source === 'llm' ? 'llm.' : ''}metadata.${change.key}=${change.value.length > 120 ? `${change.value.slice(0, 120)}…` : change.value}` });
  }
  return out.slice(0, FOLLOW_UP_CANDIDATES);
}

/**
 * The words to MATCH a text by: its first MATCH_WORDS words of three characters or more (masked values, numbers and
 * punctuation left out), lower-cased. Null when the text has fewer than two such words (too vague to search for).
 */
export function matchTerm(text: string): string | null {
  const words = text
    .replace(/"…"|<id>|#/g, ' ')
    .split(/[^\p{L}\p{N}_]+/u)
    .filter((w) => w.length >= 3 && !/^\d+$/.test(w))
    .map((w) => w.toLowerCase());
  const picked = [...new Set(words)].slice(0, MATCH_WORDS);
  return picked.length >= 2 ? picked.join(' ') : null;
}

/** Error texts that read as the service behind a tool failing (not as the agent sending bad arguments). */
const BACKEND = /\b(time[sd]? ?out|timed out|unavailable|upstream|rate.?limit|too many requests|connection (?:reset|refused)|econnreset|econnrefused|50[234])\b/i;

export interface ErrorShapeCounts {
  /** Spans whose error matches the shape's words, and of those the candidate's (its tool's calls). */
  matched: number;
  inside: number;
  /** The shape reads as the backend failing (timeout, unavailable, upstream, 5xx…). */
  backend: boolean;
}

/** Is an error shape the candidate's own (concentrated in its calls), or shared with other spans? Pure. */
export function judgeErrorShape(c: ErrorShapeCounts): { verdict: FollowUpVerdict; why: string } {
  if (c.matched < FOLLOW_UP_MIN_MATCHES) return { verdict: 'inconclusive', why: `only ${c.matched} spans carry it` };
  const share = c.inside / c.matched;
  if (share <= FOLLOW_UP_SHARES.errorShared) return { verdict: 'refutes', why: 'it is as common in other spans: a shared dependency or input rather than this tool' };
  if (c.backend) return { verdict: 'refutes', why: 'concentrated here, but it reads as the service failing (timeout/unavailable), not as bad arguments' };
  if (share >= FOLLOW_UP_SHARES.errorConcentrated) return { verdict: 'confirms', why: 'it is concentrated in this tool' };
  return { verdict: 'inconclusive', why: 'it is mostly, but not only, in this tool' };
}

export interface LowTextCounts {
  /** Root traces whose output matches the text; of those in the cohort, scoring low, and both. */
  matched: number;
  inside: number;
  low: number;
  insideLow: number;
}

/** Is the cohort's characteristic low-score text what fails, and is it the cohort's own? Pure. */
export function judgeLowText(c: LowTextCounts): { verdict: FollowUpVerdict; why: string } {
  if (c.matched < FOLLOW_UP_MIN_MATCHES) return { verdict: 'inconclusive', why: `only ${c.matched} traces carry it` };
  const low = c.low / c.matched;
  const inside = c.inside / c.matched;
  if (low < FOLLOW_UP_SHARES.textRefutesBelow) return { verdict: 'refutes', why: 'it is as common in passing traces: the text is not what fails' };
  if (inside < FOLLOW_UP_SHARES.textRefutesBelow) return { verdict: 'refutes', why: 'it is as common outside the cohort: the failure is not specific to it' };
  if (low >= FOLLOW_UP_SHARES.textConfirmsAt && inside >= FOLLOW_UP_SHARES.textConfirmsAt) return { verdict: 'confirms', why: 'it is concentrated in the cohort and in failing traces' };
  return { verdict: 'inconclusive', why: 'it leans toward the cohort and failing traces, not clearly' };
}

export interface OutputCounts {
  /** Low-scoring traces of the cohort read, and how many of them have no output or an error. */
  sampled: number;
  emptyOrErrored: number;
}

/** Do the cohort's low scores judge real answers, or missing/errored ones (instrumentation, reliability)? Pure. */
export function judgeOutputs(c: OutputCounts): { verdict: FollowUpVerdict; why: string } {
  if (c.sampled < FOLLOW_UP_MIN_OUTPUTS) return { verdict: 'inconclusive', why: 'too few low-scoring traces to read' };
  const share = c.emptyOrErrored / c.sampled;
  if (share >= FOLLOW_UP_SHARES.outputsMissing) return { verdict: 'refutes', why: 'the low scores judge missing or errored outputs: instrumentation or reliability rather than the answers' };
  if (share <= FOLLOW_UP_SHARES.outputsAnswered) return { verdict: 'confirms', why: 'the agent answered and the answers were judged low' };
  return { verdict: 'inconclusive', why: 'some low scores come with missing or errored outputs' };
}

/** What drilled-into span trees say about an agent-behaviour cause. Pure. */
export function judgeSpanTrees(trees: readonly SpanTreeSummary[]): FollowUpVerdict {
  if (!trees.length) return 'inconclusive';
  if (trees.some((t) => t.refusal || t.repeatedTools.length > 0 || t.errorSpans.length > 0)) return 'confirms';
  if (trees.every((t) => t.emptyOutputs > 0)) return 'refutes';
  return 'inconclusive';
}

/** The slowest trace since a change point vs a typical one before it: more work (a loop), or the same steps slower? Pure. */
export function judgeChangeTrees(after: SpanTreeSummary, before: SpanTreeSummary): { verdict: FollowUpVerdict; why: string } {
  const moreWork = after.spans >= 1.5 * Math.max(1, before.spans) || after.repeatedTools.length > before.repeatedTools.length;
  if (moreWork) return { verdict: 'confirms', why: 'the release does more work per trace (more spans or repeated tool calls)' };
  const same = after.toolSequence.join('>') === before.toolSequence.join('>');
  return same
    ? { verdict: 'inconclusive', why: 'the same steps as before took longer: a slower model, prompt or dependency rather than a new loop' }
    : { verdict: 'inconclusive', why: 'the steps differ, with no more work per trace' };
}

/** Combined verdict of a candidate's checks. */
export function overallVerdict(checks: readonly { verdict: FollowUpVerdict }[]): FollowUpVerdict {
  if (checks.some((c) => c.verdict === 'refutes')) return 'refutes';
  return checks.some((c) => c.verdict === 'confirms') ? 'confirms' : 'inconclusive';
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;
/** An agent's answer: the `answer` field first (the shape of the example's outputs), then the usual text fields. */
const answerText = (v: unknown): string => textOf(v, ['answer', 'content', 'text', 'output', 'message']);

/** The opening words most of a cohort's failing answers share (pure): null when no opening is shared by ≥ 30%. */
export function commonOpening(outputs: readonly unknown[]): string | null {
  const counts = new Map<string, number>();
  let texts = 0;
  for (const o of outputs) {
    const t = matchTerm(answerText(o));
    if (!t) continue;
    texts++;
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
  return best && texts && best[1] / texts >= 0.3 ? best[0] : null;
}

/** Runs the follow-up pass. Returns the checks with their query texts (the planner turns them into refs). */
export async function followUpPlane(pc: PlaneContext, s: FollowUpSources): Promise<PendingFollowUp[]> {
  const candidates = pickCandidates(s, pc.traces, !!pc.scorePath);
  // Full traces: those the drill-in already read are reused; the first FOLLOW_UP_TRACES tool/cohort candidates may each
  // fetch one more (decided by position, not by which query answers first, so the evidence does not depend on timing).
  const drilledP = Promise.resolve(s.examples).then((ex) => new Map(ex.filter((e) => e.spanTree).map((e) => [e.traceId, e.spanTree!])));
  drilledP.catch(() => undefined); // the planner reports the drill-in's own failure
  const fetchers = candidates.map((c, i) => (c.kind === 'tool' || c.kind === 'cohort' ? i : -1)).filter((i) => i >= 0).slice(0, FOLLOW_UP_TRACES);
  const reserveFor = (i: number): Reserve => async (id) => !!id && ((await drilledP).has(id) || fetchers.includes(i));
  const tree = async (id: string): Promise<SpanTreeSummary> => {
    const got = (await drilledP).get(id);
    if (got) return got;
    const trace = await pc.q.call((bt, signal) => bt.viewTrace({ objectRef: `project_logs:${pc.ctx.project.id}`, traceId: id, signal }));
    await writeJsonAtomic(join(pc.dir, 'traces', `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), trace);
    return readSpanTree(((trace as { items?: unknown[] }).items ?? []) as Array<Record<string, unknown>>);
  };
  // Each candidate logs in its own branch, opened here in order, so the query log does not depend on timing.
  const branches = candidates.map(() => pc.q.branch());
  return each(candidates, async (c, i) => {
    const q = branches[i]!;
    const checks =
      c.kind === 'tool' ? await toolChecks(pc, q, c.tool, reserveFor(i), tree)
      : c.kind === 'error' ? await errorChecks(pc, q, c.group)
      : c.kind === 'cohort' ? await cohortChecks(pc, q, c.cohort, reserveFor(i), tree)
      : changeChecks(c.change, await drilledP);
    const target: FollowUp['target'] =
      c.kind === 'tool' ? { kind: 'tool', name: c.tool.tool }
      : c.kind === 'error' ? { kind: 'error', name: c.group.message }
      : c.kind === 'cohort' ? { kind: 'cohort', name: cohortId(c.cohort) }
      : { kind: 'change', name: c.label };
    return { target, verdict: overallVerdict(checks), checks };
  });
}

type Reserve = (id: string | undefined) => Promise<boolean>;

/** The ids `reserve` lets this candidate read, in their order. */
async function reserved(ids: readonly (string | undefined)[], reserve: Reserve): Promise<string[]> {
  const keep = await Promise.all(ids.map(reserve));
  return ids.filter((id, i): id is string => !!id && keep[i]!);
}
type Tree = (id: string) => Promise<SpanTreeSummary>;

function treeCheck(ids: readonly string[], trees: readonly SpanTreeSummary[]): PendingCheck[] {
  if (!trees.length) return [];
  return [{
    kind: 'span_trees',
    verdict: judgeSpanTrees(trees),
    text: trees.map((t, i) => `trace ${ids[i]}: ${spanTreeText(t)}`).join(' | '),
    counts: { traces: trees.length, refusals: trees.filter((t) => t.refusal).length, with_repeated_tools: trees.filter((t) => t.repeatedTools.length).length, empty_outputs: trees.reduce((a, t) => a + t.emptyOutputs, 0) },
    traceIds: [...ids],
  }];
}

async function toolChecks(pc: PlaneContext, q: PlaneQueries, tool: ToolErrorStat, reserve: Reserve, tree: Tree): Promise<PendingCheck[]> {
  const name = textEquals('span_attributes.name', tool.tool);
  const checks: PendingCheck[] = [];
  if (name.exact) {
    const shapesQuery = `SELECT error, COUNT(*) AS n FROM ${pc.src} WHERE span_attributes.type = 'tool' AND ${name.sql} AND error IS NOT NULL AND ${pc.W} GROUP BY error ORDER BY n DESC, error LIMIT 50`;
    const top = rankErrorShapes((await q.run(shapesQuery)).map((r) => ({ message: str(r.error), count: n(r.n) })))[0];
    const term = top ? matchTerm(top.message) : null;
    if (top && term) {
      const query = `SELECT count(*) AS matched, count((${name.sql}) ? 1 : null) AS inside, count_distinct(root_span_id) AS traces FROM ${pc.src} WHERE ${matchClause('error', term)} AND ${pc.W}`;
      const [r] = await q.run(query);
      const counts = { matched: n(r?.matched), inside: n(r?.inside), backend: BACKEND.test(top.message) };
      const j = judgeErrorShape(counts);
      checks.push({
        kind: 'error_shape',
        verdict: j.verdict,
        text: `its most common error shape (${top.count} of ${tool.errors} errors) occurs in ${counts.matched} spans (${n(r?.traces)} traces), ${counts.inside} of them ${tool.tool} calls (${counts.matched ? pct(counts.inside / counts.matched) : 'n/a'}): ${j.why}`,
        term,
        counts: { matched: counts.matched, inside: counts.inside, traces: n(r?.traces), shape_errors: top.count, tool_errors: tool.errors, ...(tool.calls != null ? { tool_calls: tool.calls } : {}) },
        query,
        traceIds: [],
      });
    }
  }
  const ids = await reserved(tool.exampleTraceIds.slice(0, 1), reserve);
  return [...checks, ...treeCheck(ids, await Promise.all(ids.map(tree)))];
}

async function errorChecks(pc: PlaneContext, q: PlaneQueries, g: ErrorGroup): Promise<PendingCheck[]> {
  const term = matchTerm(g.message)!;
  const query = `SELECT span_attributes.name AS span, count(*) AS n, count_distinct(root_span_id) AS traces FROM ${pc.src} WHERE ${matchClause('error', term)} AND ${pc.W} GROUP BY span_attributes.name ORDER BY n DESC, span_attributes.name LIMIT 5`;
  const rows = await q.run(query);
  const matched = rows.reduce((a, r) => a + n(r.n), 0);
  const top = rows[0];
  const inside = n(top?.n);
  const j = judgeErrorShape({ matched, inside, backend: BACKEND.test(g.message) });
  // For a recurring error (no single tool), concentration in one span is where to fix it; spread is not a refutation.
  const verdict: FollowUpVerdict = j.verdict === 'refutes' && inside / Math.max(1, matched) <= FOLLOW_UP_SHARES.errorShared ? 'inconclusive' : j.verdict;
  return [{
    kind: 'error_shape',
    verdict,
    text: `the error's words occur in ${matched} spans; the most affected span name has ${inside} of them (${matched ? pct(inside / matched) : 'n/a'})${verdict === 'refutes' ? `: ${j.why}` : ''}`,
    term,
    counts: { matched, inside, spans_named: rows.length },
    query,
    traceIds: [],
  }];
}

async function cohortChecks(pc: PlaneContext, q: PlaneQueries, c: CohortStats, reserve: Reserve, tree: Tree): Promise<PendingCheck[]> {
  const cond = cohortCondition(c)!;
  const sc = pc.scorePath ?? fieldPath('scores', pc.primary ?? '');
  const sampleQuery = `SELECT root_span_id, output, error FROM ${pc.roots} AND ${cond.sql} AND ${sc} <= ${LOW} ORDER BY root_span_id LIMIT ${FOLLOW_UP_SAMPLE}`;
  const rows: Row[] = await q.run(sampleQuery);
  const bad = rows.filter((r) => isEmpty(r.output) || !isEmpty(r.error));
  const oc = { sampled: rows.length, emptyOrErrored: bad.length };
  const jo = judgeOutputs(oc);
  const checks: PendingCheck[] = [{
    kind: 'outputs',
    verdict: jo.verdict,
    text: `${oc.emptyOrErrored} of ${oc.sampled} low-scoring traces read have no output or an error: ${jo.why}`,
    counts: { sampled: oc.sampled, empty_or_errored: oc.emptyOrErrored },
    query: sampleQuery,
    traceIds: bad.slice(0, 2).map((r) => str(r.root_span_id)),
  }];
  const term = commonOpening(rows.filter((r) => !isEmpty(r.output)).map((r) => r.output));
  if (term) {
    const query = `SELECT count(*) AS matched, count((${cond.sql}) ? 1 : null) AS inside, count((${sc} <= ${LOW}) ? 1 : null) AS low, count((${cond.sql} AND ${sc} <= ${LOW}) ? 1 : null) AS inside_low FROM ${pc.roots} AND ${matchClause('output', term)}`;
    const [r] = await q.run(query);
    const counts = { matched: n(r?.matched), inside: n(r?.inside), low: n(r?.low), insideLow: n(r?.inside_low) };
    const j = judgeLowText(counts);
    const cohortLow = Math.round((c.lowScoreShare ?? 0) * c.traffic);
    checks.push({
      kind: 'low_text',
      verdict: j.verdict,
      text: `the opening most of its failing answers share occurs in ${counts.matched} traces: ${counts.inside} in the cohort (${counts.matched ? pct(counts.inside / counts.matched) : 'n/a'}), ${counts.low} scoring low (${counts.matched ? pct(counts.low / counts.matched) : 'n/a'}); it is in ${counts.insideLow} of the cohort's ~${cohortLow} low-scoring traces: ${j.why}`,
      term,
      counts: { matched: counts.matched, inside: counts.inside, low: counts.low, inside_low: counts.insideLow, cohort_low: cohortLow },
      query,
      traceIds: [],
    });
  }
  // One full trace: the smallest-id failing trace that has an answer (what the agent actually did).
  const answered = rows.find((r) => !isEmpty(r.output) && isEmpty(r.error));
  const ids = await reserved([answered ? str(answered.root_span_id) : c.exampleTraceIds[0]], reserve);
  return [...checks, ...treeCheck(ids, await Promise.all(ids.map(tree)))];
}

function changeChecks(c: PerformanceChange, known: ReadonlyMap<string, SpanTreeSummary>): PendingCheck[] {
  const afterId = c.slowestAfterTraceIds[0]!;
  const beforeId = c.typicalBeforeTraceIds[0]!;
  const after = known.get(afterId);
  const before = known.get(beforeId);
  if (!after || !before) return [];
  const j = judgeChangeTrees(after, before);
  return [{
    kind: 'span_trees',
    verdict: j.verdict,
    text: `slowest trace since the change: ${spanTreeText(after)} | typical trace before: ${spanTreeText(before)}: ${j.why}`,
    counts: { spans_after: after.spans, spans_before: before.spans, repeated_after: after.repeatedTools.length, repeated_before: before.repeatedTools.length },
    traceIds: [afterId, beforeId],
  }];
}
