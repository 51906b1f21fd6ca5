/**
 * The activity side of a brief's routes by reference (src/workflows/logic/brief-ref.ts): the diagnosis recomputed
 * from Discover's evidence file (sha256-checked) with the options the workflow used, and the brief's routes and
 * findings taken from it. A brief sent whole (workflows of older releases, routes made up after Verify) passes through.
 */
import { ApplicationFailure } from '@temporalio/common';
import { diagnose } from '../workflows/logic/diagnose.js';
import type { DiscoverEvidence } from '../workflows/logic/evidence.js';
import { briefFindings, diagnoseOptionsOf, type BriefRoutesRef } from '../workflows/logic/brief-ref.js';
import type { BriefInput } from './change-agent.js';
import { EvidenceFileError, numbered, readEvidenceFile } from './evidence-file.js';

/** A brief as the workflow sends it: whole, or with `routesRef` in place of its routes and findings. */
export type BriefSent = BriefInput & { routesRef?: BriefRoutesRef };

export async function resolveBrief(sent: BriefSent): Promise<BriefInput> {
  const { routesRef, ...brief } = sent;
  if (!routesRef) return brief;
  const fail = (why: string) => ApplicationFailure.nonRetryable(`the change brief's routes cannot be recomputed: ${why}`, 'BriefReference');
  let evidence: DiscoverEvidence;
  try {
    evidence = await readEvidenceFile(routesRef.evidenceFile);
  } catch (err) {
    if (err instanceof EvidenceFileError) throw fail(err.message);
    throw err;
  }
  // The workflow diagnosed the evidence with numbered queries: so does this (routes and findings do not quote queries).
  const diagnosis = diagnose(routesRef.queriesByNumber ? numbered(evidence).evidence : evidence, diagnoseOptionsOf(routesRef));
  const routes = routesRef.routeIds.map((id) => diagnosis.routes.find((r) => r.id === id));
  const missing = routesRef.routeIds.filter((_, i) => !routes[i]);
  if (missing.length) throw fail(`the diagnosis of the evidence has no route ${missing.join(', ')} (this worker's code differs from the workflow's?)`);
  const own = routes as NonNullable<(typeof routes)[number]>[];
  return { ...brief, routes: own, findings: briefFindings(diagnosis, own) };
}
