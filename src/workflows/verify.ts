/**
 * Verify & Decide: a smoke eval before any full eval, full evals on the train and validation splits
 * (validation last: the final measurement), the per-row comparison against the pinned baseline, then the
 * pure `decide` routing. A code change the verdict does not accept is put back in the working copy before the
 * next attempt (or the handoff), so no iteration builds on a rejected edit.
 */
import { patched } from '@temporalio/workflow';
import { changesToRevert, whyNotAccepted } from './logic/attempts.js';
import { checkSmoke, decide, type Decision } from './logic/decide.js';
import type { Diagnosis } from './logic/diagnose.js';
import type { ChangeRecord, EvalResult, RowComparison } from './logic/evidence.js';
import { assessScorersAgainstBaseline, cmp } from './logic/scorer-health.js';
import { instrumentationGaps, unmeasuredFailures } from './logic/verify-evidence.js';
import { FEWER_ACTIVITIES_PATCH } from './improve.js';
import { experimentName } from './plan.js';
import type { FlywheelRun } from './run-state.js';
import type { OrientContext } from './types.js';

/** patched() id: histories recorded before rejected changes were reverted schedule no revertChange activity. */
export const REVERT_PATCH = 'revert-rejected-changes';

/**
 * patched() id: histories recorded before Verify computed its routing evidence (new failure patterns, remaining
 * gaps, unmeasured failures, instrumentation gaps) schedule no verifyEvidence activity and decided without them.
 */
export const ROUTING_EVIDENCE_PATCH = 'verify-routing-evidence';

/** A row regresses when it drops by more than this from the pinned baseline. */
export const REGRESSION_TOLERANCE = 0.1;

export interface VerifyResult {
  decision: Decision;
  comparison: RowComparison | null;
}

export async function verifyAndDecide(
  run: FlywheelRun,
  ctx: OrientContext,
  iteration: number,
  baseline: EvalResult | null,
  before: { train?: EvalResult; validation?: EvalResult },
  changes: ChangeRecord[],
  diagnosis: Diagnosis | null = null,
): Promise<VerifyResult> {
  const useDataset = run.datasetId !== null;
  // slim: scorer health reads the distributions of the validation run (or of the smoke run when no full run follows).
  const evalArgs = (split: 'train' | 'validation' | 'all', runMode: 'smoke' | 'full', name: string) =>
    ({ split, runMode, experimentName: experimentName(run.info.workflowId, iteration, runMode, name), useDataset, iteration, slim: { distributions: runMode === 'smoke' || split !== 'train' } }) as const;
  const evalRun = (split: 'train' | 'validation' | 'all', runMode: 'smoke' | 'full', name: string) => run.io.longActs.runEval({ ctx, cwd: ctx.agentDir, ...evalArgs(split, runMode, name) });

  run.doing('smoke eval');
  const smoke = await evalRun(useDataset ? 'train' : 'all', 'smoke', 'train');
  run.evals.push({ ...smoke, iteration });
  let full: { train?: EvalResult; validation?: EvalResult } = {};
  let comparison: RowComparison | null = null;
  let evidence: { newFailurePatterns: string[]; remainingGaps: string[] } = { newFailurePatterns: [], remainingGaps: [] };
  if (checkSmoke(smoke, ctx.primaryScore).ok) {
    run.doing('full evals');
    let validation: EvalResult;
    if (useDataset && patched(FEWER_ACTIVITIES_PATCH)) {
      // Train and validation in one activity (older histories: one runEval each, below).
      const [train, valid] = await run.io.longActs.runEvals({ ctx, cwd: ctx.agentDir, runs: [evalArgs('train', 'full', 'train'), evalArgs('validation', 'full', 'validation')] });
      run.evals.push({ ...train!, iteration }, { ...valid!, iteration });
      validation = valid!;
      full = { train: train!, validation };
    } else {
      if (useDataset) {
        const train = await evalRun('train', 'full', 'train');
        run.evals.push({ ...train, iteration });
        full = { train };
      }
      validation = await evalRun(useDataset ? 'validation' : 'all', 'full', 'validation');
      run.evals.push({ ...validation, iteration });
      full = { ...full, validation };
    }
    if (baseline) {
      run.doing('per-row comparison against the baseline');
      const routingEvidence = {
        // decide()'s target: the goal score, else the first score both runs share.
        targetScore: ctx.primaryScore ?? (Object.keys(baseline.scores).filter((k) => k in validation.scores).sort(cmp)[0] ?? null),
        curatedRoutes: run.changes.filter((c) => c.artifact === 'dataset').map((c) => ({ route: c.routeId, needsLabel: c.datasetRows?.needsLabel ?? 0 })),
        workflowId: run.info.workflowId,
        agentChanged: changes.some((c) => c.artifact === 'agent' && c.files.length > 0),
        agentDir: ctx.agentDir,
      };
      if (patched(FEWER_ACTIVITIES_PATCH)) {
        // The comparison and the routing evidence in one activity (older histories: compareRuns, then verifyEvidence).
        run.doing('per-row comparison, failure shapes and curated cohorts in the new run');
        const both = await run.io.acts.compareAndVerify({ baseline, next: validation, tolerance: REGRESSION_TOLERANCE, runDir: ctx.runDir, iteration, evidence: routingEvidence });
        comparison = both.comparison;
        evidence = both.evidence;
      } else {
        comparison = await run.io.acts.compareRuns({ baseline, next: validation, tolerance: REGRESSION_TOLERANCE, runDir: ctx.runDir, iteration });
        if (patched(ROUTING_EVIDENCE_PATCH)) {
          run.doing('failure shapes and curated cohorts in the new run');
          evidence = await run.io.acts.verifyEvidence({ baseline, next: validation, ...routingEvidence, runDir: ctx.runDir, iteration });
        }
      }
    }
  }
  // Carried from Diagnose: production failures no scorer measures and traces that cannot support diagnosis, unless a
  // change of this run addressed them. Histories recorded before this decided without them (same patch).
  const fromDiagnosis = full.validation && patched(ROUTING_EVIDENCE_PATCH)
    ? { unmeasuredFailures: unmeasuredFailures(diagnosis, run.changes), instrumentationGaps: instrumentationGaps(diagnosis, run.changes) }
    : {};
  const measured = full.validation ?? smoke;
  const decision = decide({
    iteration,
    maxIterations: run.cfg.maxIterations,
    targetScore: ctx.primaryScore,
    smoke,
    full,
    baseline,
    baselineSplits: before,
    comparison,
    scorerHealth: assessScorersAgainstBaseline(measured.distributions ?? [], (before.validation ?? baseline)?.distributions ?? [], ctx.binaryScores),
    newFailurePatterns: evidence.newFailurePatterns,
    remainingGaps: evidence.remainingGaps,
    ...fromDiagnosis,
    changesMade: changes,
    history: run.history,
  });
  run.decisions.push({ iteration, decision });
  run.history.push({ iteration, improved: decision.verdict.improved });
  await revertRejected(run, ctx, iteration, decision, changes);
  return { decision, comparison };
}

/** Puts back the iteration's code changes the verdict rejected; each record says what was restored and why. */
async function revertRejected(run: FlywheelRun, ctx: OrientContext, iteration: number, decision: Decision, changes: ChangeRecord[]): Promise<void> {
  const rejected = changesToRevert(decision, changes);
  if (!rejected.length || !patched(REVERT_PATCH)) return;
  const reason = whyNotAccepted(decision.verdict).join('; ');
  for (const c of rejected) {
    run.doing(`reverting the rejected ${c.artifact} change`);
    const pushed = (c.functions ?? []).filter((f) => f.action === 'pushed').map((f) => f.slug);
    const r = await run.io.acts.revertChange({ ctx, iteration, artifact: c.artifact, changeId: c.id, pushedScorers: pushed });
    if (!r.backedUp) continue;
    // `changes` are the run's own records (run.changes holds the same objects): the handoff reports the revert.
    c.reverted = { rule: decision.rule, reason, files: [...r.restored, ...r.overwritten].sort(), overwritten: r.overwritten, repushedScorers: r.repushedScorers };
  }
}
