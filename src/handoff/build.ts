/**
 * buildSummary: the run's state in, `bt-flywheel-summary.json` (v2 + v1 fields) out. Pure.
 */
import type { GateRecord, Phase } from '../workflows/definitions.js';
import type { Confidence, Diagnosis, Finding, Route, Severity } from '../workflows/logic/diagnose.js';
import { isHealthy } from '../workflows/logic/diagnose.js';
import { attemptsFrom } from '../workflows/logic/attempts.js';
import type { Decision, Outcome } from '../workflows/logic/decide.js';
import type { ChangeRecord, DiscoverEvidence, EvalResult, RegressionDrilldown, RowComparison } from '../workflows/logic/evidence.js';
import { cmp } from '../workflows/logic/scorer-health.js';
import {
  PHASES,
  SUMMARY_SCHEMA_VERSION,
  type ChangeDetail,
  type Destination,
  type ExperimentRef,
  type FindingDetail,
  type NextStep,
  type NextStepIntent,
  type RecommendedAction,
  type ScoreDistributionEntry,
  type Summary,
  type SummaryArtifact,
  type SummaryLink,
  type V1LoopDecision,
} from '../../schemas/summary.js';
import { experimentRowUrl, experimentUrl, projectUrl, traceUrl } from './urls.js';
import type { EvalEnvName } from '../eval-env.js';

export interface HandoffEval extends EvalResult {
  /** Loop iteration that produced it (omit for the pinned baseline). */
  iteration?: number;
}

export interface HandoffDecision {
  iteration: number;
  decision: Decision;
}

/** Everything the workflow knows at exit; all of it is already in history (no rows). */
export interface HandoffInput {
  workflowId: string;
  runId: string;
  project: { id: string; name: string };
  org: string | null;
  appUrl: string;
  goal: string;
  mode: 'autonomous' | 'interactive';
  startedAt: string;
  finishedAt: string;
  /** Loop iterations run (0 when the run exited before Improve). */
  iterations: number;
  maxIterations: number;
  phasesRun: Phase[];
  evidence: DiscoverEvidence | null;
  /**
   * Where the evidence is, when the workflow passes it by reference (evidence is then null until the handoff
   * activity reads the file back, checking its sha256).
   */
  evidenceFile?: { path: string; sha256: string } | null;
  diagnosis: Diagnosis | null;
  decisions: HandoffDecision[];
  changes: ChangeRecord[];
  evals: HandoffEval[];
  baseline: EvalResult | null;
  comparison: RowComparison | null;
  gates: GateRecord[];
  artifacts: SummaryArtifact[];
  /** Set for failed runs; the outcome becomes `blocked`. */
  error?: { phase: string; message: string } | null;
  /** Forces the outcome (e.g. a person stopped the run: `needs_work`). */
  outcome?: Outcome;
  /** Why the run stopped, when forced (shown in loop_reasoning). */
  outcomeReason?: string;
  /** Temporal Web UI link for the run, if known. */
  temporalUrl?: string | null;
  /** Extra links (docs, queries). */
  links?: SummaryLink[];
  /** What Orient established: why this mode, where the project and the baseline came from, its notes. */
  context?: {
    modeReason: string;
    projectSource: string | null;
    baseline: { id: string; name: string; chosen_by: 'env' | 'session' | 'latest' | 'none' } | null;
    notes: string[];
    /** bt eval's extra variables: names and sources only. */
    evalEnv?: EvalEnvName[];
  };
  /** Each change's diff (an excerpt of the file), by change id: read from the run directory by the handoff activity. */
  changeDiffs?: Record<string, { path: string; sha256: string; excerpt: string; truncated: boolean }>;
  /** The largest regressed rows drilled into (the comparison's drill-in file, read back by the handoff activity). */
  regressionDrilldown?: RegressionDrilldown[] | null;
  /** Change briefs written for routes nobody applied (no change agent): each becomes a next step. */
  briefs?: { routeId: string; artifact: string; title: string; body: string; path: string }[];
  /** Scorers that need human labels before they can be fixed: each becomes a `label_data` next step. */
  labelRequests?: { score: string; slug?: string; rows: number; labeledRows: number; windowDays: number; reason: string }[];
}

const V1_MAP: Record<NextStepIntent, Pick<RecommendedAction, 'type' | 'intent' | 'target'>> = {
  review_change: { type: 'pull_request', intent: 'propose_change', target: 'github_pr' },
  investigate: { type: 'issue', intent: 'investigate', target: 'github_issue' },
  label_data: { type: 'labeling_task', intent: 'label_data', target: 'labeling_system' },
  rerun: { type: 'rerun_later', intent: 'rerun', target: 'scheduler' },
  notify: { type: 'slack', intent: 'notify', target: 'slack' },
  block_release: { type: 'deployment_gate', intent: 'block_release', target: 'ci_status' },
  rollback: { type: 'rollback', intent: 'rollback', target: 'ci_status' },
  no_action: { type: 'none', intent: 'no_action', target: 'none' },
};

/** The v1 action an adapter-neutral intent maps to. */
export function v1ActionFor(intent: NextStepIntent): Pick<RecommendedAction, 'type' | 'intent' | 'target'> {
  return V1_MAP[intent];
}

const CONF: Confidence[] = ['low', 'medium', 'high'];
const round = (x: number): number => Math.round(x * 10000) / 10000;
const fmt = (x: number | null | undefined): string => (x == null ? 'n/a' : String(round(x)));

/** FNV-1a 64-bit, hex: a deterministic fingerprint without node:crypto (usable from workflow code). */
export function fingerprint(text: string): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * prime) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

function projectSlug(name: string): string {
  return name.trim().replace(/[:\s]+/g, '-') || 'project';
}

/** `bt-flywheel:<project>:<YYYY-MM-DD>:<intent>:<fingerprint>`; same project, day, intent and subject → same key. */
export function idempotencyKey(project: string, isoDate: string, intent: NextStepIntent, subject: readonly string[]): string {
  const day = isoDate.slice(0, 10);
  return `bt-flywheel:${projectSlug(project)}:${day}:${intent}:${fingerprint([intent, ...[...subject].sort(cmp)].join('|'))}`;
}

/** v1 `loop_decision` for a final outcome and the last route asked for. */
export function v1LoopDecision(outcome: Outcome, last: Decision | null): V1LoopDecision {
  if (outcome === 'improved' || outcome === 'healthy') return 'done';
  if (outcome === 'no_convergence') return 'no-convergence';
  const next = last?.next;
  if (next?.kind === 'route') {
    if (next.rediscover || next.route === 'instrumentation') return 're-discover';
    return next.route === 'agent' ? 're-iterate' : 're-curate';
  }
  return outcome === 'blocked' ? 're-discover' : 're-iterate';
}

export function resolveOutcome(input: HandoffInput): Outcome {
  if (input.outcome) return input.outcome;
  if (input.error) return 'blocked';
  const last = input.decisions[input.decisions.length - 1]?.decision;
  if (last?.next.kind === 'exit') return last.next.outcome;
  if (!last && input.diagnosis && isHealthy(input.diagnosis) && input.changes.length === 0) return 'healthy';
  return 'needs_work';
}

export function buildSummary(input: HandoffInput): Summary {
  const org = input.org ?? 'unknown-org';
  const projectName = input.project.name;
  const tUrl = (id: string): string => traceUrl(input.appUrl, org, projectName, id);
  const eUrl = (id: string): string => experimentUrl(input.appUrl, org, projectName, id);
  const outcome = resolveOutcome(input);
  const lastDecision = input.decisions[input.decisions.length - 1]?.decision ?? null;
  const verdict = lastDecision?.verdict ?? null;
  const diagnosis = input.diagnosis;
  const evidence = input.evidence;
  const findings: Finding[] = diagnosis?.findings ?? [];
  const regressionCount = verdict?.regressionCount ?? 0;

  // ---- Findings
  const findingsDetail: FindingDetail[] = findings.map((f) => ({
    id: f.id,
    plane: f.plane,
    severity: f.severity,
    title: f.title,
    detail: f.detail,
    counts: f.counts,
    window: f.window,
    example_traces: f.exampleTraceIds.map((id) => ({ trace_id: id, url: tUrl(id) })),
    query: f.query,
    ...(f.queryRef ? { query_ref: f.queryRef } : {}),
  }));
  const windowText = evidence ? ` (${evidence.window.days}-day window, ${evidence.traffic.traces} traces)` : '';
  // Actionable findings first (critical, then warnings), each group in Diagnose's order; the narrative sorts the same way.
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  const findingStrings = findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank[a.f.severity] - rank[b.f.severity] || a.i - b.i)
    .map(({ f }) => `${f.title}: ${f.detail}${windowText}`);
  if (findingStrings.length === 0 && evidence) {
    findingStrings.push(`No problems found in ${evidence.traffic.traces} traces over the ${evidence.window.days}-day window`);
  }

  // ---- Changes
  const routeFindings = new Map<string, string[]>((diagnosis?.routes ?? []).map((r) => [r.id, r.findingIds]));
  const changesDetail: ChangeDetail[] = input.changes.map((c) => ({
    id: c.id,
    iteration: c.iteration,
    route_id: c.routeId,
    finding_ids: c.findingIds.length ? c.findingIds : routeFindings.get(c.routeId)?.length ? (routeFindings.get(c.routeId) as string[]) : [c.routeId],
    artifact: c.artifact,
    description: c.description,
    files: c.files,
    diff_stat: c.diffStat ?? null,
    dataset_rows: c.datasetRows
      ? {
          dataset: c.datasetRows.dataset,
          dataset_id: c.datasetRows.datasetId ?? null,
          upserted: c.datasetRows.upserted,
          train: c.datasetRows.train,
          validation: c.datasetRows.validation,
          needs_label: c.datasetRows.needsLabel,
          rows_file: c.datasetRows.rowsFile?.path ?? null,
        }
      : null,
    functions: c.functions ?? [],
    applied_by: c.appliedBy,
    ...(input.changeDiffs?.[c.id] ? { diff: input.changeDiffs[c.id]! } : {}),
    ...(c.reverted
      ? { reverted: { rule: c.reverted.rule, reason: c.reverted.reason, files: c.reverted.files, overwritten_files: c.reverted.overwritten, repushed_scorers: c.reverted.repushedScorers } }
      : {}),
  }));
  const describe = (c: ChangeRecord): string => {
    const parts = [c.description];
    if (c.files.length) parts.push(`files: ${c.files.join(', ')}`);
    if (c.datasetRows) {
      const d = c.datasetRows;
      parts.push(`${d.upserted} rows upserted into ${d.dataset} (train ${d.train}, validation ${d.validation}${d.needsLabel ? `, ${d.needsLabel} awaiting labels` : ''})`);
    }
    if (c.functions?.length) parts.push(`functions: ${c.functions.map((f) => `${f.slug} (${f.action})`).join(', ')}`);
    if (c.reverted) parts.push(`reverted (not accepted: ${c.reverted.reason})`);
    return parts.join('; ');
  };
  const changesV1 = {
    agent: input.changes.filter((c) => c.artifact === 'agent').map(describe),
    scorers: input.changes.filter((c) => c.artifact === 'measurement').map(describe),
    datasets: input.changes.filter((c) => c.artifact === 'dataset').map(describe),
    instrumentation: input.changes.filter((c) => c.artifact === 'instrumentation').map(describe),
  };

  // ---- Verification
  const toRef = (e: EvalResult, iteration: number | null): ExperimentRef => ({
    id: e.experimentId,
    name: e.experimentName,
    url: e.url || eUrl(e.experimentId),
    split: e.split,
    run_mode: e.runMode,
    scores: e.scores,
    row_count: e.rowCount,
    error_count: e.errorCount,
    iteration,
  });
  const experiments = input.evals.map((e) => toRef(e, e.iteration ?? null));
  const finalEval = pickFinalEval(input.evals);
  const regressions = (verdict?.regressions ?? []).map((r) => ({
    key: r.key,
    row_id: r.rowId,
    trace_id: r.traceId ?? null,
    score: r.score,
    baseline: r.baseline,
    new: r.new,
    delta: r.delta,
    url: r.traceId ? tUrl(r.traceId) : null,
  }));
  const comparison = input.comparison;
  // The regressed rows drilled into, linked to their traces in the new and the baseline experiment.
  const drilldown = (input.regressionDrilldown ?? []).map((d) => ({
    key: d.key,
    row_id: d.rowId,
    trace_id: d.traceId,
    url: d.traceId ? experimentRowUrl(input.appUrl, org, projectName, d.experimentId, d.traceId) : null,
    baseline_trace_id: d.baselineTraceId,
    baseline_url: d.baselineTraceId ? experimentRowUrl(input.appUrl, org, projectName, d.baselineExperimentId, d.baselineTraceId) : null,
    scores: d.scores,
    input: d.input,
    expected: d.expected,
    output_before: d.outputBefore,
    output_after: d.outputAfter,
    rationale: d.rationale,
  }));
  const verification: Summary['verification'] = {
    target_score: verdict?.targetScore ?? diagnosis?.primaryScore ?? null,
    baseline: input.baseline ? toRef(input.baseline, null) : null,
    experiments,
    deltas: verdict?.deltas ?? [],
    train_delta: verdict?.trainDelta ?? null,
    validation_delta: verdict?.validationDelta ?? null,
    regression_count: regressionCount,
    regressions,
    ...(drilldown.length ? { regression_drilldown: drilldown } : {}),
    comparison: comparison
      ? { tolerance: comparison.tolerance, joined: comparison.joined, improved: comparison.improved, regressed: comparison.regressed, unchanged: comparison.unchanged }
      : null,
    scorer_health: (verdict?.scorerHealth ?? diagnosis?.scorerHealth ?? []).map((h) => ({ score: h.score, healthy: h.healthy, problem: h.problem, detail: h.detail })),
    overfitting: verdict?.overfitting ?? false,
    confidence: verdict?.confidence ?? null,
    decisions: input.decisions.map(({ iteration, decision: d }) => ({
      iteration,
      rule: d.rule,
      next: d.next.kind,
      route: d.next.kind === 'route' ? d.next.route : null,
      outcome: d.next.kind === 'exit' ? d.next.outcome : null,
      reason: d.next.reason,
      stopped_at_limit: d.stoppedAtLimit,
    })),
    attempts: attemptsFrom(input.decisions, input.changes).map((a) => ({
      iteration: a.iteration,
      route_ids: a.routeIds,
      artifacts: a.artifacts,
      change_ids: a.changes.map((c) => c.id),
      files: [...new Set(a.changes.flatMap((c) => c.files))],
      reverted_files: [...new Set(input.changes.filter((c) => c.iteration === a.iteration).flatMap((c) => c.reverted?.files ?? []))],
      target_score: a.targetScore,
      evaluated: a.evaluated,
      train_delta: a.trainDelta,
      validation_delta: a.validationDelta,
      regression_count: a.regressionCount,
      regressed_rows: a.regressions.map((r) => r.rowId),
      rule: a.rule,
      accepted: a.accepted,
      why_not_accepted: a.whyNotAccepted,
      next: a.next,
    })),
  };

  const experimentV1: Summary['experiment'] = finalEval
    ? {
        new: finalEval.experimentId,
        new_url: finalEval.url || eUrl(finalEval.experimentId),
        ...(input.baseline ? { baseline: input.baseline.experimentId, baseline_url: input.baseline.url || eUrl(input.baseline.experimentId) } : {}),
        metric_delta: Object.fromEntries((verdict?.deltas ?? []).filter((d) => d.delta != null).map((d) => [d.score, d.delta as number])),
      }
    : null;
  const regressionsV1 = (verdict?.regressions ?? []).map((r) => ({ trace_id: r.traceId ?? r.rowId, score: r.new, url: tUrl(r.traceId ?? r.rowId) }));

  // ---- Distributions for charts
  const distributions: ScoreDistributionEntry[] = [];
  for (const s of [...(evidence?.scores ?? [])].sort((a, b) => cmp(a.name, b.name))) {
    if (s.histogram?.length) distributions.push({ score: s.name, source: 'production', n: s.n, mean: s.mean, histogram: s.histogram });
  }
  for (const [source, e] of [['baseline', input.baseline], ['new', finalEval]] as const) {
    for (const d of [...(e?.distributions ?? [])].sort((a, b) => cmp(a.name, b.name))) {
      if (d.histogram?.length) distributions.push({ score: d.name, source, n: d.n, mean: d.mean, histogram: d.histogram });
    }
  }

  // ---- Severity, blocking, confidence
  const anyCritical = findings.some((f) => f.severity === 'critical');
  const severity: Severity =
    outcome === 'healthy' || outcome === 'improved'
      ? anyCritical && outcome === 'healthy'
        ? 'warning'
        : 'info'
      : anyCritical || regressionCount > 0
        ? 'critical'
        : 'warning';
  const blocking = regressionCount > 0 && !(verdict?.acceptChange ?? false);
  const confidence: Confidence = resolveConfidence(outcome, diagnosis, verdict?.confidence ?? null);

  // ---- Links
  const links: SummaryLink[] = [];
  const seen = new Set<string>();
  const link = (l: SummaryLink): void => {
    if (seen.has(l.url)) return;
    seen.add(l.url);
    links.push(l);
  };
  link({ kind: 'external', label: `Braintrust project ${projectName}`, url: projectUrl(input.appUrl, org, projectName) });
  if (input.baseline) link({ kind: 'experiment', label: `baseline ${input.baseline.experimentName}`, url: input.baseline.url || eUrl(input.baseline.experimentId) });
  for (const e of experiments) link({ kind: 'experiment', label: `${e.run_mode} ${e.split} ${e.name}`, url: e.url });
  for (const f of findingsDetail) for (const t of f.example_traces) link({ kind: 'trace', label: `trace ${t.trace_id} (${f.id})`, url: t.url });
  for (const r of regressions) if (r.url) link({ kind: 'trace', label: `regression ${r.row_id} (${r.score})`, url: r.url });
  if (input.temporalUrl) link({ kind: 'temporal', label: `workflow ${input.workflowId}`, url: input.temporalUrl });
  for (const l of input.links ?? []) link(l);

  // ---- Summary sentence
  const summaryText = summarize(input, outcome, verdict, diagnosis, regressionCount);
  const loopReasoning = input.outcomeReason ?? lastDecision?.next.reason ?? diagnosis?.routes[0]?.rationale ?? (input.error ? `run failed in ${input.error.phase}: ${input.error.message}` : summaryText);

  // ---- Next steps
  const evidenceUrls = [...(finalEval ? [finalEval.url || eUrl(finalEval.experimentId)] : []), ...findingsDetail.flatMap((f) => f.example_traces.map((t) => t.url))].slice(0, 10);
  const nextSteps = buildNextSteps({
    input,
    outcome,
    severity,
    diagnosis,
    verdictSummary: summaryText,
    regressionCount,
    regressionUrls: regressions.flatMap((r) => (r.url ? [r.url] : [])),
    evidenceUrls,
    findingIds: findingsDetail.map((f) => f.id),
  });
  const recommended: RecommendedAction[] = nextSteps.map((s) => ({
    ...v1ActionFor(s.intent),
    severity: s.intent === 'block_release' ? 'critical' : s.intent === 'no_action' ? 'info' : severity,
    blocking: s.blocking,
    reason: s.body.split('\n')[0] ?? s.title,
    title: s.title,
    body_markdown: s.body,
    requires_human_review: s.requires_human_review,
    evidence: s.evidence,
    idempotency_key: s.idempotency_key,
  }));

  const phases = PHASES.filter((p) => input.phasesRun.includes(p));
  if (!phases.includes('handoff')) phases.push('handoff');

  return {
    schema_version: SUMMARY_SCHEMA_VERSION,
    outcome,
    severity,
    blocking,
    confidence,
    summary: summaryText,
    run: {
      workflow_id: input.workflowId,
      run_id: input.runId,
      project: input.project,
      org: input.org,
      app_url: input.appUrl,
      goal: input.goal,
      mode: input.mode,
      iterations: input.iterations,
      max_iterations: input.maxIterations,
      started_at: input.startedAt,
      finished_at: input.finishedAt,
      window: evidence ? { from: evidence.window.from, to: evidence.window.to, days: evidence.window.days } : null,
      error: input.error ?? null,
      mode_reason: input.context?.modeReason ?? '',
      project_source: input.context?.projectSource ?? null,
      baseline: input.context?.baseline ?? null,
      notes: [...(input.context?.notes ?? []), ...boundedReadNotes(input)],
      eval_env: (input.context?.evalEnv ?? []).map((n) => ({ name: n.name, source: n.source, file: n.file })),
    },
    findings_detail: findingsDetail,
    diagnosis: diagnosis
      ? {
          routes: diagnosis.routes.map((r) => routeOut(r, tUrl)),
          low_confidence: diagnosis.lowConfidence,
          notes: diagnosis.notes,
          primary_score: diagnosis.primaryScore,
        }
      : null,
    changes_detail: changesDetail,
    verification,
    score_distributions: distributions,
    links,
    artifacts: input.artifacts,
    next_steps: nextSteps,
    gates: input.gates.map((g) => ({ id: g.id, kind: g.kind, decision: g.decision, by: g.by, at: g.at, note: g.note ?? null, detail: g.detail ?? null, ...(g.shown ? { shown: g.shown } : {}) })),

    timestamp: input.finishedAt,
    goal: input.goal,
    phases_run: phases,
    findings: findingStrings,
    changes: changesV1,
    experiment: experimentV1,
    regressions: regressionsV1,
    loop_decision: v1LoopDecision(outcome, lastDecision),
    loop_reasoning: loopReasoning,
    recommended_actions: recommended,
  };
}

function routeOut(r: Route, tUrl: (id: string) => string): NonNullable<Summary['diagnosis']>['routes'][number] {
  const followUp = r.followUp?.map((f) => ({
    target: f.target,
    verdict: f.verdict,
    checks: f.checks.map((c) => ({
      kind: c.kind,
      verdict: c.verdict,
      text: c.text,
      ...(c.term ? { term: c.term } : {}),
      counts: c.counts,
      ...(c.queryRef ? { query_ref: c.queryRef } : {}),
      traces: c.traceIds.map((id) => ({ trace_id: id, url: tUrl(id) })),
    })),
  }));
  return {
    id: r.id,
    artifact: r.artifact,
    title: r.title,
    rationale: r.rationale,
    evidence: r.evidence,
    counterevidence: r.counterevidence,
    confidence: r.confidence,
    targets: r.targets,
    finding_ids: r.findingIds,
    ...(followUp?.length ? { follow_up: followUp } : {}),
  };
}

/** The eval the final verdict rests on: the last full validation run, else full train, else smoke. */
function pickFinalEval(evals: readonly HandoffEval[]): HandoffEval | null {
  const rank = (e: HandoffEval): number => (e.runMode === 'full' ? (e.split === 'validation' ? 3 : 2) : e.runMode === 'smoke' ? 1 : 0);
  let best: HandoffEval | null = null;
  for (const e of evals) {
    if (rank(e) === 0) continue;
    if (!best || (e.iteration ?? 0) > (best.iteration ?? 0) || ((e.iteration ?? 0) === (best.iteration ?? 0) && rank(e) >= rank(best))) best = e;
  }
  return best;
}

function resolveConfidence(outcome: Outcome, diagnosis: Diagnosis | null, verdict: Confidence | null): Confidence {
  if (diagnosis?.lowConfidence) return 'low';
  if (verdict) return verdict;
  if (!diagnosis) return 'low';
  if (outcome === 'healthy') return diagnosis.routes[0]?.confidence ?? 'low';
  return diagnosis.routes.reduce<Confidence>((acc, r) => (CONF.indexOf(r.confidence) < CONF.indexOf(acc) ? r.confidence : acc), 'high');
}

function summarize(
  input: HandoffInput,
  outcome: Outcome,
  verdict: Decision['verdict'] | null,
  diagnosis: Diagnosis | null,
  regressionCount: number,
): string {
  const ev = input.evidence;
  const traffic = ev ? `${ev.traffic.traces} traces over ${ev.window.days} days` : 'no production evidence';
  const target = verdict?.targetScore ?? diagnosis?.primaryScore ?? null;
  const delta = verdict?.validationDelta ?? verdict?.trainDelta ?? null;
  const moved = target && delta != null ? `${target} ${delta >= 0 ? '+' : ''}${fmt(delta)}` : null;
  const plan = diagnosis ? diagnosis.routes.map((r) => r.artifact).filter((a) => a !== 'none') : [];
  switch (outcome) {
    case 'healthy':
      return `Production is healthy (${traffic}); no changes made.${diagnosis?.lowConfidence ? ' Evidence is thin; re-run with more traffic.' : ''}`;
    case 'improved':
      return `Improved ${moved ?? 'the target metric'} with ${input.changes.length} change(s) over ${input.iterations} iteration(s), no regressions (${traffic}).`;
    case 'no_convergence':
      return `No convergence: ${target ?? 'the target metric'} did not improve after ${input.iterations} iteration(s)${moved ? ` (last ${moved})` : ''}; ${traffic}.`;
    case 'blocked':
      return input.error
        ? `Blocked in ${input.error.phase}: ${input.error.message}`
        : `Blocked: ${input.outcomeReason ?? verdict?.notes[0] ?? 'the run could not verify its changes'} (${traffic}).`;
    case 'needs_work':
      return `Needs work: ${plan.length ? `plan ${plan.join(' → ')}` : 'follow-up required'}${moved ? `, ${moved}` : ''}${regressionCount ? `, ${regressionCount} regressed rows` : ''} (${traffic}).`;
  }
}

interface NextStepContext {
  input: HandoffInput;
  outcome: Outcome;
  severity: Severity;
  diagnosis: Diagnosis | null;
  verdictSummary: string;
  regressionCount: number;
  regressionUrls: string[];
  evidenceUrls: string[];
  findingIds: string[];
}

function buildNextSteps(ctx: NextStepContext): NextStep[] {
  const { input, outcome, diagnosis } = ctx;
  const steps: NextStep[] = [];
  const add = (
    intent: NextStepIntent,
    priority: NextStep['priority'],
    destination: Destination,
    title: string,
    body: string,
    opts: { blocking?: boolean; review?: boolean; evidence?: string[]; findingIds?: string[]; subject?: string[] } = {},
  ): void => {
    const findingIds = opts.findingIds ?? ctx.findingIds;
    const subject = [outcome, ...(opts.subject ?? findingIds)];
    steps.push({
      id: `${intent}-${steps.length + 1}`,
      intent,
      priority,
      title,
      body,
      suggested_destination: destination,
      idempotency_key: idempotencyKey(input.project.name, input.startedAt, intent, subject),
      blocking: opts.blocking ?? false,
      requires_human_review: opts.review ?? true,
      evidence: opts.evidence ?? ctx.evidenceUrls,
      finding_ids: findingIds,
    });
  };
  // A scorer that needs labels stopped the run: labelling is what unblocks it, so it leads.
  for (const r of input.labelRequests ?? []) {
    add(
      'label_data',
      'high',
      'app_ui',
      `Label production traces for the ${r.score} scorer`,
      `${r.reason}.\n\nAdd ground-truth \`expected\` values (a labeled dataset or annotations on the traces), then re-run the flywheel to fix and verify the scorer${r.slug ? ` (\`${r.slug}\`)` : ''}.`,
      { blocking: true, subject: ['scorer-labels', r.score] },
    );
  }
  const changeLines = input.changes.map((c) => `- ${c.artifact}: ${c.description}${c.files.length ? ` (${c.files.join(', ')})` : ''}`);
  const routeLines = (diagnosis?.routes ?? []).filter((r) => r.artifact !== 'none').map((r) => `- ${r.artifact}: ${r.title} — ${r.evidence[0] ?? r.rationale}`);

  if (ctx.regressionCount > 0) {
    add('block_release', 'high', 'release_gate', `Hold release: ${ctx.regressionCount} eval rows regressed`, [ctx.verdictSummary, '', `${ctx.regressionCount} rows dropped from the baseline by more than the tolerance.`].join('\n'), {
      blocking: true,
      evidence: ctx.regressionUrls.length ? ctx.regressionUrls.slice(0, 10) : ctx.evidenceUrls,
      subject: ['regressions'],
    });
  }
  switch (outcome) {
    case 'improved':
      add('review_change', 'high', 'code_review', `Review flywheel changes for ${input.project.name}`, [ctx.verdictSummary, '', '**Changes**', ...changeLines].join('\n'), {
        subject: input.changes.map((c) => c.routeId),
      });
      break;
    case 'healthy':
      if (diagnosis?.lowConfidence) {
        add('rerun', 'medium', 'scheduler', `Re-run the flywheel for ${input.project.name} with more traffic`, [ctx.verdictSummary, '', ...(diagnosis.notes.map((n) => `- ${n}`))].join('\n'), { review: false });
      } else {
        add('no_action', 'low', 'local_summary', `${input.project.name} is healthy`, ctx.verdictSummary, { review: false });
      }
      break;
    case 'needs_work':
    case 'no_convergence':
    case 'blocked': {
      const title =
        outcome === 'blocked'
          ? `Flywheel blocked for ${input.project.name}`
          : outcome === 'no_convergence'
            ? `Flywheel did not converge for ${input.project.name}`
            : `Follow up on flywheel findings for ${input.project.name}`;
      add('investigate', outcome === 'needs_work' && ctx.severity !== 'critical' ? 'medium' : 'high', 'issue_tracker', title, [
        ctx.verdictSummary,
        ...(routeLines.length ? ['', '**Plan**', ...routeLines] : []),
        ...(changeLines.length ? ['', '**Changes tried**', ...changeLines] : []),
      ].join('\n'));
      break;
    }
  }
  for (const b of input.briefs ?? []) {
    add('review_change', 'high', 'code_review', `Apply the ${b.artifact} change: ${b.title}`, [`A change brief is ready at \`${b.path}\`; give it to a coding agent or apply it by hand, then re-run the flywheel to verify.`, '', b.body].join('\n'), {
      subject: ['brief', b.routeId],
    });
  }
  const timedOut = input.gates.filter((g) => g.decision === 'timed_out');
  if (timedOut.length) {
    add('notify', 'high', 'chat', `Flywheel for ${input.project.name} is waiting for an approval`, [`The ${timedOut.map((g) => g.kind).join(', ')} gate timed out with nobody answering; nothing was written after it.`, '', `Approve with \`flywheel approve ${input.workflowId}\` on a new run, or run with --mode autonomous.`].join('\n'), {
      subject: ['gate-timeout', ...timedOut.map((g) => g.id)],
    });
  }
  const needsLabel = input.changes.reduce((n, c) => n + (c.datasetRows?.needsLabel ?? 0), 0) + (input.evidence?.datasets ?? []).reduce((n, d) => n + d.unlabeledRows, 0);
  if (needsLabel > 0) {
    add('label_data', 'medium', 'app_ui', `Label ${needsLabel} dataset rows`, `${needsLabel} curated rows need a human ground-truth label before they can be used as \`expected\`.`, {
      subject: ['labels'],
    });
  }
  return steps;
}

/** Reads that hit their row cap: the numbers they fed cover only the rows that were read. */
function boundedReadNotes(input: HandoffInput): string[] {
  const out: string[] = [];
  for (const e of input.evals) {
    if (e.rowsTruncated)
      out.push(`Experiment ${e.experimentName} has more than ${e.rowsTruncated.cap} spans; only the first ${e.rowsTruncated.spansRead} were read, so its per-row comparison and distributions cover part of it.`);
  }
  for (const c of input.changes) {
    const t = c.datasetRows?.candidatesTruncated;
    if (t) out.push(`Dataset curation for ${c.datasetRows!.dataset} stopped at ${t.cap} candidate rows per bucket (${t.buckets.join(', ')}); more matching production rows exist.`);
  }
  return out;
}
