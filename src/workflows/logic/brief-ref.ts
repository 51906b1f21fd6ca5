/**
 * A change brief's routes and findings by reference (issue 9: a run's history stays small). They are parts of the
 * diagnosis, and the diagnosis is diagnose() of the evidence Discover wrote to the run directory (pure): when the run
 * acts on exactly that diagnosis, the brief sent to runChangeAgent / writeBrief names the routes by id and says how
 * to recompute the diagnosis (the evidence file, the diagnose() options, a digest of the result), instead of carrying
 * ~2–6 kB of routes and findings per iteration. The activity recomputes them (src/activities/brief-ref.ts).
 *
 * Whole routes are sent as before when they are not all the diagnosis' own (a route made up after Verify, or a
 * diagnosis with score-vs-behaviour contradictions added, which diagnose() of the evidence does not give back).
 * Pure; safe to import from workflow code. Only the shape of an activity input changes, never which commands the
 * workflow issues.
 */
import type { FileRef } from './evidence.js';
import type { DiagnoseOptions, Diagnosis, Route } from './diagnose.js';

/** A finding as a brief quotes it. */
export interface BriefFinding {
  id: string;
  title: string;
  detail: string;
  exampleTraceIds: string[];
}

/** How an activity recomputes the diagnosis the run acts on (same fields as the handoff's DiagnosisRecipe). */
export interface DiagnosisSource {
  /** Discover's evidence file (sha256-checked when read). */
  evidenceFile: Pick<FileRef, 'path' | 'sha256'>;
  binaryScores: string[];
  primaryScore?: string;
  coverageGapRoutes?: boolean;
  /** The workflow's evidence had numbered queries (logic/query-table.ts): number the file's the same way. */
  queriesByNumber?: boolean;
  /** textDigest(JSON.stringify(diagnosis)) of the diagnosis the workflow acts on. */
  digest: string;
}

/** What a brief carries instead of its routes and findings. */
export interface BriefRoutesRef extends DiagnosisSource {
  /** The brief's routes, in order: all of them routes of the recomputed diagnosis. */
  routeIds: string[];
}

/** The findings behind `routes`, as the brief quotes them (in the diagnosis' order). */
export function briefFindings(d: Pick<Diagnosis, 'findings'>, routes: readonly Pick<Route, 'findingIds'>[]): BriefFinding[] {
  const ids = new Set(routes.flatMap((r) => r.findingIds));
  return d.findings.filter((f) => ids.has(f.id)).map((f) => ({ id: f.id, title: f.title, detail: f.detail, exampleTraceIds: f.exampleTraceIds }));
}

/** The diagnose() options a source was made with. */
export function diagnoseOptionsOf(s: Pick<DiagnosisSource, 'binaryScores' | 'primaryScore' | 'coverageGapRoutes'>): DiagnoseOptions {
  return { binaryScores: s.binaryScores, ...(s.primaryScore ? { primaryScore: s.primaryScore } : {}), coverageGapRoutes: s.coverageGapRoutes ?? false };
}

/**
 * The reference for `routes` when every one is the diagnosis' own route (same id, same content) and the diagnosis can
 * be recomputed (`source` not null); otherwise null (send the routes whole).
 */
export function routesByReference(routes: readonly Route[], diagnosis: Pick<Diagnosis, 'routes'>, source: DiagnosisSource | null): BriefRoutesRef | null {
  if (!source || !routes.length) return null;
  for (const r of routes) {
    const own = diagnosis.routes.find((x) => x.id === r.id);
    if (!own || (own !== r && JSON.stringify(own) !== JSON.stringify(r))) return null;
  }
  return { ...source, routeIds: routes.map((r) => r.id) };
}
