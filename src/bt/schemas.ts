/**
 * zod schemas for what `bt` 0.12.0 prints on stdout (shared/reference/bt-cli.md §4–§7).
 * Every object is loose: unknown keys pass through, so newer bt versions and servers that add
 * fields keep working. Only the fields bt itself guarantees are required.
 */
import { z } from 'zod';

const str = z.string();
const nstr = z.string().nullish();
const record = z.record(z.string(), z.unknown());
/** Any JSON value, key possibly absent. Explicitly optional: zod 4 `.extend()` drops the implicit optionality of `z.unknown()`. */
const anyValue = z.unknown().optional();

export const VersionSchema = z.looseObject({ version: str });

// --- status, projects, experiments ------------------------------------------------------------

export const StatusSchema = z.looseObject({
  org: nstr,
  project: nstr,
  profile: nstr,
  source: nstr,
});
export type BtStatus = z.infer<typeof StatusSchema>;

export const ProjectSchema = z.looseObject({
  id: str,
  name: str,
  org_id: str,
  description: nstr,
});
export type Project = z.infer<typeof ProjectSchema>;

export const ExperimentSchema = z.looseObject({
  id: str,
  name: str,
  project_id: str,
  public: z.boolean().nullish(),
  description: nstr,
  created: nstr,
  dataset_id: nstr,
  dataset_version: nstr,
  base_exp_id: nstr,
  commit: nstr,
  user_id: nstr,
  tags: z.array(z.string()).nullish(),
  metadata: record.nullish(),
});
export type Experiment = z.infer<typeof ExperimentSchema>;

// --- rows (project_logs / experiment / dataset) -------------------------------------------------

/** One span row as returned by `bt sql` / `view` / `sync`. Every field but `id` is optional. */
export const SpanRowSchema = z.looseObject({
  id: str,
  _xact_id: nstr,
  _pagination_key: nstr,
  created: nstr,
  project_id: nstr,
  experiment_id: nstr,
  dataset_id: nstr,
  input: anyValue,
  output: anyValue,
  expected: anyValue,
  error: anyValue,
  metadata: record.nullish(),
  tags: z.array(z.string()).nullish(),
  scores: z.record(z.string(), z.number().nullable()).nullish(),
  metrics: z.record(z.string(), z.number().nullable()).nullish(),
  span_id: nstr,
  root_span_id: nstr,
  span_parents: z.array(z.string()).nullish(),
  is_root: z.boolean().nullish(),
  span_attributes: z.looseObject({ name: nstr, type: nstr }).nullish(),
  origin: anyValue,
  facets: z.record(z.string(), z.string().nullable()).nullish(),
});
export type SpanRow = z.infer<typeof SpanRowSchema>;

// --- bt sql ---------------------------------------------------------------------------------------

export const SqlWarningSchema = z.looseObject({ code: nstr, message: nstr, stage: nstr });

/** `bt sql --json`. Rows are arbitrary objects (a SELECT decides their keys). */
export const SqlResultSchema = z.looseObject({
  data: z.array(record),
  schema: anyValue,
  cursor: nstr,
  freshness_state: anyValue,
  realtime_state: anyValue,
  warnings: z.array(SqlWarningSchema).optional(),
});
export type SqlResult<Row = Record<string, unknown>> = Omit<z.infer<typeof SqlResultSchema>, 'data'> & { data: Row[] };

// --- bt view --------------------------------------------------------------------------------------

const ViewMetaSchema = z.looseObject({
  command: str,
  source: z.looseObject({ object_type: nstr, object_name: nstr }).nullish(),
});

const PagingSchema = z.looseObject({
  cursor_in: nstr,
  next_cursor: nstr,
  has_more: z.boolean(),
});

export const ViewLogsSchema = z.looseObject({
  meta: ViewMetaSchema.extend({ list_mode: nstr, limit: z.number().nullish(), truncated: z.boolean().nullish() }),
  paging: PagingSchema,
  items: z.array(z.looseObject({ root_span_id: nstr, row: SpanRowSchema.extend({ id: nstr }) })),
  hints: z.array(z.string()).optional(),
});
export type ViewLogs = z.infer<typeof ViewLogsSchema>;

export const ViewTraceSchema = z.looseObject({
  meta: ViewMetaSchema.extend({ trace_id: nstr }),
  paging: PagingSchema.partial().optional(),
  items: z.array(SpanRowSchema),
  hints: z.array(z.string()).optional(),
});
export type ViewTrace = z.infer<typeof ViewTraceSchema>;

export const ViewSpanSchema = z.looseObject({
  meta: ViewMetaSchema.extend({ id: nstr, span_id: nstr }),
  /** null when no span has that id (bt still exits 0). */
  item: SpanRowSchema.nullable(),
  hints: z.array(z.string()).optional(),
});
export type ViewSpan = z.infer<typeof ViewSpanSchema>;

// --- datasets -------------------------------------------------------------------------------------

export const DatasetSchema = z.looseObject({
  id: str,
  name: str,
  project_id: str,
  description: nstr,
  created: nstr,
  created_at: nstr,
  metadata: record.nullish(),
});
export type Dataset = z.infer<typeof DatasetSchema>;

export const DatasetRowSchema = z.looseObject({
  id: str,
  input: anyValue,
  expected: anyValue,
  metadata: record.nullish(),
  tags: z.array(z.string()).nullish(),
  origin: anyValue,
});
export type DatasetRow = z.infer<typeof DatasetRowSchema>;

export const DatasetViewSchema = z.looseObject({
  dataset: DatasetSchema,
  rows: z.array(DatasetRowSchema),
  rows_truncated: z.boolean(),
  row_limit: z.number().nullable(),
  rows_previewed: z.boolean(),
  preview_length: z.number(),
});
export type DatasetView = z.infer<typeof DatasetViewSchema>;

export const DatasetCreateResultSchema = z.looseObject({
  dataset: DatasetSchema,
  created_dataset: z.boolean(),
  uploaded: z.number(),
  mode: z.literal('create'),
});
export type DatasetCreateResult = z.infer<typeof DatasetCreateResultSchema>;

export const DatasetUpdateResultSchema = z.looseObject({
  dataset: DatasetSchema,
  mode: z.literal('update'),
});
export type DatasetUpdateResult = z.infer<typeof DatasetUpdateResultSchema>;

/** A row accepted by `datasets create/update`. bt rejects any other top-level key (except the `--id-field` key). */
export interface DatasetRecordInput {
  id?: string;
  input?: unknown;
  expected?: unknown;
  metadata?: Record<string, unknown>;
  tags?: string[];
  origin?: unknown;
  [key: string]: unknown;
}

// --- functions ------------------------------------------------------------------------------------

/** Values of `functions list --type` (CLI spelling: `custom-view`; rows say `custom_view`). */
export const FUNCTION_TYPES = [
  'llm',
  'scorer',
  'task',
  'tool',
  'custom-view',
  'preprocessor',
  'facet',
  'classifier',
  'tag',
  'parameters',
] as const;
export type FunctionType = (typeof FUNCTION_TYPES)[number];

export const FunctionSchema = z.looseObject({
  id: str,
  name: str,
  slug: str,
  project_id: str,
  description: nstr,
  function_type: nstr,
  prompt_data: anyValue,
  function_data: anyValue,
  tags: z.array(z.string()).nullish(),
  metadata: record.nullish(),
  created: nstr,
  _xact_id: nstr,
});
export type BtFunction = z.infer<typeof FunctionSchema>;

export const FunctionsPushResultSchema = z.looseObject({
  status: z.enum(['success', 'partial', 'failed']),
  total_files: z.number(),
  uploaded_files: z.number(),
  failed_files: z.number(),
  skipped_files: z.number(),
  ignored_entries: z.number().nullish(),
  files: z.array(
    z.looseObject({
      source_file: str,
      status: str,
      uploaded_entries: z.number().nullish(),
      bundle_id: nstr,
      skipped_reason: nstr,
      error_reason: nstr,
      message: nstr,
    }),
  ),
  warnings: z.array(z.unknown()).optional(),
  errors: z.array(z.looseObject({ reason: nstr, message: nstr })).optional(),
});
export type FunctionsPushResult = z.infer<typeof FunctionsPushResultSchema>;

// --- eval -----------------------------------------------------------------------------------------

const ScoreSummarySchema = z.looseObject({
  name: str,
  score: z.number().nullable(),
  diff: z.number().nullish(),
  improvements: z.number().nullish(),
  regressions: z.number().nullish(),
});

const MetricSummarySchema = z.looseObject({
  name: str,
  metric: z.number().nullable(),
  unit: nstr,
  diff: z.number().nullish(),
  improvements: z.number().nullish(),
  regressions: z.number().nullish(),
});

/** One `bt eval --jsonl` summary line (one per evaluator). */
export const EvalSummarySchema = z.looseObject({
  projectName: nstr,
  experimentName: str,
  projectId: nstr,
  experimentId: nstr,
  projectUrl: nstr,
  experimentUrl: nstr,
  comparisonExperimentName: nstr,
  scores: z.record(z.string(), ScoreSummarySchema),
  metrics: z.record(z.string(), MetricSummarySchema).nullish(),
  runMode: nstr,
  isFinal: z.boolean().nullish(),
  runLabel: nstr,
  sampleCount: z.number().nullish(),
  sampleSeed: z.number().nullish(),
});
export type EvalSummary = z.infer<typeof EvalSummarySchema>;

// --- sync -----------------------------------------------------------------------------------------

export const SyncPullResultSchema = z.looseObject({
  status: str,
  spec_dir: str,
  output_path: nstr,
  items_done: z.number().nullish(),
  pages_done: z.number().nullish(),
  bytes_written: z.number().nullish(),
  scope: nstr,
  limit: z.number().nullish(),
  warning: nstr,
  message: nstr,
});
export type SyncPullResult = z.infer<typeof SyncPullResultSchema>;
