/**
 * A typed client over the real `bt` 0.12.0 binary: one method per command, stdout parsed as one
 * JSON document and validated, failures raised as classified `BtError`s.
 * Reference: shared/reference/bt-cli.md.
 */
import type { z } from 'zod';
import { defaultBtPath } from '../paths.js';
import { BtError, classifyExit, stderrTail, truncate } from './errors.js';
import { buildChildEnv, runBt, type BtHeartbeat, type RunResult } from './run.js';
import { SQL_MAX_LIMIT, pageQuery, type PageOrder } from './sql.js';
import {
  DatasetCreateResultSchema,
  DatasetSchema,
  DatasetUpdateResultSchema,
  DatasetViewSchema,
  EvalSummarySchema,
  ExperimentSchema,
  FunctionSchema,
  FunctionsPushResultSchema,
  ProjectSchema,
  SqlResultSchema,
  StatusSchema,
  SyncPullResultSchema,
  VersionSchema,
  ViewLogsSchema,
  ViewSpanSchema,
  ViewTraceSchema,
  type BtFunction,
  type BtStatus,
  type Dataset,
  type DatasetCreateResult,
  type DatasetRecordInput,
  type DatasetUpdateResult,
  type DatasetView,
  type EvalSummary,
  type Experiment,
  type FunctionType,
  type FunctionsPushResult,
  type Project,
  type SqlResult,
  type SyncPullResult,
  type ViewLogs,
  type ViewSpan,
  type ViewTrace,
} from './schemas.js';

export interface BtClientOptions {
  /** Path to bt (the npm launcher or the native binary). Default: `defaultBtPath()`. */
  btPath?: string;
  /**
   * The complete child environment (no inheritance): BRAINTRUST_API_KEY, BRAINTRUST_APP_URL,
   * BRAINTRUST_API_URL, BRAINTRUST_ORG_NAME, HOME, XDG_CONFIG_HOME, PATH, … Undefined and empty
   * BRAINTRUST_* values are dropped (an empty key would mean "no credentials").
   */
  env: Readonly<Record<string, string | undefined>>;
  /** Working directory for bt (config discovery walks up from here). Default: the process cwd. */
  cwd?: string;
  /** Default time limit per command. Default 120 s. */
  timeoutMs?: number;
  /** Time limit for `eval`. Default 30 min. */
  evalTimeoutMs?: number;
  /** Time limit for `functionsInvoke` (bt itself allows 300 s). Default 330 s. */
  invokeTimeoutMs?: number;
  /** Called every `heartbeatIntervalMs` while a command runs (e.g. `Context.current().heartbeat`). */
  onHeartbeat?: (detail: BtHeartbeat) => void;
  /** Default 5 s. */
  heartbeatIntervalMs?: number;
  /** Grace between SIGTERM and SIGKILL when killing the process group. Default 3 s. */
  killGraceMs?: number;
  /** Applied to bt's stdout and stderr (results, errors, heartbeats), e.g. to remove injected secret values. */
  redact?: (text: string) => string;
}

export interface CallOptions {
  /** The activity's cancellation signal. Aborting kills bt and its children. */
  signal?: AbortSignal;
  /** Overrides the client's time limit for this call. */
  timeoutMs?: number;
}

export interface SqlOptions<Row> extends CallOptions {
  /** Send `--force-ignore-linter` (bypasses the strict lint block). */
  forceIgnoreLinter?: boolean;
  /** Validate each row (default: any object). */
  rowSchema?: z.ZodType<Row>;
}

export interface SqlPagesOptions<Row> extends SqlOptions<Row> {
  /** Rows per request: 1…1000 (the service's maximum); at most 100 when the query selects large fields. */
  pageSize: number;
  /** Read at most this many rows; when more exist the result says `truncated: true`. */
  maxRows: number;
  /** `_pagination_key` order (default ascending). */
  order?: PageOrder;
  /** Called after every request (e.g. an activity heartbeat). */
  onPage?: (progress: { requests: number; rows: number }) => void;
}

export interface SqlPagesResult<Row> {
  data: Row[];
  /** Requests that returned rows. */
  pages: number;
  /** `bt sql` calls made (the last one may be an empty page or a one-row probe past the cap). */
  requests: number;
  /** The cap was reached and the service had more rows. */
  truncated: boolean;
  maxRows: number;
}

export type ObjectRef = `${'project_logs' | 'experiment' | 'dataset'}:${string}`;

export interface ViewLogsOptions extends CallOptions {
  projectId?: string;
  objectRef?: ObjectRef;
  /** e.g. "1h", "7d", "3650d". bt's default is 1h, and it applies to experiments and datasets too. */
  window?: string;
  /** RFC 3339 timestamp lower bound, e.g. "1970-01-01T00:00:00Z". */
  since?: string;
  /** BTQL filter expression. */
  filter?: string;
  search?: string;
  limit?: number;
  cursor?: string;
  listMode?: 'summary' | 'spans';
}

export interface ViewTraceOptions extends CallOptions {
  objectRef: ObjectRef;
  /** The trace's root_span_id. */
  traceId: string;
  limit?: number;
}

export interface ViewSpanOptions extends CallOptions {
  objectRef: ObjectRef;
  /** The row id (not the span id). */
  id: string;
}

export interface DatasetsViewOptions extends CallOptions {
  /** Exact values instead of 125-char previews. */
  full?: boolean;
  allRows?: boolean;
  limit?: number;
}

export interface DatasetsCreateOptions extends CallOptions {
  rows?: readonly DatasetRecordInput[];
  description?: string;
}

export interface DatasetsUpdateOptions extends CallOptions {
  rows: readonly DatasetRecordInput[];
  /** Dot path to the id (`--id-field`), e.g. "metadata.case_id". Default "id". */
  idField?: string;
}

export interface FunctionsPushOptions extends CallOptions {
  ifExists?: 'error' | 'replace' | 'ignore';
  cwd?: string;
}

export interface EvalOptions extends CallOptions {
  /** Directory to run in (eval files resolve from here; tsx and braintrust must be resolvable). */
  cwd: string;
  first?: number;
  sample?: number;
  sampleSeed?: number;
  noSendLogs?: boolean;
  /** `path=regex` filters on the evaluator object, ANDed. A regex cannot contain a comma. */
  filter?: readonly string[];
  /** Sent as one `--param <json object>`; only evaluators declaring `parameters` see them. */
  params?: Record<string, unknown>;
  project?: string;
}

export interface EvalResult {
  summaries: EvalSummary[];
  /** stdout lines that are not summary lines (console.log from eval code). */
  userStdout: string[];
  exitCode: number;
  /** Exit 1 with summaries present: some rows errored (the summaries are still valid). */
  rowErrors: boolean;
  stderrTail: string;
}

export type SyncPullOptions = CallOptions & {
  /** Output root (`--root`); relative paths resolve against `cwd`. */
  root: string;
  cwd?: string;
  /** Window such as "3d" (bt default) or "36500d" for a whole dataset. */
  window?: string;
  filter?: string;
  /** Delete earlier data for this spec and pull again (bt otherwise reports stale "already completed"). */
  fresh?: boolean;
} & ({ traces?: number; spans?: never } | { spans?: number; traces?: never });

/** Global flags, placed after the subcommand (bt rejects them before it). */
const GLOBAL = ['--json', '--no-input', '-q'] as const;
/** Above this size a SQL query goes through stdin instead of argv. */
const SQL_ARGV_MAX = 64 * 1024;

export class BtClient {
  readonly btPath: string;
  private readonly env: Record<string, string>;
  private readonly opts: BtClientOptions;

  constructor(options: BtClientOptions) {
    this.opts = options;
    this.btPath = options.btPath ?? defaultBtPath();
    this.env = buildChildEnv(options.env);
  }

  // --- status, projects, experiments -----------------------------------------------------------

  /** `bt status --json`: resolved org/project/profile. No network call, credentials not checked. */
  async status(opts: CallOptions = {}): Promise<BtStatus> {
    return this.json(['status', ...GLOBAL], 1, StatusSchema, opts);
  }

  /** `bt --version --json` → "0.12.0". */
  async version(opts: CallOptions = {}): Promise<string> {
    const r = await this.json(['--version', '--json'], 1, VersionSchema, opts);
    return r.version;
  }

  /** `bt projects list --json`. Also the real credential check (login + one request). */
  async projectsList(opts: CallOptions = {}): Promise<Project[]> {
    return this.json(['projects', 'list', ...GLOBAL], 2, ProjectSchema.array(), opts);
  }

  async experimentsList(project: string, opts: CallOptions = {}): Promise<Experiment[]> {
    return this.json(['experiments', 'list', ...GLOBAL, flag('project', project)], 2, ExperimentSchema.array(), opts);
  }

  /** No scores here: use `sql` on `experiment('<id>')` or the eval summary. */
  async experimentsView(project: string, name: string, opts: CallOptions = {}): Promise<Experiment> {
    return this.json(['experiments', 'view', ...GLOBAL, flag('project', project), '--', name], 2, ExperimentSchema, opts);
  }

  // --- sql and view ---------------------------------------------------------------------------------

  /** `bt sql --json <query>` under strict lint (unless `forceIgnoreLinter`). */
  async sql<Row = Record<string, unknown>>(query: string, opts: SqlOptions<Row> = {}): Promise<SqlResult<Row>> {
    if (query.trim() === '') throw this.usage('bt sql', 'the query is empty');
    const args = ['sql', ...GLOBAL];
    if (opts.forceIgnoreLinter) args.push('--force-ignore-linter');
    const viaStdin = Buffer.byteLength(query) > SQL_ARGV_MAX;
    if (!viaStdin) args.push('--', query);
    const result = await this.json(args, 1, SqlResultSchema, opts, viaStdin ? { input: query } : {});
    if (!opts.rowSchema) return result as SqlResult<Row>;
    const rows = opts.rowSchema.array().safeParse(result.data);
    if (!rows.success) throw this.schemaError('bt sql', args, 'rows do not match the expected row schema', rows.error);
    return { ...result, data: rows.data };
  }

  /**
   * Reads a query page by page, following the response cursor: `base` (`SELECT … FROM … [WHERE …]`, no ORDER BY /
   * LIMIT) runs as `ORDER BY _pagination_key LIMIT <pageSize> OFFSET '<cursor>'` until a response has no cursor or no
   * rows, or `maxRows` rows are read. At the cap one more row is asked for, so `truncated` is true only when the
   * service really had more.
   */
  async sqlPages<Row = Record<string, unknown>>(base: string, opts: SqlPagesOptions<Row>): Promise<SqlPagesResult<Row>> {
    const what = 'bt sql (paged)';
    const pageSize = Number(this.posInt(what, 'pageSize', opts.pageSize));
    if (pageSize > SQL_MAX_LIMIT) throw this.usage(what, `pageSize must be at most ${SQL_MAX_LIMIT} (the service's limit), got ${pageSize}`);
    const maxRows = Number(this.posInt(what, 'maxRows', opts.maxRows));
    const { pageSize: _p, maxRows: _m, order, onPage, ...sqlOpts } = opts;
    const data: Row[] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    let requests = 0;
    let truncated = false;
    for (;;) {
      const remaining = maxRows - data.length;
      // One row past the cap tells "exactly maxRows" from "more than maxRows".
      const limit = Math.min(pageSize, remaining + 1);
      const res: SqlResult<Row> = await this.sql<Row>(pageQuery(base, { limit, cursor, order }), sqlOpts);
      requests++;
      const next = typeof res.cursor === 'string' && res.cursor !== '' ? res.cursor : null;
      if (res.data.length > 0) pages++;
      if (res.data.length > remaining) {
        data.push(...res.data.slice(0, remaining));
        truncated = true;
      } else data.push(...res.data);
      onPage?.({ requests, rows: data.length });
      if (truncated || res.data.length === 0 || next === null) break;
      if (seen.has(next)) throw this.usage(what, `the service returned the same cursor twice (${truncate(next, 60)}); stopping instead of looping`);
      seen.add(next);
      cursor = next;
    }
    return { data, pages, requests, truncated, maxRows };
  }

  /** `bt view logs --json`: one page of traces (summary) or spans, newest first. */
  async viewLogs(opts: ViewLogsOptions): Promise<ViewLogs> {
    if ((opts.projectId === undefined) === (opts.objectRef === undefined))
      throw this.usage('bt view logs', 'pass exactly one of projectId or objectRef');
    const args = ['view', 'logs', ...GLOBAL];
    if (opts.objectRef !== undefined) args.push(flag('object-ref', opts.objectRef));
    if (opts.projectId !== undefined) args.push(flag('project-id', opts.projectId));
    if (opts.window !== undefined) args.push(flag('window', opts.window));
    if (opts.since !== undefined) args.push(flag('since', opts.since));
    if (opts.filter !== undefined) args.push(flag('filter', opts.filter));
    if (opts.search !== undefined) args.push(flag('search', opts.search));
    if (opts.limit !== undefined) args.push(flag('limit', this.posInt('bt view logs', 'limit', opts.limit)));
    if (opts.cursor !== undefined && opts.cursor !== '') args.push(flag('cursor', opts.cursor));
    if (opts.listMode !== undefined) args.push(flag('list-mode', opts.listMode));
    return this.json(args, 2, ViewLogsSchema, opts);
  }

  /** `bt view trace --json`: every span of one trace (values are previews). */
  async viewTrace(opts: ViewTraceOptions): Promise<ViewTrace> {
    const args = ['view', 'trace', ...GLOBAL, flag('object-ref', opts.objectRef), flag('trace-id', opts.traceId)];
    if (opts.limit !== undefined) args.push(flag('limit', this.posInt('bt view trace', 'limit', opts.limit)));
    return this.json(args, 2, ViewTraceSchema, opts);
  }

  /** `bt view span --json`: one full span; `item` is null when the id does not exist. */
  async viewSpan(opts: ViewSpanOptions): Promise<ViewSpan> {
    return this.json(['view', 'span', ...GLOBAL, flag('object-ref', opts.objectRef), flag('id', opts.id)], 2, ViewSpanSchema, opts);
  }

  // --- datasets -------------------------------------------------------------------------------------

  async datasetsList(project: string, opts: CallOptions = {}): Promise<Dataset[]> {
    return this.json(['datasets', 'list', ...GLOBAL, flag('project', project)], 2, DatasetSchema.array(), opts);
  }

  async datasetsView(project: string, name: string, opts: DatasetsViewOptions = {}): Promise<DatasetView> {
    const args = ['datasets', 'view', ...GLOBAL, flag('project', project)];
    if (opts.full) args.push('--full');
    if (opts.allRows) args.push('--all-rows');
    if (opts.limit !== undefined) args.push(flag('limit', this.posInt('bt datasets view', 'limit', opts.limit)));
    args.push('--', name);
    return this.json(args, 2, DatasetViewSchema, opts);
  }

  /** Creates a dataset (exit 1 if the name exists). Rows go through stdin, never argv. */
  async datasetsCreate(project: string, name: string, opts: DatasetsCreateOptions = {}): Promise<DatasetCreateResult> {
    const args = ['datasets', 'create', ...GLOBAL, flag('project', project)];
    if (opts.description !== undefined) args.push(flag('description', opts.description));
    args.push('--', name);
    const rows = opts.rows ?? [];
    return this.json(args, 2, DatasetCreateResultSchema, opts, rows.length > 0 ? { input: toJsonl(rows) } : {});
  }

  /** Upserts rows by id (each row needs an id, or `idField`). Rows go through stdin. */
  async datasetsUpdate(project: string, name: string, opts: DatasetsUpdateOptions): Promise<DatasetUpdateResult> {
    if (opts.rows.length === 0) throw this.usage('bt datasets update', 'no rows to upsert');
    const args = ['datasets', 'update', ...GLOBAL, flag('project', project)];
    if (opts.idField !== undefined) args.push(flag('id-field', opts.idField));
    args.push('--', name);
    return this.json(args, 2, DatasetUpdateResultSchema, opts, { input: toJsonl(opts.rows) });
  }

  // --- functions ------------------------------------------------------------------------------------

  async functionsList(project: string, opts: CallOptions & { type?: FunctionType } = {}): Promise<BtFunction[]> {
    const args = ['functions', 'list', ...GLOBAL, flag('project', project)];
    if (opts.type !== undefined) args.push(flag('type', opts.type));
    return this.json(args, 2, FunctionSchema.array(), opts);
  }

  /** By slug: `--slug`, because bt 0.12.0 reads a positional `fn_…`/`func_…` as a function id. */
  async functionsView(project: string, slug: string, opts: CallOptions = {}): Promise<BtFunction> {
    return this.json(['functions', 'view', ...GLOBAL, flag('project', project), flag('slug', slug)], 2, FunctionSchema, opts);
  }

  /**
   * `bt functions push --json`. bt prints its summary even when it fails; a non-zero exit throws a
   * `BtError` whose `output` holds that summary.
   */
  async functionsPush(project: string | undefined, files: readonly string[], opts: FunctionsPushOptions = {}): Promise<FunctionsPushResult> {
    if (files.length === 0) throw this.usage('bt functions push', 'no files given');
    const args = ['functions', 'push', ...GLOBAL];
    if (project !== undefined) args.push(flag('project', project));
    if (opts.ifExists !== undefined) args.push(flag('if-exists', opts.ifExists));
    args.push('--', ...files);
    return this.json(args, 2, FunctionsPushResultSchema, opts, { cwd: opts.cwd });
  }

  /** `bt functions invoke --json`: the raw response. The input goes through stdin. */
  async functionsInvoke(project: string, slug: string, input: unknown, opts: CallOptions = {}): Promise<unknown> {
    const args = ['functions', 'invoke', ...GLOBAL, flag('project', project), '--', slug];
    return this.json(args, 2, null, { timeoutMs: this.opts.invokeTimeoutMs ?? 330_000, ...opts }, { input: JSON.stringify(input ?? null) });
  }

  // --- eval and sync --------------------------------------------------------------------------------

  /**
   * `bt eval --jsonl`. Summary lines are those starting with `{` that parse to an object with
   * `experimentName`; every other stdout line is user output. Exit 1 with summaries means some
   * rows errored: returned with `rowErrors: true`, not thrown.
   */
  async eval(files: readonly string[], opts: EvalOptions): Promise<EvalResult> {
    const what = 'bt eval';
    const args = ['eval', '--jsonl', '--no-input', '-q'];
    if (opts.first !== undefined && opts.sample !== undefined) throw this.usage(what, 'first and sample are mutually exclusive');
    if (opts.sampleSeed !== undefined && opts.sample === undefined) throw this.usage(what, 'sampleSeed requires sample');
    if (opts.first !== undefined) args.push(flag('first', this.posInt(what, 'first', opts.first)));
    if (opts.sample !== undefined) args.push(flag('sample', this.posInt(what, 'sample', opts.sample)));
    if (opts.sampleSeed !== undefined) {
      if (!Number.isSafeInteger(opts.sampleSeed) || opts.sampleSeed < 0) throw this.usage(what, 'sampleSeed must be a non-negative integer');
      args.push(flag('sample-seed', String(opts.sampleSeed)));
    }
    if (opts.noSendLogs) args.push('--no-send-logs');
    for (const f of opts.filter ?? []) {
      if (!/^[^=]+=/.test(f)) throw this.usage(what, `filter ${JSON.stringify(f)} is not path=regex`);
      if (f.includes(',')) throw this.usage(what, `filter ${JSON.stringify(f)} contains a comma (bt splits values on commas)`);
      args.push(flag('filter', f));
    }
    if (opts.params !== undefined && Object.keys(opts.params).length > 0) args.push(flag('param', JSON.stringify(opts.params)));
    if (opts.project !== undefined) args.push(flag('project', opts.project));
    if (files.length === 0) throw this.usage(what, 'no eval files given');
    // No `--` here: for bt eval it starts the runner's own argv. Keep paths from looking like flags.
    args.push(...files.map((f) => (f.startsWith('-') ? `./${f}` : f)));

    const r = await this.run(args, 1, { timeoutMs: this.opts.evalTimeoutMs ?? 30 * 60_000, ...opts }, { cwd: opts.cwd });
    const summaries: EvalSummary[] = [];
    const userStdout: string[] = [];
    for (const line of r.stdout.split(/\r?\n/)) {
      const parsed = line.startsWith('{') ? tryJson(line) : undefined;
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'experimentName' in parsed) {
        const summary = EvalSummarySchema.safeParse(parsed);
        if (!summary.success) throw this.schemaError(what, r.command, 'an eval summary line has an unexpected shape', summary.error, r);
        summaries.push(summary.data);
      } else if (line.length > 0) userStdout.push(line);
    }
    if (r.exitCode !== 0 && (r.exitCode !== 1 || summaries.length === 0)) throw this.exitError(r);
    return { summaries, userStdout, exitCode: r.exitCode, rowErrors: r.exitCode === 1, stderrTail: stderrTail(r.stderr) };
  }

  /** `bt sync pull --json <ref>` into `root`. */
  async syncPull(ref: ObjectRef, opts: SyncPullOptions): Promise<SyncPullResult> {
    const what = 'bt sync pull';
    const args = ['sync', 'pull', ...GLOBAL, flag('root', opts.root)];
    if (opts.traces !== undefined) args.push(flag('traces', this.posInt(what, 'traces', opts.traces)));
    if (opts.spans !== undefined) args.push(flag('spans', this.posInt(what, 'spans', opts.spans)));
    if (opts.window !== undefined) args.push(flag('window', opts.window));
    if (opts.filter !== undefined) args.push(flag('filter', opts.filter));
    if (opts.fresh) args.push('--fresh');
    args.push('--', ref);
    return this.json(args, 2, SyncPullResultSchema, opts, { cwd: opts.cwd });
  }

  // --- plumbing -------------------------------------------------------------------------------------

  private run(args: string[], commandWords: number, opts: CallOptions, extra: { input?: string; cwd?: string | undefined } = {}): Promise<RunResult> {
    return runBt(
      {
        btPath: this.btPath,
        env: this.env,
        heartbeatIntervalMs: this.opts.heartbeatIntervalMs ?? 5_000,
        onHeartbeat: this.opts.onHeartbeat,
        killGraceMs: this.opts.killGraceMs ?? 3_000,
        redact: this.opts.redact,
      },
      args,
      {
        signal: opts.signal,
        timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs ?? 120_000,
        cwd: extra.cwd ?? this.opts.cwd,
        input: extra.input,
        commandWords,
      },
    );
  }

  /** Runs, throws a classified error on a non-zero exit, parses stdout as one JSON document, validates it. */
  private async json<S extends z.ZodType>(
    args: string[],
    commandWords: number,
    schema: S | null,
    opts: CallOptions,
    extra: { input?: string; cwd?: string | undefined } = {},
  ): Promise<z.infer<S>> {
    const r = await this.run(args, commandWords, opts, extra);
    if (r.exitCode !== 0) {
      const output = tryJson(r.stdout.trim());
      throw this.exitError(r, output);
    }
    const text = r.stdout.trim();
    const parsed = tryJson(text);
    if (parsed === undefined)
      throw this.schemaError(r.what, r.command, text === '' ? 'stdout was empty' : `stdout is not one JSON document (${truncate(text, 80)})`, undefined, r);
    if (schema === null) return parsed as z.infer<S>;
    const checked = schema.safeParse(parsed);
    if (!checked.success) throw this.schemaError(r.what, r.command, 'stdout JSON has an unexpected shape', checked.error, r);
    return checked.data;
  }

  private exitError(r: RunResult, output?: unknown): BtError {
    // `functions push --json` explains a failure only in its summary: classify on that too.
    const reported = summaryErrors(output);
    const c = classifyExit(r.exitCode, reported.length > 0 ? `${r.stderr}\n${reported.join('\n')}` : r.stderr);
    return new BtError({
      kind: c.kind,
      what: r.what,
      cause: reported[0] !== undefined ? `${c.cause} (${truncate(reported[0], 300)})` : c.cause,
      command: r.command,
      exitCode: r.exitCode,
      stderrTail: stderrTail(r.stderr),
      output,
    });
  }

  private schemaError(what: string, command: readonly string[], cause: string, zodError?: z.ZodError, r?: RunResult): BtError {
    const issue = zodError?.issues[0];
    const where = issue ? ` at ${issue.path.join('.') || '<root>'}: ${issue.message}` : '';
    return new BtError({
      kind: 'schema',
      what,
      cause: cause + where,
      command: r?.command ?? command,
      exitCode: r?.exitCode,
      stderrTail: r ? stderrTail(r.stderr) : '',
      cause_: zodError,
    });
  }

  private usage(what: string, cause: string): BtError {
    return new BtError({ kind: 'usage', what, cause, command: [this.btPath] });
  }

  private posInt(what: string, name: string, n: number): string {
    if (!Number.isSafeInteger(n) || n < 1) throw this.usage(what, `${name} must be a positive integer, got ${n}`);
    return String(n);
  }
}

/** `--name=value`: a value starting with `-` cannot be mistaken for a flag. */
function flag(name: string, value: string): string {
  return `--${name}=${value}`;
}

function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** `errors[].message` from a JSON summary bt printed alongside a failure. */
function summaryErrors(output: unknown): string[] {
  const errors = (output as { errors?: unknown } | null | undefined)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((e) => (typeof (e as { message?: unknown })?.message === 'string' ? [(e as { message: string }).message] : []));
}

function tryJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
