/**
 * The flywheel: Orient → Discover → Diagnose → Improve → Verify & Decide, at most `maxIterations` loops,
 * then the handoff — written on every exit, including failed, blocked and cancelled runs.
 * Deterministic: decisions are pure functions over activity results; every side effect is an activity.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { FlywheelActivities } from '../activities/index.js';
import type { HandoffInput } from '../handoff/build.js';
import { durationMs, flywheelInputSchema, type FlywheelInput } from '../../schemas/flywheel-input.js';
import {
  FlywheelGoalKey,
  FlywheelModeKey,
  FlywheelOutcomeKey,
  FlywheelPhaseKey,
  FlywheelProjectKey,
  statusQuery,
  type FlywheelStatus,
  type Phase,
} from './definitions.js';
import { Gates } from './gates.js';
import { assessScorersAgainstBaseline } from './logic/scorer-health.js';
import { checkSmoke, decide, type Decision, type Outcome } from './logic/decide.js';
import { diagnose, isHealthy, type Diagnosis, type Route } from './logic/diagnose.js';
import type { ChangeRecord, DiscoverEvidence, EvalResult, RowComparison } from './logic/evidence.js';
import { applyPlanAnswer, experimentName, planText, routeForNext } from './plan.js';
import type { ChangeAgentResult, CurateResult, OrientContext } from './types.js';

/** Code artifacts, in the order their changes are made (measurement and instrumentation before agent). */
const CODE_ARTIFACTS = ['measurement', 'instrumentation', 'agent'] as const;

const NON_RETRYABLE = ['InvalidConfig', 'ProjectNotFound', 'BaselineNotFound', 'NoEvalFiles', 'NoScore', 'ChangeAgentMissing', 'ChangeAgentFailed', 'ChangeAgentTimeout', 'LabelerOutput', 'HandoffValidation'];

/** Queries and small writes: a few retries. bt's own non-retryable kinds are marked where raised. */
const acts = proxyActivities<FlywheelActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 4, nonRetryableErrorTypes: NON_RETRYABLE },
});
/** Evals and curation with a labeler: long, heartbeating, cancellable. */
const longActs = proxyActivities<FlywheelActivities>({
  startToCloseTimeout: '90 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
/** The handoff writer: must succeed, so it retries longest. */
const handoffActs = proxyActivities<FlywheelActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', maximumAttempts: 10, nonRetryableErrorTypes: ['HandoffValidationError'] },
});

export interface FlywheelResult {
  outcome: Outcome;
  summaryPath: string | null;
  narrativePath: string | null;
  iterations: number;
  error: string | null;
}

export async function flywheelWorkflow(raw: FlywheelInput): Promise<FlywheelResult> {
  const parsed = flywheelInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`invalid flywheel input: ${issues}`, 'InvalidInput');
  }
  const cfg = parsed.data;
  const info = workflowInfo();
  const startedAt = new Date().toISOString();
  const gates = new Gates(cfg.mode === 'interactive', durationMs(cfg.gateTimeout));
  const phasesRun: Phase[] = [];
  const status: FlywheelStatus = {
    workflowId: info.workflowId,
    project: cfg.project ?? '(resolving)',
    goal: cfg.goal,
    mode: cfg.mode,
    phase: 'orient',
    iteration: 0,
    activity: 'starting',
    pendingGate: null,
    findings: [],
    gates: gates.records,
    outcome: null,
    summaryPath: null,
  };
  setHandler(statusQuery, () => ({ ...status, pendingGate: gates.pending, gates: gates.records }));
  const enter = (phase: Phase, activity: string) => {
    status.phase = phase;
    status.activity = activity;
    if (!phasesRun.includes(phase)) phasesRun.push(phase);
    upsertSearchAttributes([{ key: FlywheelPhaseKey, value: phase }]);
  };
  upsertSearchAttributes([
    { key: FlywheelGoalKey, value: cfg.goal },
    { key: FlywheelModeKey, value: cfg.mode },
    ...(cfg.project ? [{ key: FlywheelProjectKey, value: cfg.project }] : []),
  ]);

  let ctx: OrientContext | null = null;
  let evidence: DiscoverEvidence | null = null;
  let diagnosis: Diagnosis | null = null;
  /** The pinned baseline: reported in the handoff and used for the per-row comparison. */
  let baseline: EvalResult | null = null;
  let comparison: RowComparison | null = null;
  const evals: (EvalResult & { iteration?: number })[] = [];
  const changes: ChangeRecord[] = [];
  const decisions: { iteration: number; decision: Decision }[] = [];
  const briefs: NonNullable<HandoffInput['briefs']> = [];
  const history: { iteration: number; improved: boolean }[] = [];
  let forced: { outcome: Outcome; reason: string } | null = null;
  let failure: { phase: string; message: string } | null = null;
  let iteration = 0;
  let datasetId: string | null = null;
  let cancelledBy: unknown = null;

  /** Ends the run at a gate answer that is not "go on"; returns true when the run must stop. */
  const stopAt = (answer: { kind: string; by?: string; note?: string }, what: string): boolean => {
    if (answer.kind === 'timed_out') {
      forced = { outcome: 'blocked', reason: `nobody answered the ${what} gate within ${cfg.gateTimeout}; nothing was written after it` };
      return true;
    }
    if (answer.kind === 'stopped' || answer.kind === 'rejected') {
      forced = { outcome: 'needs_work', reason: `${answer.by} ${answer.kind === 'stopped' ? 'stopped the run' : 'rejected'} at the ${what} gate${answer.note ? `: ${answer.note}` : ''}` };
      return true;
    }
    return false;
  };

  try {
    // ORIENT
    enter('orient', 'resolving project, baseline and schema');
    ctx = await acts.orient(cfg, info.workflowId);
    status.project = ctx.project.name;
    upsertSearchAttributes([{ key: FlywheelProjectKey, value: ctx.project.name }]);
    status.activity = 'loading the baseline experiment';
    baseline = await acts.loadBaseline(ctx);
    if (!baseline && ctx.evalFiles.length) {
      status.activity = 'running a baseline eval (the project has no experiments)';
      baseline = await longActs.runEval({ ctx, cwd: ctx.agentDir, split: 'all', runMode: 'baseline', experimentName: experimentName(info.workflowId, 0, 'baseline', 'all'), useDataset: false, iteration: 0 });
      ctx = { ...ctx, baseline: { id: baseline.experimentId, name: baseline.experimentName, chosenBy: 'session' } };
    }

    let plan: Route[] | null = null;
    let rediscover = true;
    for (iteration = 1; iteration <= cfg.maxIterations; iteration++) {
      status.iteration = iteration;
      if (rediscover || !evidence) {
        // DISCOVER
        enter('discover', 'querying the evidence planes');
        evidence = await acts.discover({ ctx, goal: cfg.goal, windowDays: cfg.windowDays, iteration, datasetId });
        // DIAGNOSE (pure)
        enter('diagnose', 'building the plan');
        diagnosis = diagnose(evidence, { binaryScores: ctx.binaryScores, ...(ctx.primaryScore ? { primaryScore: ctx.primaryScore } : {}) });
        status.findings = diagnosis.findings.map((f) => `${f.severity}: ${f.title}`);
        if (iteration === 1 && isHealthy(diagnosis)) break;
        plan = diagnosis.routes.filter((r) => r.artifact !== 'none');
      }
      if (!plan || !plan.length) break;

      const planAnswer = await gates.ask('plan', `Plan for iteration ${iteration}`, planText(diagnosis!, plan), plan.map((r) => r.id));
      if (stopAt(planAnswer, 'plan')) break;
      plan = applyPlanAnswer(plan, planAnswer, diagnosis!);
      if (!plan.length) {
        forced = { outcome: 'needs_work', reason: 'every step of the plan was skipped' };
        break;
      }

      // IMPROVE, in plan order (measurement and instrumentation before agent behaviour).
      enter('improve', 'applying the plan');
      const iterChanges: ChangeRecord[] = [];
      let splitBaselines: { train?: EvalResult; validation?: EvalResult } = {};
      // Curation touches no code, so it runs first; then the unchanged agent is measured on the curated
      // splits; then one change per code artifact (all its routes in one brief), in plan priority order.
      let halted = false;
      for (const route of plan.filter((r) => r.artifact === 'dataset')) {
        const a = await gates.ask('write', `Upsert curated rows into dataset ${ctx.datasetName}`, `Route \`${route.id}\`: ${route.title}`);
        if (stopAt(a, 'dataset write')) { halted = true; break; }
        if (a.kind === 'skipped') continue;
        status.activity = `curating dataset rows for ${route.title}`;
        const res: CurateResult = await longActs.curateDataset({ ctx, routeId: route.id, targets: route.targets, windowDays: evidence!.window.days, iteration, labeler: cfg.labeler });
        datasetId = res.datasetId ?? datasetId;
        iterChanges.push({
          id: `i${iteration}-${route.id}`,
          iteration,
          routeId: route.id,
          findingIds: route.findingIds,
          artifact: 'dataset',
          description: `Upserted ${res.upserted} curated rows (${res.failing} failing, ${res.passing} passing; ${res.train} train / ${res.validation} validation; ${res.needsLabel} need a label; ${res.duplicatesDropped} near-duplicates dropped) into ${res.dataset}`,
          files: [],
          datasetRows: { dataset: res.dataset, ...(res.datasetId ? { datasetId: res.datasetId } : {}), upserted: res.upserted, train: res.train, validation: res.validation, needsLabel: res.needsLabel, rowsFile: res.rowsFile },
          appliedBy: 'bt-flywheel',
        });
      }
      const codeGroups = CODE_ARTIFACTS.map((artifact) => ({ artifact, routes: plan!.filter((r) => r.artifact === artifact) })).filter((g) => g.routes.length);
      if (!halted && codeGroups.length && datasetId && ctx.evalFiles.length) {
        status.activity = 'evaluating the unchanged agent on the curated splits';
        splitBaselines = {
          train: await longActs.runEval({ ctx, cwd: ctx.agentDir, split: 'train', runMode: 'baseline', experimentName: experimentName(info.workflowId, iteration, 'before', 'train'), useDataset: true, iteration }),
          validation: await longActs.runEval({ ctx, cwd: ctx.agentDir, split: 'validation', runMode: 'baseline', experimentName: experimentName(info.workflowId, iteration, 'before', 'validation'), useDataset: true, iteration }),
        };
        evals.push({ ...splitBaselines.train!, iteration }, { ...splitBaselines.validation!, iteration });
      }
      for (const { artifact, routes } of halted ? [] : codeGroups) {
        const ids = routes.map((r) => r.id);
        const findingIds = [...new Set(routes.flatMap((r) => r.findingIds))];
        const findings = (diagnosis?.findings ?? []).filter((f) => findingIds.includes(f.id));
        const brief = { ctx, goal: cfg.goal, iteration, artifact, routes, findings: findings.map((f) => ({ id: f.id, title: f.title, detail: f.detail, exampleTraceIds: f.exampleTraceIds })) };
        const title = routes.length === 1 ? routes[0]!.title : `${routes.length} ${artifact} problems (${ids.join(', ')})`;
        const record = (files: string[], description: string, appliedBy: string, extra: Partial<ChangeRecord> = {}) =>
          iterChanges.push({ id: `i${iteration}-${artifact}`, iteration, routeId: ids.join(','), findingIds, artifact, description, files, appliedBy, ...extra });
        if (cfg.changeCommand) {
          const a = await gates.ask('write', `Run the change agent for ${artifact}: ${title}`, `\`${cfg.changeCommand.join(' ')}\` in ${ctx.agentDir}`, ids);
          if (stopAt(a, 'change')) { halted = true; break; }
          if (a.kind === 'skipped') continue;
          status.activity = `change agent working on ${artifact}`;
          const res: ChangeAgentResult = await longActs.runChangeAgent({ brief, command: cfg.changeCommand, timeoutMs: durationMs(cfg.changeTimeout) });
          record(res.files, res.files.length ? `${title}: change agent edited ${res.files.length} file(s)` : `${title}: change agent made no change`, cfg.changeCommand.join(' '), {
            diffStat: { files: res.files.length, insertions: res.insertions, deletions: res.deletions },
            ...(res.pushedScorers.length ? { functions: res.pushedScorers.map((f) => ({ slug: f, action: 'pushed' as const })) } : {}),
          });
        } else {
          const written = await acts.writeBrief(brief);
          if (cfg.mode === 'interactive') {
            const a = await gates.ask('apply', `Apply the ${artifact} change and signal "applied": ${title}`, `Brief: ${written.path}\n\n${written.body}`, ids);
            if (stopAt(a, 'apply')) { halted = true; break; }
            if (a.kind !== 'applied') continue;
            record(a.files ?? [], `${title}: applied by ${a.by}${a.note ? ` (${a.note})` : ''}`, a.by);
          } else {
            briefs.push({ routeId: ids.join(','), artifact, title, body: written.body, path: written.path });
          }
        }
      }
      changes.push(...iterChanges);
      if (halted) break;
      if (!iterChanges.length) {
        forced = { outcome: 'needs_work', reason: briefs.length ? 'no change agent is configured: the plan is handed off as change briefs' : 'nothing in the plan was applied' };
        break;
      }

      // VERIFY & DECIDE
      enter('verify', 'smoke eval');
      if (!ctx.evalFiles.length) {
        forced = { outcome: 'needs_work', reason: 'no eval files to verify the change with' };
        break;
      }
      const useDataset = datasetId !== null;
      const smoke = await longActs.runEval({ ctx, cwd: ctx.agentDir, split: useDataset ? 'train' : 'all', runMode: 'smoke', experimentName: experimentName(info.workflowId, iteration, 'smoke', 'train'), useDataset, iteration });
      evals.push({ ...smoke, iteration });
      let full: { train?: EvalResult; validation?: EvalResult } = {};
      const smokeCheck = checkSmoke(smoke, ctx.primaryScore);
      if (smokeCheck.ok) {
        status.activity = 'full evals';
        if (useDataset) {
          const train = await longActs.runEval({ ctx, cwd: ctx.agentDir, split: 'train', runMode: 'full', experimentName: experimentName(info.workflowId, iteration, 'full', 'train'), useDataset, iteration });
          evals.push({ ...train, iteration });
          full = { train };
        }
        // Validation last: it is the final measurement the verdict and the handoff rest on.
        const validation = await longActs.runEval({ ctx, cwd: ctx.agentDir, split: useDataset ? 'validation' : 'all', runMode: 'full', experimentName: experimentName(info.workflowId, iteration, 'full', 'validation'), useDataset, iteration });
        evals.push({ ...validation, iteration });
        full = { ...full, validation };
        if (baseline) {
          status.activity = 'per-row comparison against the baseline';
          comparison = await acts.compareRuns({ baseline, next: validation, tolerance: 0.1, runDir: ctx.runDir, iteration });
        }
      }
      const primaryRun = full.validation ?? smoke;
      const decision = decide({
        iteration,
        maxIterations: cfg.maxIterations,
        targetScore: ctx.primaryScore,
        smoke,
        full,
        baseline,
        baselineSplits: splitBaselines,
        comparison,
        scorerHealth: assessScorersAgainstBaseline(primaryRun.distributions ?? [], (splitBaselines.validation ?? baseline)?.distributions ?? [], ctx.binaryScores),
        newFailurePatterns: [],
        remainingGaps: [],
        changesMade: iterChanges,
        history,
      });
      decisions.push({ iteration, decision });
      history.push({ iteration, improved: decision.verdict.improved });

      const routeAnswer = await gates.ask(
        'route',
        `Routing after iteration ${iteration}: ${decision.next.kind === 'exit' ? `exit ${decision.next.outcome}` : `next route ${decision.next.route}`}`,
        `${decision.next.reason}\n\nDeltas: ${decision.verdict.deltas.map((d) => `${d.score} ${d.delta ?? 'n/a'}`).join(', ')}; regressions: ${decision.verdict.regressionCount}`,
        ['measurement', 'instrumentation', 'dataset', 'agent'],
      );
      if (stopAt(routeAnswer, 'routing')) break;
      if (routeAnswer.kind === 'overridden') {
        plan = [routeForNext(routeAnswer.route, `overridden by ${routeAnswer.by}`, diagnosis!, iteration)];
        rediscover = false;
        continue;
      }
      if (decision.next.kind === 'exit') {
        forced = { outcome: decision.next.outcome, reason: decision.next.reason };
        break;
      }
      plan = [routeForNext(decision.next.route, decision.next.reason, diagnosis!, iteration)];
      rediscover = decision.next.rediscover;
    }
    if (iteration > cfg.maxIterations && !forced) {
      forced = { outcome: 'no_convergence', reason: `no accepted improvement after ${cfg.maxIterations} iterations` };
    }
  } catch (err) {
    if (isCancellation(err)) {
      cancelledBy = err;
      forced = { outcome: 'blocked', reason: 'the run was cancelled' };
    } else {
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      failure = { phase: status.phase, message: cause instanceof Error ? cause.message : String(cause) };
      forced = { outcome: 'blocked', reason: `the ${status.phase} phase failed: ${failure.message}` };
    }
  }

  // HANDOFF — always, even when cancelled.
  enter('handoff', 'writing the handoff');
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
    iterations: Math.min(iteration, cfg.maxIterations),
    maxIterations: cfg.maxIterations,
    phasesRun: [...phasesRun],
    evidence,
    diagnosis,
    decisions,
    changes,
    evals,
    baseline,
    comparison,
    gates: gates.records,
    artifacts: [],
    error: failure,
    briefs,
    ...(forced ? { outcome: (forced as { outcome: Outcome }).outcome, outcomeReason: (forced as { reason: string }).reason } : {}),
  };
  const paths = await CancellationScope.nonCancellable(() => handoffActs.writeHandoff({ input: handoffInput, outDir: cfg.outDir }));
  const outcome: Outcome = paths.outcome;
  status.outcome = outcome;
  status.summaryPath = paths.summaryPath;
  enter('done', outcome);
  upsertSearchAttributes([{ key: FlywheelOutcomeKey, value: outcome }]);
  if (cancelledBy) throw cancelledBy; // the run ends cancelled, with its handoff written
  return { outcome, summaryPath: paths.summaryPath, narrativePath: paths.narrativePath, iterations: Math.min(iteration, cfg.maxIterations), error: failure ? (failure as { message: string }).message : null };
}
