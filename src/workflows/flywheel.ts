/**
 * The flywheel: Orient → Discover → Diagnose → Improve → Verify & Decide, at most `maxIterations` loops,
 * then the handoff — written on every exit, including failed, blocked and cancelled runs.
 * Deterministic: decisions are pure functions over activity results; every side effect is an activity.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TemporalFailure,
  CancellationScope,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { HandoffInput } from '../handoff/build.js';
import { durationMs, workflowInputSchema, type FlywheelInput, type HostQueues } from '../../schemas/flywheel-input.js';
import { FlywheelGoalKey, FlywheelModeKey, FlywheelOutcomeKey, FlywheelProjectKey, statusQuery } from './definitions.js';
import { baselineGate, changesGate } from './gate-text.js';
import { Gates } from './gates.js';
import { improve } from './improve.js';
import type { Outcome } from './logic/decide.js';
import { diagnose, isHealthy, type DiagnoseOptions, type Diagnosis, type Route } from './logic/diagnose.js';
import { contradictionFindings, withContradictions } from './logic/measurement.js';
import { textDigest } from './logic/digest.js';
import type { DiagnosisSource } from './logic/brief-ref.js';
import type { DiscoverEvidence, EvalResult, RowComparison } from './logic/evidence.js';
import { applyPlanAnswer, experimentName, planText, routeForNext } from './plan.js';
import { activityProxies, claimActs } from './proxies.js';
import { FlywheelRun } from './run-state.js';
import { BLOCKED_FAILURE_TYPE } from '../shared.js';
import type { DiagnosisRecipe, OrientContext } from './types.js';
import { verifyAndDecide } from './verify.js';

/** patched() id: Diagnose also checks scores against behaviour (checkScoreBehaviour); older histories do not. */
export const SCORE_BEHAVIOUR_PATCH = 'score-behaviour-check';
/** patched() id: before it, a Discover that Verify asked for replaced the plan with the whole new diagnosis. */
export const FOCUSED_REDISCOVER_PATCH = 'focused-rediscover';

export interface FlywheelResult {
  outcome: Outcome;
  summaryPath: string | null;
  narrativePath: string | null;
  iterations: number;
  error: string | null;
}

export async function flywheelWorkflow(raw: FlywheelInput): Promise<FlywheelResult> {
  const parsed = workflowInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`invalid flywheel input: ${issues}`, 'InvalidInput');
  }
  const cfg = parsed.data;
  const info = workflowInfo();
  const startedAt = new Date().toISOString();
  const run = new FlywheelRun(cfg, info, new Gates(cfg.mode === 'interactive', durationMs(cfg.gateTimeout)));
  // Host affinity (src/workflows/proxies.ts): the starter named the host, or the first worker to answer claims it.
  // Histories recorded before host affinity have neither; they keep running on the workflow's own queue.
  let hostQueues: HostQueues | undefined = cfg.hostQueues;
  if (!hostQueues && patched('host-affine-activities')) {
    const claimed = await claimActs.claimHost();
    hostQueues = { host: claimed.host, heavy: claimed.heavy };
  }
  run.io = activityProxies(hostQueues, durationMs(cfg.retryWindow));
  const { acts, longActs, handoffActs } = run.io;
  const { gates, status } = run;
  setHandler(statusQuery, () => run.snapshot());
  upsertSearchAttributes([
    { key: FlywheelGoalKey, value: cfg.goal },
    { key: FlywheelModeKey, value: cfg.mode },
    ...(cfg.project ? [{ key: FlywheelProjectKey, value: cfg.project }] : []),
  ]);

  let ctx: OrientContext | null = null;
  let evidence: DiscoverEvidence | null = null;
  let diagnosis: Diagnosis | null = null;
  /** The options the last diagnosis was made with (the handoff recomputes it from the evidence file with them). */
  let diagnoseOptions: DiagnoseOptions | null = null;
  /** How an activity recomputes `diagnosis` from the evidence file (null: it cannot; briefs carry their routes). */
  let diagnosisSource: DiagnosisSource | null = null;
  /** The pinned baseline: reported in the handoff and used for the per-row comparison. */
  let baseline: EvalResult | null = null;
  let comparison: RowComparison | null = null;
  let failure: { phase: string; message: string } | null = null;
  let iteration = 0;
  let cancelledBy: unknown = null;

  try {
    // ORIENT
    run.enter('orient', 'resolving project, baseline and schema');
    // The run id keys the run directory: a new run of the same workflow id starts from a fresh workspace,
    // while a reset keeps the directory its history already recorded.
    ctx = await acts.orient(cfg, info.workflowId, info.runId);
    status.project = ctx.project.name;
    upsertSearchAttributes([{ key: FlywheelProjectKey, value: ctx.project.name }]);
    run.doing('loading the baseline experiment');
    baseline = await acts.loadBaseline(ctx);
    if (!baseline && ctx.evalFiles.length) {
      run.doing('running a baseline eval (the project has no experiments)');
      baseline = await longActs.runEval({ ctx, cwd: ctx.agentDir, split: 'all', runMode: 'baseline', experimentName: experimentName(info.workflowId, 0, 'baseline', 'all'), useDataset: false, iteration: 0 });
      ctx = { ...ctx, baseline: { id: baseline.experimentId, name: baseline.experimentName, chosenBy: 'session' } };
    }

    let plan: Route[] | null = null;
    let rediscover = true;
    /** A decision that asked for a focused Discover first ("new failure pattern → focused Discover → dataset"). */
    let focus: { route: string; reason: string } | null = null;
    for (iteration = 1; iteration <= cfg.maxIterations; iteration++) {
      status.iteration = iteration;
      if (rediscover || !evidence) {
        // DISCOVER
        run.enter('discover', 'querying the evidence planes');
        // Its queries come by number (queriesByNumber, logic/query-table.ts): the texts are in the evidence file only.
        evidence = await acts.discover({ ctx, goal: cfg.goal, windowDays: cfg.windowDays, iteration, datasetId: run.datasetId });
        // DIAGNOSE (pure)
        run.enter('diagnose', 'building the plan');
        // Coverage gaps of normally scoring cohorts are dataset routes since 'coverage-gap-routes' (older histories planned without them).
        diagnoseOptions = {
          binaryScores: ctx.binaryScores,
          ...(ctx.primaryScore ? { primaryScore: ctx.primaryScore } : {}),
          coverageGapRoutes: patched('coverage-gap-routes'),
        };
        diagnosis = diagnose(evidence, diagnoseOptions);
        const diagnosed = JSON.stringify(diagnosis);
        // Score vs behaviour: errored or empty answers scored high make a measurement route (src/workflows/logic/measurement.ts).
        if (evidence.scores.length && patched(SCORE_BEHAVIOUR_PATCH)) {
          run.doing('checking scores against behaviour');
          const behaviour = await acts.checkScoreBehaviour({ ctx, scores: evidence.scores.map((s) => s.name), windowDays: evidence.window.days });
          diagnosis = withContradictions(diagnosis, contradictionFindings(behaviour, { from: evidence.window.from, to: evidence.window.to, days: evidence.window.days }));
        }
        // Briefs name this diagnosis' routes by id when an activity can recompute it from the evidence file (logic/brief-ref.ts).
        const acted = JSON.stringify(diagnosis);
        diagnosisSource =
          evidence.file && acted === diagnosed
            ? {
                evidenceFile: { path: evidence.file.path, sha256: evidence.file.sha256 },
                ...diagnoseOptions,
                binaryScores: ctx.binaryScores,
                ...(evidence.queriesByNumber ? { queriesByNumber: true } : {}),
                digest: textDigest(acted),
              }
            : null;
        status.findings = diagnosis.findings.map((f) => `${f.severity}: ${f.title}`);
        if (iteration === 1 && isHealthy(diagnosis)) break;
        plan = diagnosis.routes.filter((r) => r.artifact !== 'none');
        // Focused: the fresh evidence serves the route Verify chose, not a whole new plan.
        if (focus && patched(FOCUSED_REDISCOVER_PATCH)) plan = [routeForNext(focus.route, focus.reason, diagnosis, iteration)];
        focus = null;
      }
      if (!plan || !plan.length) break;

      // The plan gate also shows the baseline the changes will be judged against.
      const judged = baselineGate(ctx, baseline, plan);
      const planAnswer = await gates.ask('plan', `Plan for iteration ${iteration}`, `${planText(diagnosis!, plan)}\n\n${judged.detail}`, plan.map((r) => r.id), judged.shown);
      if (run.stopAt(planAnswer, 'plan')) break;
      plan = applyPlanAnswer(plan, planAnswer, diagnosis!);
      if (!plan.length) {
        run.end('needs_work', 'every step of the plan was skipped');
        break;
      }

      // IMPROVE
      run.enter('improve', 'applying the plan');
      const improved = await improve(run, ctx, plan, evidence!, diagnosis!, iteration, diagnosisSource);
      run.changes.push(...improved.changes);
      // Status shows this iteration's code changes with their diffs from here on; so does the routing gate.
      const shownChanges = run.showChanges(improved.changes);
      if (improved.halted) break;
      if (!improved.changes.length) {
        run.end('needs_work', run.briefs.length ? 'no change agent is configured: the plan is handed off as change briefs' : 'nothing in the plan was applied');
        break;
      }

      // VERIFY & DECIDE
      run.enter('verify', 'smoke eval');
      if (!ctx.evalFiles.length) {
        run.end('needs_work', 'no eval files to verify the change with');
        break;
      }
      const verified = await verifyAndDecide(run, ctx, iteration, baseline, improved.before, improved.changes, diagnosis);
      comparison = verified.comparison ?? comparison;
      const { decision } = verified;

      const diffs = changesGate(shownChanges);
      const routeAnswer = await gates.ask(
        'route',
        `Routing after iteration ${iteration}: ${decision.next.kind === 'exit' ? `exit ${decision.next.outcome}` : `next route ${decision.next.route}`}`,
        `${decision.next.reason}\n\nDeltas: ${decision.verdict.deltas.map((d) => `${d.score} ${d.delta ?? 'n/a'}`).join(', ')}; regressions: ${decision.verdict.regressionCount}${diffs.detail}`,
        ['measurement', 'instrumentation', 'dataset', 'agent'],
        diffs.shown || undefined,
      );
      if (run.stopAt(routeAnswer, 'routing')) break;
      if (routeAnswer.kind === 'overridden') {
        plan = [routeForNext(routeAnswer.route, `overridden by ${routeAnswer.by}`, diagnosis!, iteration)];
        rediscover = false;
        continue;
      }
      if (decision.next.kind === 'exit') {
        run.end(decision.next.outcome, decision.next.reason);
        break;
      }
      plan = [routeForNext(decision.next.route, decision.next.reason, diagnosis!, iteration)];
      rediscover = decision.next.rediscover;
      focus = rediscover ? { route: decision.next.route, reason: decision.next.reason } : null;
    }
    if (iteration > cfg.maxIterations && !run.forced) {
      run.end('no_convergence', `no accepted improvement after ${cfg.maxIterations} iterations`);
    }
  } catch (err) {
    if (isCancellation(err)) {
      cancelledBy = err;
      run.end('blocked', 'the run was cancelled');
    } else if (err instanceof TemporalFailure) {
      // An activity gave up (its retries are spent, or its failure is permanent): the run ends blocked, with its
      // handoff, and then fails (below) so schedules and alerts see a failed run.
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      failure = { phase: status.phase, message: cause instanceof Error ? cause.message : String(cause) };
      run.end('blocked', `the ${status.phase} phase failed: ${failure.message}`);
    } else {
      // A bug in the workflow code (a TypeError in diagnose(), …) is not an outcome: it fails the workflow task,
      // which Temporal retries, so deploying the fix resumes the run where it stopped.
      throw err;
    }
  }

  // HANDOFF — always, even when cancelled.
  run.enter('handoff', 'writing the handoff');
  const iterations = Math.min(iteration, cfg.maxIterations);
  // The handoff activity can recompute the diagnosis from the evidence file only when diagnose() of that evidence is
  // what the run acted on (not when score-vs-behaviour contradictions were added to it).
  const recomputable = !!(evidence && diagnosis && diagnoseOptions) && JSON.stringify(diagnose(evidence, diagnoseOptions)) === JSON.stringify(diagnosis);
  const handoffInput: HandoffInput = {
    workflowId: info.workflowId,
    runId: info.runId,
    project: ctx ? { id: ctx.project.id, name: ctx.project.name } : { id: 'unknown', name: cfg.project ?? 'unknown' },
    org: ctx?.org ?? null,
    appUrl: ctx?.appUrl ?? 'https://www.braintrust.dev',
    goal: cfg.goal,
    mode: cfg.mode,
    startedAt,
    finishedAt: new Date().toISOString(),
    iterations,
    maxIterations: cfg.maxIterations,
    phasesRun: [...run.phasesRun],
    // By reference when Discover wrote it to the run directory (it is already in history once, as Discover's result).
    evidence: evidence?.file ? null : evidence,
    ...(evidence?.file ? { evidenceFile: { path: evidence.file.path, sha256: evidence.file.sha256 } } : {}),
    // Recomputed from that evidence by the handoff activity (`diagnosisOf` below) instead of a copy in history,
    // unless the run acted on more than diagnose() of that evidence (score-vs-behaviour contradictions added to it).
    diagnosis: evidence?.file && recomputable ? null : diagnosis,
    decisions: run.decisions,
    changes: run.changes,
    evals: run.evals,
    baseline,
    comparison,
    gates: gates.records,
    artifacts: [],
    error: failure,
    briefs: run.briefs,
    ...(run.labelRequests.length ? { labelRequests: run.labelRequests } : {}),
    context: {
      modeReason: cfg.modeReason,
      projectSource: ctx ? `${ctx.project.source}: ${ctx.project.sourceDetail}` : null,
      baseline: ctx?.baseline ? { id: ctx.baseline.id, name: ctx.baseline.name, chosen_by: ctx.baseline.chosenBy } : null,
      notes: ctx?.notes ?? [],
      evalEnv: ctx?.evalEnv?.names ?? [],
    },
    ...(run.forced ? { outcome: run.forced.outcome, outcomeReason: run.forced.reason } : {}),
  };
  const diagnosisOf: DiagnosisRecipe | undefined =
    evidence?.file && diagnosis && ctx && recomputable
      ? { ...diagnoseOptions, binaryScores: ctx.binaryScores, ...(evidence.queriesByNumber ? { queriesByNumber: true } : {}), digest: textDigest(JSON.stringify(diagnosis)) }
      : undefined;
  const paths = await CancellationScope.nonCancellable(() =>
    handoffActs.writeHandoff({ input: handoffInput, outDir: cfg.handoffPerRun ? `${cfg.outDir.replace(/\/+$/, '')}/${info.workflowId}` : cfg.outDir, ...(diagnosisOf ? { diagnosisOf } : {}) }),
  );
  const outcome: Outcome = paths.outcome;
  status.outcome = outcome;
  status.summaryPath = paths.summaryPath;
  run.enter('done', outcome);
  upsertSearchAttributes([{ key: FlywheelOutcomeKey, value: outcome }]);
  if (cancelledBy) throw cancelledBy; // the run ends cancelled, with its handoff written
  const result: FlywheelResult = { outcome, summaryPath: paths.summaryPath, narrativePath: paths.narrativePath, iterations, error: failure ? (failure as { message: string }).message : null };
  if (failure && patched('gave-up-runs-fail')) {
    // A run that gave up is a Failed execution (schedules pause on it, failed-run alerts fire); its result rides in
    // the failure's details, so `run`, `status` and `watch` still report the outcome and the handoff.
    throw ApplicationFailure.create({ message: `run blocked: ${result.error}`, type: BLOCKED_FAILURE_TYPE, nonRetryable: true, details: [result] });
  }
  return result;
}
