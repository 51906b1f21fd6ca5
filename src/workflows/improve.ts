/**
 * Improve: apply the approved plan. Dataset curation first (it touches no code), then the unchanged agent is
 * measured on the curated splits, then one change per code artifact — all its routes in one brief — in
 * priority order (measurement and instrumentation before agent behaviour).
 */
import { patched } from '@temporalio/workflow';
import { durationMs } from '../../schemas/flywheel-input.js';
import { curationGate } from './gate-text.js';
import { attemptsFrom } from './logic/attempts.js';
import { briefFindings, routesByReference, type DiagnosisSource } from './logic/brief-ref.js';
import { scorersNeedingLabels } from './logic/measurement.js';
import { commandText } from './logic/redact.js';
import type { Diagnosis, Route } from './logic/diagnose.js';
import type { ChangeRecord, DiscoverEvidence, EvalResult } from './logic/evidence.js';
import { experimentName } from './plan.js';
import type { FlywheelRun } from './run-state.js';
import type { ChangeAgentResult, CurateResult, CurationPlan, OrientContext, ScorerLocation } from './types.js';

/**
 * patched() id: a measurement change locates its scorers first (pulling those hosted in Braintrust: prepareScorers),
 * and pushes the changed scorer files in their own activity (pushScorers) after the change agent, instead of inside
 * runChangeAgent. Histories recorded before it schedule neither.
 */
export const SCORER_ACTIVITIES_PATCH = 'measurement-scorer-activities';

/**
 * patched() id: the dataset write gate opens after the candidates are prepared and shows them (prepareCuration →
 * gate → upsertCuration); histories recorded before ask first and curate in one activity (curateDataset).
 */
export const CURATION_GATE_PATCH = 'curation-gate-shows-candidates';

/**
 * patched() id: Verify's paired steps run as one activity each — the unchanged agent's train and validation evals
 * (runEvals), a change's full train and validation evals (runEvals), the per-row comparison and the routing evidence
 * (compareAndVerify) — so a run's history has three activities fewer per iteration (issue 9). Histories recorded
 * before schedule runEval, runEval, compareRuns, verifyEvidence one by one.
 */
export const FEWER_ACTIVITIES_PATCH = 'fewer-verify-activities';

/** Code artifacts, in the order their changes are made. */
const CODE_ARTIFACTS = ['measurement', 'instrumentation', 'agent'] as const;

export interface ImproveResult {
  changes: ChangeRecord[];
  /** The unchanged agent on the curated splits (when a dataset exists and code is about to change). */
  before: { train?: EvalResult; validation?: EvalResult };
  /** A gate answer ended the run. */
  halted: boolean;
}

/** How a curated batch was drawn (rows already in the dataset left out, the window widened), for the change record. */
function sampleText(res: CurateResult): string {
  const s = res.sample;
  if (!s) return '';
  const parts = [`sampled at random (seeded) from the last ${s.windowDays} days`];
  if (s.widenedFrom !== undefined) parts.push(`widened from ${s.widenedFrom} days for rows not curated yet`);
  if (s.alreadyCurated) parts.push(`${s.alreadyCurated} matching rows already in the dataset left out`);
  return `; ${parts.join(', ')}`;
}

export async function improve(
  run: FlywheelRun,
  ctx: OrientContext,
  plan: Route[],
  evidence: DiscoverEvidence,
  diagnosis: Diagnosis,
  iteration: number,
  diagnosisSource: DiagnosisSource | null = null,
): Promise<ImproveResult> {
  const { cfg, gates } = run;
  const changes: ChangeRecord[] = [];
  const result: ImproveResult = { changes, before: {}, halted: false };

  const recordCuration = (route: Route, res: CurateResult) => {
    run.datasetId = res.datasetId ?? run.datasetId;
    changes.push({
      id: `i${iteration}-${route.id}`,
      iteration,
      routeId: route.id,
      findingIds: route.findingIds,
      artifact: 'dataset',
      description: `Upserted ${res.upserted} curated rows (${res.failing} failing, ${res.passing} passing; ${res.train} train / ${res.validation} validation; ${res.needsLabel} need a label; ${res.duplicatesDropped} near-duplicates dropped) into ${res.dataset}${sampleText(res)}`,
      files: [],
      datasetRows: { dataset: res.dataset, ...(res.datasetId ? { datasetId: res.datasetId } : {}), upserted: res.upserted, train: res.train, validation: res.validation, needsLabel: res.needsLabel, rowsFile: res.rowsFile, ...(res.candidatesTruncated ? { candidatesTruncated: res.candidatesTruncated } : {}) },
      appliedBy: 'bt-flywheel',
    });
  };
  for (const route of plan.filter((r) => r.artifact === 'dataset')) {
    if (patched(CURATION_GATE_PATCH)) {
      // The write gate opens once the candidates are ready (counted, labeled, split, in the run directory) and shows
      // them; nothing reaches Braintrust before the answer.
      run.doing(`preparing curated rows for ${route.title}`);
      const prepared: CurationPlan = await run.io.longActs.prepareCuration({ ctx, routeId: route.id, targets: route.targets, windowDays: evidence.window.days, iteration, labeler: cfg.labeler, agentEnv: cfg.agentEnv });
      const g = curationGate(prepared, route, ctx.project.name);
      const a = await gates.ask('write', g.title, g.detail, [], g.shown);
      if (run.stopAt(a, 'dataset write')) return { ...result, halted: true };
      if (a.kind === 'skipped') continue;
      run.doing(`upserting ${prepared.rows} curated rows into ${prepared.dataset}`);
      recordCuration(route, await run.io.longActs.upsertCuration({ ctx, planFile: prepared.planFile }));
      continue;
    }
    // Histories recorded before: the gate first, then curation in one activity.
    const a = await gates.ask('write', `Upsert curated rows into dataset ${ctx.datasetName}`, `Route \`${route.id}\`: ${route.title}`);
    if (run.stopAt(a, 'dataset write')) return { ...result, halted: true };
    if (a.kind === 'skipped') continue;
    run.doing(`curating dataset rows for ${route.title}`);
    recordCuration(route, await run.io.longActs.curateDataset({ ctx, routeId: route.id, targets: route.targets, windowDays: evidence.window.days, iteration, labeler: cfg.labeler, agentEnv: cfg.agentEnv }));
  }

  const groups = CODE_ARTIFACTS.map((artifact) => ({ artifact, routes: plan.filter((r) => r.artifact === artifact) })).filter((g) => g.routes.length);

  // Measurement, before anything is evaluated: where the targeted scorers live (a scorer hosted only in Braintrust is
  // pulled into a working file), and whether one of them cannot be fixed without human labels — the run then stops
  // with a label_data next step. Null: histories recorded before SCORER_ACTIVITIES_PATCH (or no measurement route).
  let measurementScorers: ScorerLocation[] | null = null;
  const measurement = groups.find((g) => g.artifact === 'measurement');
  if (measurement && patched(SCORER_ACTIVITIES_PATCH)) {
    measurementScorers = [];
    const scores = [...new Set(measurement.routes.filter((r) => r.id.startsWith('measurement:score:')).flatMap((r) => r.targets.filter((t) => t.kind === 'score').map((t) => t.name)))];
    if (scores.length) {
      run.doing('locating the scorers (pulling those hosted in Braintrust)');
      const prep = await run.io.acts.prepareScorers({ ctx, scores, windowDays: evidence.window.days, iteration });
      measurementScorers = prep.scorers;
      const needs = scorersNeedingLabels(prep);
      if (needs.length) {
        run.labelRequests.push(...needs);
        run.end('needs_work', needs.map((n) => n.reason).join('; '));
        return { ...result, halted: true };
      }
    }
  }
  if (groups.length && run.datasetId && ctx.evalFiles.length) {
    run.doing('evaluating the unchanged agent on the curated splits');
    // slim: decide() reads the validation split's distributions only (the rest of each result stays in its stored file).
    const beforeArgs = (split: 'train' | 'validation') =>
      ({ split, runMode: 'baseline', experimentName: experimentName(run.info.workflowId, iteration, 'before', split), useDataset: true, iteration, slim: { distributions: split === 'validation' } }) as const;
    const before = (split: 'train' | 'validation') => run.io.longActs.runEval({ ctx, cwd: ctx.agentDir, ...beforeArgs(split) });
    // Both splits in one activity since FEWER_ACTIVITIES_PATCH (older histories: one runEval each).
    const [train, validation] = (
      patched(FEWER_ACTIVITIES_PATCH)
        ? await run.io.longActs.runEvals({ ctx, cwd: ctx.agentDir, runs: [beforeArgs('train'), beforeArgs('validation')] })
        : [await before('train'), await before('validation')]
    ) as [EvalResult, EvalResult];
    result.before = { train, validation };
    run.evals.push({ ...train, iteration }, { ...validation, iteration });
  }

  for (const { artifact, routes } of groups) {
    const ids = routes.map((r) => r.id);
    const findingIds = [...new Set(routes.flatMap((r) => r.findingIds))];
    const findings = briefFindings(diagnosis, routes);
    // From iteration 2 on, the brief says what the earlier iterations tried, what they measured and why they were not
    // accepted, and asks for a different approach.
    const previousAttempts = attemptsFrom(run.decisions, run.changes);
    const scorerActs = artifact === 'measurement' && measurementScorers !== null;
    const scorers = artifact === 'measurement' ? (measurementScorers ?? []) : [];
    const pulled = scorers.filter((s) => s.file);
    const pulledText = pulled.length ? ` (pulled from Braintrust: ${pulled.map((s) => `${s.slug} → ${s.file}`).join(', ')})` : '';
    // The routes and findings by reference when the activity can recompute them from the evidence (logic/brief-ref.ts).
    const routesRef = routesByReference(routes, diagnosis, diagnosisSource);
    const brief = {
      ctx,
      goal: cfg.goal,
      iteration,
      artifact,
      ...(routesRef ? { routes: [], findings: [], routesRef } : { routes, findings }),
      ...(previousAttempts.length ? { previousAttempts } : {}),
      ...(scorers.length ? { scorers } : {}),
    };
    const title = routes.length === 1 ? routes[0]!.title : `${routes.length} ${artifact} problems (${ids.join(', ')})`;
    const record = (files: string[], description: string, appliedBy: string, extra: Partial<ChangeRecord> = {}) =>
      changes.push({ id: `i${iteration}-${artifact}`, iteration, routeId: ids.join(','), findingIds, artifact, description, files, appliedBy, ...extra });

    if (cfg.changeCommand) {
      const a = await gates.ask('write', `Run the change agent for ${artifact}: ${title}`, `\`${commandText(cfg.changeCommand)}\` in ${ctx.agentDir}`, ids);
      if (run.stopAt(a, 'change')) return { ...result, halted: true };
      if (a.kind === 'skipped') continue;
      run.doing(`change agent working on ${artifact}`);
      const res: ChangeAgentResult = await run.io.longActs.runChangeAgent({
        brief,
        command: cfg.changeCommand,
        timeoutMs: durationMs(cfg.changeTimeout),
        agentEnv: cfg.agentEnv,
        ...(scorerActs ? { scorerPush: 'separate' as const } : {}),
      });
      if (res.diff) run.diffs.set(`i${iteration}-${artifact}`, { excerpt: res.diff.excerpt, truncated: res.diff.truncated, path: res.diff.file.path });
      let pushedScorers = res.pushedScorers;
      if (scorerActs && res.scorerFiles?.length) {
        run.doing('pushing the changed scorers');
        pushedScorers = (await run.io.acts.pushScorers({ ctx, files: res.scorerFiles })).pushed;
      }
      record(res.files, res.files.length ? `${title}: change agent edited ${res.files.length} file(s)${pulledText}` : `${title}: change agent made no change${pulledText}`, commandText(cfg.changeCommand), {
        diffStat: { files: res.files.length, insertions: res.insertions, deletions: res.deletions },
        ...(res.diff ? { diffFile: res.diff.file } : {}),
        ...(res.files.length ? { revertible: true } : {}),
        ...(pushedScorers.length ? { functions: pushedScorers.map((f) => ({ slug: f, action: 'pushed' as const })) } : {}),
      });
      continue;
    }
    // No change agent: a written brief, applied by a person (interactive) or handed off (autonomous).
    const written = await run.io.acts.writeBrief(brief);
    if (cfg.mode === 'autonomous') {
      run.briefs.push({ routeId: ids.join(','), artifact, title, body: written.body, path: written.path });
      continue;
    }
    const a = await gates.ask('apply', `Apply the ${artifact} change and signal "applied": ${title}`, `Brief: ${written.path}\n\n${written.body}`, ids);
    if (run.stopAt(a, 'apply')) return { ...result, halted: true };
    if (a.kind === 'applied') record(a.files ?? [], `${title}: applied by ${a.by}${a.note ? ` (${a.note})` : ''}`, a.by);
  }
  return result;
}
