/** Plan arithmetic for the workflow: pure helpers (no workflow APIs), tested in tables. */
import type { GateAnswer } from './gates.js';
import type { Diagnosis, Route, RouteArtifact } from './logic/diagnose.js';

const ARTIFACTS: readonly RouteArtifact[] = ['measurement', 'instrumentation', 'dataset', 'agent'];

/** Markdown of a plan, as shown at the plan gate. */
export function planText(d: Diagnosis, plan: readonly Route[]): string {
  const lines = plan.map(
    (r, i) => `${i + 1}. **${r.artifact}** \`${r.id}\` — ${r.title} (confidence ${r.confidence})\n   ${r.evidence.slice(0, 2).join('; ')}`,
  );
  const notes = d.notes.length ? ['', 'Notes:', ...d.notes.map((n) => `- ${n}`)] : [];
  const low = d.lowConfidence ? ['', '**Low confidence**: the evidence is thin; treat this plan as a hypothesis.'] : [];
  return [...lines, ...notes, ...low].join('\n');
}

/** The plan after a person's answer at the plan gate (subset approval, skip, override). */
export function applyPlanAnswer(plan: readonly Route[], answer: GateAnswer, d: Diagnosis): Route[] {
  switch (answer.kind) {
    case 'approved':
      return answer.subset?.length ? plan.filter((r) => answer.subset!.includes(r.id)) : [...plan];
    case 'skipped':
      return plan.filter((r) => r.id !== answer.step);
    case 'overridden': {
      const byId = d.routes.find((r) => r.id === answer.route);
      return [byId ?? routeForNext(answer.route, `overridden by ${answer.by}`, d, 0)];
    }
    default:
      return [...plan];
  }
}

/** A route for the next iteration: the diagnosed route of that artifact, or a new one carrying the reason. */
export function routeForNext(artifact: string, reason: string, d: Diagnosis, iteration: number): Route {
  const known = d.routes.find((r) => r.artifact === artifact || r.id === artifact);
  if (known) return known;
  const a = (ARTIFACTS as readonly string[]).includes(artifact) ? (artifact as RouteArtifact) : 'agent';
  return {
    id: `${a}:verify-${iteration}`,
    artifact: a,
    title: `${a} follow-up from Verify & Decide`,
    rationale: reason,
    evidence: [reason],
    counterevidence: [],
    confidence: 'medium',
    targets: d.primaryScore ? [{ kind: 'score', name: d.primaryScore }] : [],
    findingIds: d.findings.slice(0, 3).map((f) => f.id),
    exampleTraceIds: [],
  };
}

/** Deterministic experiment names: flywheel-<workflow id>-i<iteration>-<mode>-<split>. */
export function experimentName(workflowId: string, iteration: number, mode: string, split: string): string {
  return `flywheel-${workflowId.replace(/[^A-Za-z0-9._-]/g, '-')}-i${iteration}-${mode}-${split}`;
}
