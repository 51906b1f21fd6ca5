/**
 * The handoff contract: `bt-flywheel-summary.json`, version 2.
 *
 * This zod source is the single definition; `scripts/gen-schema.ts` writes the JSON Schema
 * (`schemas/bt-flywheel-summary.schema.json`) from it. A v2 summary is also a valid v1 summary
 * (`schemas/bt-flywheel-summary.v1.schema.json`): the v1 fields keep their v1 shapes
 * (`findings` and `changes.*` are strings, `recommended_actions` uses the v1 enums) and the rich
 * data lives beside them (`findings_detail`, `changes_detail`, `verification`, `next_steps`, …).
 */
import { z } from 'zod';
import { OUTCOMES } from '../src/workflows/logic/decide.js';
import { ROUTE_PRIORITY } from '../src/workflows/logic/diagnose.js';

export const SUMMARY_SCHEMA_VERSION = 2;
export const SUMMARY_SCHEMA_ID = 'urn:bt-flywheel:schema:summary:v2';
export const SUMMARY_FILE = 'bt-flywheel-summary.json';
export const NARRATIVE_FILE = 'bt-flywheel-narrative.md';

/** Adapter-neutral intents of a next step (the seed's list). */
export const NEXT_STEP_INTENTS = [
  'no_action',
  'review_change',
  'investigate',
  'label_data',
  'rerun',
  'notify',
  'block_release',
  'rollback',
] as const;
export const DESTINATIONS = [
  'local_summary',
  'code_review',
  'issue_tracker',
  'chat',
  'release_gate',
  'scheduler',
  'app_ui',
  'external_system',
  'none',
] as const;
export const V1_ACTION_TYPES = [
  'pull_request',
  'pr_comment',
  'issue',
  'slack',
  'jira',
  'linear',
  'deployment_gate',
  'rollback',
  'labeling_task',
  'rerun_later',
  'webhook',
  'none',
] as const;
export const V1_INTENTS = ['propose_change', 'investigate', 'notify', 'block_release', 'rollback', 'label_data', 'rerun', 'no_action'] as const;
export const V1_TARGETS = [
  'github_pr',
  'github_issue',
  'slack',
  'jira',
  'linear',
  'webhook',
  'ci_status',
  'scheduler',
  'labeling_system',
  'none',
] as const;
export const V1_LOOP_DECISIONS = ['done', 're-discover', 're-curate', 're-iterate', 'no-convergence'] as const;
export const PHASES = ['orient', 'discover', 'diagnose', 'improve', 'verify', 'handoff'] as const;

/** `bt-flywheel:<project>:<YYYY-MM-DD>:<intent>:<fingerprint>` — stable across re-runs of the same day. */
export const IDEMPOTENCY_KEY_PATTERN = /^bt-flywheel:[^:\s]+:\d{4}-\d{2}-\d{2}:[a-z_]+:[0-9a-f]{8,}$/;

const Outcome = z.enum(OUTCOMES);
const Severity = z.enum(['info', 'warning', 'critical']);
const Confidence = z.enum(['low', 'medium', 'high']);
const RouteArtifact = z.enum(ROUTE_PRIORITY);
const ChangeArtifact = z.enum(['measurement', 'instrumentation', 'dataset', 'agent']);
const Timestamp = z.iso.datetime();
const Url = z.url();
const Split = z.enum(['train', 'validation', 'all']);

const Window = z.object({
  from: z.string(),
  to: z.string(),
  days: z.number().nonnegative(),
});

const TraceLink = z.object({ trace_id: z.string().min(1), url: Url });
const FollowUpVerdict = z.enum(['confirms', 'refutes', 'inconclusive']);

export const FindingDetailSchema = z.object({
  id: z.string().min(1),
  plane: z.enum(['traffic', 'reliability', 'quality', 'coverage', 'performance', 'change', 'alignment', 'instrumentation']),
  severity: Severity,
  title: z.string().min(1),
  detail: z.string(),
  counts: z.record(z.string(), z.number()),
  window: Window,
  example_traces: z.array(TraceLink),
  query: z.string().describe('The query (SQL or bt command) that produced the finding'),
  query_ref: z.string().optional(),
});

export const RouteSchema = z.object({
  id: z.string().min(1),
  artifact: RouteArtifact,
  title: z.string(),
  rationale: z.string(),
  evidence: z.array(z.string()),
  counterevidence: z.array(z.string()),
  confidence: Confidence,
  targets: z.array(z.object({ kind: z.string(), name: z.string() })),
  finding_ids: z.array(z.string()),
  /**
   * What Discover's follow-up pass found about the route's targets: targeted queries and drilled-into traces that
   * confirm or refute the cause (their lines are also in `evidence` / `counterevidence`). Optional: routes without a
   * follow-up, and summaries written before it existed, have none. `term` is trace text (untrusted).
   */
  follow_up: z
    .array(
      z.object({
        target: z.object({ kind: z.enum(['tool', 'cohort', 'error', 'change']), name: z.string() }),
        verdict: FollowUpVerdict,
        checks: z.array(
          z.object({
            kind: z.enum(['error_shape', 'low_text', 'outputs', 'span_trees']),
            verdict: FollowUpVerdict,
            text: z.string(),
            term: z.string().optional(),
            counts: z.record(z.string(), z.number()),
            query_ref: z.string().optional().describe('A line of the run\'s queries.jsonl (`queries.jsonl#<line>`)'),
            traces: z.array(TraceLink),
          }),
        ),
      }),
    )
    .optional(),
});

export const DiagnosisSchema = z.object({
  routes: z.array(RouteSchema).min(1).describe('Ordered plan: measurement → instrumentation → dataset → agent → none'),
  low_confidence: z.boolean(),
  notes: z.array(z.string()),
  primary_score: z.string().nullable(),
});

export const ChangeDetailSchema = z.object({
  id: z.string().min(1),
  iteration: z.number().int().positive(),
  route_id: z.string(),
  finding_ids: z.array(z.string()).min(1).describe('Findings that motivated the change'),
  artifact: ChangeArtifact,
  description: z.string(),
  files: z.array(z.string()),
  diff_stat: z.object({ files: z.number().int(), insertions: z.number().int(), deletions: z.number().int() }).nullable(),
  dataset_rows: z
    .object({
      dataset: z.string(),
      dataset_id: z.string().nullable(),
      upserted: z.number().int().nonnegative(),
      train: z.number().int().nonnegative(),
      validation: z.number().int().nonnegative(),
      needs_label: z.number().int().nonnegative(),
      rows_file: z.string().nullable(),
    })
    .nullable(),
  functions: z.array(z.object({ slug: z.string(), action: z.enum(['created', 'updated', 'pushed']) })),
  applied_by: z.string(),
  /**
   * The change as a unified diff against the files before it (an excerpt; the whole diff is at `path`). Optional:
   * changes without a change agent, and summaries written before it existed, have none.
   */
  diff: z.object({ path: z.string(), sha256: z.string(), excerpt: z.string(), truncated: z.boolean() }).optional(),
  /**
   * Present when Verify & Decide rejected the change and its files were put back as they were before it (the next
   * attempt did not build on it). Optional: summaries written before reverts existed have none.
   */
  reverted: z
    .object({
      rule: z.string(),
      reason: z.string(),
      files: z.array(z.string()),
      overwritten_files: z.array(z.string()),
      repushed_scorers: z.array(z.string()),
    })
    .optional(),
});

export const ExperimentRefSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  url: Url,
  split: Split,
  run_mode: z.enum(['smoke', 'full', 'baseline']),
  scores: z.record(z.string(), z.number().nullable()),
  row_count: z.number().int().nonnegative(),
  error_count: z.number().int().nonnegative(),
  iteration: z.number().int().nonnegative().nullable(),
});

const ScoreDeltaSchema = z.object({
  score: z.string(),
  split: Split,
  baseline: z.number().nullable(),
  new: z.number().nullable(),
  delta: z.number().nullable(),
});

const RegressionDetailSchema = z.object({
  key: z.string(),
  row_id: z.string(),
  trace_id: z.string().nullable(),
  score: z.string(),
  baseline: z.number(),
  new: z.number(),
  delta: z.number(),
  url: Url.nullable(),
});

/** One regressed eval row drilled into: texts are cut and come from the eval (untrusted). */
const RegressionDrilldownSchema = z.object({
  key: z.string(),
  row_id: z.string(),
  trace_id: z.string().nullable(),
  url: Url.nullable().describe('The row in the new experiment'),
  baseline_trace_id: z.string().nullable(),
  baseline_url: Url.nullable().describe('The same row in the baseline experiment'),
  scores: z.array(z.object({ score: z.string(), baseline: z.number(), new: z.number(), delta: z.number() })),
  input: z.string().nullable(),
  expected: z.string().nullable(),
  output_before: z.string().nullable(),
  output_after: z.string().nullable(),
  rationale: z.array(z.object({ score: z.string(), before: z.string().nullable(), after: z.string().nullable() })).describe('What each regressed score\'s scorer logged as its reason'),
});

export const DecisionRecordSchema = z.object({
  iteration: z.number().int().positive(),
  rule: z.string(),
  next: z.enum(['exit', 'route']),
  route: ChangeArtifact.nullable(),
  outcome: Outcome.nullable(),
  reason: z.string(),
  stopped_at_limit: z.boolean(),
});

/** One iteration's attempt, for reading the iterations side by side. */
export const AttemptSchema = z.object({
  iteration: z.number().int().positive(),
  route_ids: z.array(z.string()),
  artifacts: z.array(ChangeArtifact),
  change_ids: z.array(z.string()),
  files: z.array(z.string()),
  reverted_files: z.array(z.string()),
  target_score: z.string().nullable(),
  evaluated: z.enum(['full', 'smoke', 'none']),
  train_delta: z.number().nullable(),
  validation_delta: z.number().nullable(),
  regression_count: z.number().int().nonnegative(),
  regressed_rows: z.array(z.string()).describe('Row ids of the largest drops (a few)'),
  rule: z.string(),
  accepted: z.boolean(),
  why_not_accepted: z.array(z.string()),
  next: z.string().describe('route <artifact> or exit <outcome>'),
});

export const VerificationSchema = z.object({
  target_score: z.string().nullable(),
  baseline: ExperimentRefSchema.nullable(),
  experiments: z.array(ExperimentRefSchema),
  deltas: z.array(ScoreDeltaSchema),
  train_delta: z.number().nullable(),
  validation_delta: z.number().nullable(),
  regression_count: z.number().int().nonnegative(),
  regressions: z.array(RegressionDetailSchema),
  /** The largest regressions drilled into (a few rows). Optional: runs without regressions, and older summaries, have none. */
  regression_drilldown: z.array(RegressionDrilldownSchema).optional(),
  comparison: z
    .object({
      tolerance: z.number(),
      joined: z.number().int(),
      improved: z.number().int(),
      regressed: z.number().int(),
      unchanged: z.number().int(),
    })
    .nullable(),
  scorer_health: z.array(z.object({ score: z.string(), healthy: z.boolean(), problem: z.string().nullable(), detail: z.string() })),
  overfitting: z.boolean(),
  confidence: Confidence.nullable(),
  decisions: z.array(DecisionRecordSchema).describe('One per Verify & Decide, in order'),
  /** Each iteration's attempt (optional: summaries written before it existed have none). */
  attempts: z.array(AttemptSchema).optional(),
});

export const ScoreDistributionSchema = z.object({
  score: z.string(),
  source: z.enum(['production', 'baseline', 'new']),
  n: z.number().int().nonnegative(),
  mean: z.number().nullable(),
  histogram: z.array(z.number().nonnegative()).describe('Counts in equal-width bins over [0, 1]'),
});

export const LinkSchema = z.object({
  kind: z.enum(['experiment', 'trace', 'query', 'docs', 'external', 'temporal']),
  label: z.string(),
  url: Url,
});

export const ArtifactSchema = z.object({
  kind: z.enum(['summary', 'narrative', 'evidence', 'dataset_rows', 'eval_rows', 'brief', 'diff', 'other']),
  path: z.string(),
  sha256: z.string().nullable(),
  description: z.string(),
});

export const NextStepSchema = z.object({
  id: z.string(),
  intent: z.enum(NEXT_STEP_INTENTS),
  priority: z.enum(['high', 'medium', 'low']),
  title: z.string().min(1),
  body: z.string(),
  suggested_destination: z.enum(DESTINATIONS),
  idempotency_key: z.string().regex(IDEMPOTENCY_KEY_PATTERN),
  blocking: z.boolean(),
  requires_human_review: z.boolean(),
  evidence: z.array(z.string()),
  finding_ids: z.array(z.string()),
});

export const GateSchema = z.object({
  id: z.string(),
  kind: z.enum(['plan', 'write', 'apply', 'route']),
  decision: z.enum(['approved', 'rejected', 'overridden', 'skipped', 'applied', 'stopped', 'timed_out', 'auto']),
  by: z.string(),
  at: z.string(),
  note: z.string().nullable(),
  detail: z.string().nullable(),
  /** What the gate showed, in one line (counts and target of a dataset write, the baseline, diff sizes). Optional. */
  shown: z.string().optional(),
});

export const RunInfoSchema = z.object({
  workflow_id: z.string(),
  run_id: z.string(),
  project: z.object({ id: z.string(), name: z.string() }),
  org: z.string().nullable(),
  app_url: Url,
  goal: z.string(),
  mode: z.enum(['autonomous', 'interactive']),
  iterations: z.number().int().nonnegative(),
  max_iterations: z.number().int().positive(),
  started_at: Timestamp,
  finished_at: Timestamp,
  window: Window.nullable(),
  error: z.object({ phase: z.string(), message: z.string() }).nullable(),
  /** Why the run was autonomous or interactive (which of the seed's signals was present). */
  mode_reason: z.string(),
  /** How the project was resolved: the invocation, .bt/config.json, an instruction file, or bt projects list. */
  project_source: z.string().nullable(),
  /** The pinned baseline and how it was chosen (env/invocation, an eval of this run, or the newest experiment). */
  baseline: z.object({ id: z.string(), name: z.string(), chosen_by: z.enum(['env', 'session', 'latest', 'none']) }).nullable(),
  /** What Orient had to assume or could not find (no .bt/config.json, no experiments, no eval files, …). */
  notes: z.array(z.string()),
  /**
   * The variables `bt eval` got on top of the flywheel's own (NAMES only, never values) and where each came from:
   * `dotenv` the agent directory's .env, `env_file` an --env-file, `eval_env` an --eval-env pass-through,
   * `worker_env` defined in `file` but taken from the worker's environment (the shell wins over .env files).
   * Optional: summaries written before it existed have none.
   */
  eval_env: z
    .array(z.object({ name: z.string(), source: z.enum(['dotenv', 'env_file', 'eval_env', 'worker_env']), file: z.string().nullable() }))
    .optional(),
});

const V1Experiment = z.object({
  new: z.string(),
  new_url: Url,
  baseline: z.string().optional(),
  baseline_url: Url.optional(),
  metric_delta: z.record(z.string(), z.number()),
});

export const RecommendedActionSchema = z.object({
  type: z.enum(V1_ACTION_TYPES),
  intent: z.enum(V1_INTENTS),
  target: z.enum(V1_TARGETS),
  severity: Severity,
  blocking: z.boolean(),
  reason: z.string(),
  title: z.string(),
  body_markdown: z.string(),
  requires_human_review: z.boolean(),
  evidence: z.array(z.string()),
  idempotency_key: z.string().regex(IDEMPOTENCY_KEY_PATTERN),
  webhook_url_env: z.string().optional(),
});

export const SummarySchema = z
  .object({
    schema_version: z.literal(SUMMARY_SCHEMA_VERSION),

    // v2
    outcome: Outcome,
    severity: Severity,
    blocking: z.boolean(),
    confidence: Confidence,
    summary: z.string().min(1),
    run: RunInfoSchema,
    findings_detail: z.array(FindingDetailSchema),
    diagnosis: DiagnosisSchema.nullable(),
    changes_detail: z.array(ChangeDetailSchema),
    verification: VerificationSchema,
    score_distributions: z.array(ScoreDistributionSchema),
    links: z.array(LinkSchema),
    artifacts: z.array(ArtifactSchema),
    next_steps: z.array(NextStepSchema).min(1),
    gates: z.array(GateSchema),

    // v1 (read by older harnesses; shapes fixed by bt-flywheel-summary.v1.schema.json)
    timestamp: Timestamp,
    goal: z.string(),
    phases_run: z.array(z.enum(PHASES)),
    findings: z.array(z.string()).describe('v1: one sentence per finding; rich data in findings_detail'),
    changes: z.object({
      agent: z.array(z.string()),
      scorers: z.array(z.string()),
      datasets: z.array(z.string()),
      instrumentation: z.array(z.string()),
    }),
    experiment: V1Experiment.nullable(),
    regressions: z.array(z.object({ trace_id: z.string(), score: z.number(), url: Url })),
    loop_decision: z.enum(V1_LOOP_DECISIONS),
    loop_reasoning: z.string(),
    recommended_actions: z.array(RecommendedActionSchema).min(1),
  })
  .describe('bt-flywheel exit handoff (v2, v1-compatible)');

export type Summary = z.infer<typeof SummarySchema>;
export type FindingDetail = z.infer<typeof FindingDetailSchema>;
export type ChangeDetail = z.infer<typeof ChangeDetailSchema>;
export type NextStep = z.infer<typeof NextStepSchema>;
export type NextStepIntent = (typeof NEXT_STEP_INTENTS)[number];
export type Destination = (typeof DESTINATIONS)[number];
export type RecommendedAction = z.infer<typeof RecommendedActionSchema>;
export type ExperimentRef = z.infer<typeof ExperimentRefSchema>;
export type SummaryLink = z.infer<typeof LinkSchema>;
export type SummaryArtifact = z.infer<typeof ArtifactSchema>;
export type ScoreDistributionEntry = z.infer<typeof ScoreDistributionSchema>;
export type V1LoopDecision = (typeof V1_LOOP_DECISIONS)[number];

/** The JSON Schema generated from `SummarySchema` (what `scripts/gen-schema.ts` writes). */
export function summaryJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(SummarySchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SUMMARY_SCHEMA_ID,
    title: 'bt-flywheel-summary',
    ...rest,
  };
}

/** The exact text of the committed schema file. */
export function summaryJsonSchemaText(): string {
  return JSON.stringify(summaryJsonSchema(), null, 2) + '\n';
}
