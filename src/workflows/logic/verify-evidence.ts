/**
 * Verify's routing evidence, computed from real rows: the inputs of `decide()` that are not score means.
 *
 * - new failure patterns: failure shapes in the new (validation) experiment that the baseline does not show —
 *   an error shape no baseline row has, or a category whose rows (joined with the baseline) now fail while none
 *   failed in the baseline;
 * - remaining gaps: cohorts curated this run (dataset routes) that the evaluated split does not cover (no failing
 *   case of the cohort was evaluated), or whose failing cases still fail after an agent change;
 * - unmeasured failures: production failures Diagnose found that no scorer measures, not addressed by a kept
 *   measurement change of this run;
 * - instrumentation gaps: Diagnose's instrumentation findings (traces that cannot support diagnosis), not addressed
 *   by a kept instrumentation change of this run.
 *
 * Pure — no clock, no I/O. The activity (src/activities/verify-evidence.ts) reads the experiment rows in bounded,
 * paged reads and hands them here; the workflow passes the results to `decide()`.
 * Every string taken from a row (error messages, categories, route ids) is untrusted: it is quoted and capped.
 */
import type { Diagnosis } from './diagnose.js';
import type { ChangeArtifact } from './evidence.js';
import { cmp } from './scorer-health.js';

/** One eval row, reduced to what failure shapes need. `error` is already shaped (ids and numbers masked). */
export interface FailureRow {
  /** Join key (the same as RowScores.key). */
  key: string;
  rowId: string;
  /** The row's category (`metadata.category`), when it has one. */
  category: string | null;
  /** The dataset route that curated the row (`metadata.flywheel_route`), for rows curated by the flywheel. */
  route: string | null;
  /** The workflow that curated the row (`metadata.flywheel_workflow_id`). */
  curatedBy: string | null;
  /** `failing` / `passing`: the production bucket a curated row was drawn from. */
  bucket: string | null;
  /** The row's error, shaped; null when it did not error. */
  error: string | null;
  scores: Record<string, number | null>;
}

export interface VerifyEvidenceThresholds {
  /** A score at or below this is a failure (the Discover/Diagnose "low" line). */
  lowScore: number;
  /** Rows a new shape must appear in to be a pattern (one odd row is not a pattern). */
  minPatternRows: number;
  /** Share of a curated cohort's evaluated failing cases still failing after an agent change that leaves a gap. */
  stillFailingShare: number;
  /** Evaluated failing cases still failing needed for a gap. */
  minStillFailingRows: number;
  /** Patterns and gaps listed (all are counted). */
  maxListed: number;
  /** Characters kept of an untrusted string (error shape, category, route id). */
  maxText: number;
}

export const VERIFY_EVIDENCE_THRESHOLDS: VerifyEvidenceThresholds = {
  lowScore: 0.5,
  minPatternRows: 2,
  stillFailingShare: 0.5,
  minStillFailingRows: 2,
  maxListed: 5,
  maxText: 160,
};

/** An untrusted string, on one line, capped and quoted (JSON string syntax): safe inside a sentence. */
export function quoteText(s: string, max: number = VERIFY_EVIDENCE_THRESHOLDS.maxText): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > max ? `${one.slice(0, max)}…` : one);
}

const isLow = (v: number | null | undefined, low: number): boolean => typeof v === 'number' && Number.isFinite(v) && v <= low;

interface ShapeCount {
  rows: number;
  example: string;
}

function countBy(rows: readonly FailureRow[], shapeOf: (r: FailureRow) => string | null): Map<string, ShapeCount> {
  const out = new Map<string, ShapeCount>();
  for (const r of [...rows].sort((a, b) => cmp(a.rowId, b.rowId))) {
    const s = shapeOf(r);
    if (s === null) continue;
    const e = out.get(s) ?? { rows: 0, example: r.rowId };
    e.rows++;
    out.set(s, e);
  }
  return out;
}

/**
 * Failure shapes of the new run that the baseline does not show. Errors: any row of the new run whose error shape
 * no baseline row has. Low scores: per category, over the rows both runs hold (joined by key), a category with no
 * failing baseline row that now has failing rows — a failure the change brought, not rows the baseline never had.
 */
export function newFailurePatterns(
  baseline: readonly FailureRow[],
  next: readonly FailureRow[],
  targetScore: string | null,
  th: VerifyEvidenceThresholds = VERIFY_EVIDENCE_THRESHOLDS,
): string[] {
  const found: Array<{ rows: number; text: string }> = [];
  const baseErrors = new Set(baseline.map((r) => r.error).filter((e): e is string => e !== null));
  for (const [shape, c] of countBy(next, (r) => (r.error !== null && !baseErrors.has(r.error) ? r.error : null))) {
    if (c.rows < th.minPatternRows) continue;
    found.push({ rows: c.rows, text: `new error ${quoteText(shape, th.maxText)} in ${c.rows} rows (e.g. row ${quoteText(c.example, 80)}); the baseline has no such error` });
  }
  if (targetScore) {
    const baseKeys = new Map(baseline.map((r) => [r.key, r]));
    const joined = next.filter((r) => r.category !== null && baseKeys.has(r.key));
    const baseLow = new Map<string, number>();
    for (const r of joined) {
      const b = baseKeys.get(r.key)!;
      if (isLow(b.scores[targetScore], th.lowScore) || b.error !== null) baseLow.set(r.category!, (baseLow.get(r.category!) ?? 0) + 1);
    }
    const lowNow = countBy(joined, (r) => (isLow(r.scores[targetScore], th.lowScore) && r.error === null ? r.category : null));
    for (const [category, c] of lowNow) {
      if (c.rows < th.minPatternRows || (baseLow.get(category) ?? 0) > 0) continue;
      const total = joined.filter((r) => r.category === category).length;
      found.push({
        rows: c.rows,
        text: `category ${quoteText(category, th.maxText)} now fails: ${c.rows} of ${total} rows at ${targetScore} ≤ ${th.lowScore} (e.g. row ${quoteText(c.example, 80)}); none of them failed in the baseline`,
      });
    }
  }
  return found
    .sort((a, b) => b.rows - a.rows || cmp(a.text, b.text))
    .slice(0, th.maxListed)
    .map((f) => f.text);
}

/** What one dataset route of this run curated into the evaluated split, and how those rows score now. */
export interface CuratedCohortStats {
  route: string;
  /** Curated rows of the route in the evaluated (validation) run. */
  evaluated: number;
  /** Of those, rows drawn from failing production traces. */
  evaluatedFailing: number;
  /** Of those, rows still failing (target score low, or the row errored). */
  stillFailing: number;
  /** Rows the route curated without a label (the eval cannot score them). */
  needsLabel: number;
}

/** A dataset route of this run and how many of its curated rows still need a label (from its change records). */
export interface CuratedRoute {
  route: string;
  needsLabel: number;
}

/** Per route of `routes`, the curated rows of this workflow in the evaluated run. */
export function curatedCohortStats(
  rows: readonly FailureRow[],
  routes: readonly CuratedRoute[],
  workflowId: string,
  targetScore: string | null,
  th: VerifyEvidenceThresholds = VERIFY_EVIDENCE_THRESHOLDS,
): CuratedCohortStats[] {
  const unlabeled = new Map<string, number>();
  for (const r of routes) unlabeled.set(r.route, (unlabeled.get(r.route) ?? 0) + r.needsLabel);
  return [...unlabeled.keys()].sort(cmp).map((route) => {
    const mine = rows.filter((r) => r.route === route && (r.curatedBy === null || r.curatedBy === workflowId));
    const failing = mine.filter((r) => r.bucket === 'failing');
    const still = failing.filter((r) => r.error !== null || (targetScore !== null && isLow(r.scores[targetScore], th.lowScore)));
    return { route, evaluated: mine.length, evaluatedFailing: failing.length, stillFailing: still.length, needsLabel: unlabeled.get(route)! };
  });
}

/**
 * Cohorts curated this run that are not done: their failing cases were curated but none reached the evaluated split
 * because they have no label (the datasets do not cover the cases that were found), or — after an agent change —
 * most of their evaluated failing cases still fail (edge cases the fix did not reach). Without an agent change,
 * failing curated cases are expected (the agent is unchanged): that is the agent's turn, not a dataset gap.
 */
export function remainingGaps(stats: readonly CuratedCohortStats[], agentChanged: boolean, th: VerifyEvidenceThresholds = VERIFY_EVIDENCE_THRESHOLDS): string[] {
  const out: string[] = [];
  for (const s of stats) {
    const route = quoteText(s.route, th.maxText);
    if (s.evaluatedFailing === 0) {
      if (s.needsLabel > 0) {
        out.push(`cohort of route ${route}: none of its failing production cases was evaluated (${s.needsLabel} curated rows need a label; ${s.evaluated} rows in the evaluated split, none from failing traces)`);
      }
      continue;
    }
    if (agentChanged && s.stillFailing >= th.minStillFailingRows && s.stillFailing / s.evaluatedFailing >= th.stillFailingShare) {
      out.push(`cohort of route ${route}: ${s.stillFailing} of ${s.evaluatedFailing} curated failing cases still fail after the change`);
    }
  }
  return out.slice(0, th.maxListed);
}

/** The iteration's changes as Verify sees them: artifact, route ids, whether it changed anything, whether it was undone. */
export interface ChangeSeen {
  artifact: ChangeArtifact;
  routeId: string;
  findingIds: string[];
  files: string[];
  functions?: unknown[];
  reverted?: unknown;
}

/** A change that did something and was not put back. */
const applied = (c: ChangeSeen): boolean => (c.files.length > 0 || (c.functions?.length ?? 0) > 0) && !c.reverted;

/** Findings of the diagnosis whose routes are of `artifact`, not addressed by an applied change of that artifact. */
function unaddressed(d: Diagnosis | null, changes: readonly ChangeSeen[], artifact: ChangeArtifact, pick: (findingId: string) => boolean): string[] {
  if (!d) return [];
  const addressed = new Set<string>();
  for (const c of changes) {
    if (c.artifact !== artifact || !applied(c)) continue;
    for (const id of c.findingIds) addressed.add(id);
    for (const r of c.routeId.split(',')) addressed.add(`route:${r}`);
  }
  const out: string[] = [];
  for (const r of d.routes.filter((x) => x.artifact === artifact)) {
    if (addressed.has(`route:${r.id}`)) continue;
    for (const fid of r.findingIds) {
      if (addressed.has(fid) || !pick(fid)) continue;
      const f = d.findings.find((x) => x.id === fid);
      if (f && !out.some((o) => o.startsWith(`${f.title}:`))) out.push(`${f.title}: ${f.detail}`);
    }
  }
  return out;
}

/** Real production failures no scorer measures (Diagnose's `quality:unmeasured`), still unmeasured after this run's changes. */
export function unmeasuredFailures(d: Diagnosis | null, changes: readonly ChangeSeen[]): string[] {
  return unaddressed(d, changes, 'measurement', (id) => id === 'quality:unmeasured' || id.endsWith(':unmeasured'));
}

/** Trace data that cannot support diagnosis (Diagnose's instrumentation findings), not fixed by this run's changes. */
export function instrumentationGaps(d: Diagnosis | null, changes: readonly ChangeSeen[]): string[] {
  return unaddressed(d, changes, 'instrumentation', (id) => id.startsWith('instrumentation:'));
}
