/**
 * Safe builders for the Braintrust SQL the flywheel writes (shared/seed/references/bt-sql-patterns.md).
 * Only documented syntax (docs/sql-dialect.md, src/local-server/btql/dialect.ts).
 *
 * The quoting contract (docs/sql-dialect.md, "Quoting"):
 * - a string literal is `'…'` with `'` doubled, an identifier `"…"` with `"` doubled: what bt 0.12.0
 *   itself emits (`sql_quote` in src/traces.rs and src/sync.rs, `btql_identifier_segment` in
 *   src/sync.rs) and what Braintrust's reference shows;
 * - a backslash or NUL is never emitted inside quotes. Braintrust does not document whether a
 *   backslash inside quotes is an escape (standard SQL reads it as itself; backslash-escaping
 *   dialects read `\'` as a quote, which is how `C:\temp\` became an unterminated literal and
 *   `x\' OR … --` an injection). Text without a backslash reads the same under both conventions, so
 *   `sqlString`/`sqlIdent` refuse one (SqlBuildError) and `textEquals` matches such a value with
 *   LIKE, `_` standing for each backslash/NUL/`%`/`_`, for the caller to compare exactly afterwards.
 *   The local server refuses quoted backslashes in SQL mode, so it cannot be more lenient.
 */

/** Thrown for values that cannot be put into a query safely (NUL, backslash, non-integers, empty names). */
export class SqlBuildError extends TypeError {
  override readonly name = 'SqlBuildError';
}

/** Characters never emitted inside quotes (see the quoting contract above). */
const UNQUOTABLE = /[\\\0]/;

function checkQuotable(what: string, s: string): void {
  if (typeof s !== 'string') throw new SqlBuildError(`${what} must be a string`);
  if (s.includes('\0')) throw new SqlBuildError(`${what} contains a NUL character`);
  if (s.includes('\\')) {
    throw new SqlBuildError(
      `${what} contains a backslash, whose meaning inside quotes Braintrust SQL does not document; match it with textEquals (LIKE, then an exact comparison)`,
    );
  }
}

/** Whether `sqlString` / `sqlIdent` can quote this text (no backslash, no NUL). */
export function isQuotable(s: string): boolean {
  return typeof s === 'string' && !UNQUOTABLE.test(s);
}

/** A single-quoted string literal: `it's` → `'it''s'`. Rejects NUL and backslashes. */
export function sqlString(s: string): string {
  checkQuotable('SQL string', s);
  return `'${s.replaceAll("'", "''")}'`;
}

/** A double-quoted identifier segment: `My "Score"` → `"My ""Score"""`. Rejects NUL, backslashes and empty names. */
export function sqlIdent(name: string): string {
  checkQuotable('SQL identifier', name);
  if (name.length === 0) throw new SqlBuildError('SQL identifier is empty');
  return `"${name.replaceAll('"', '""')}"`;
}

/** An equality test on a text field that works for every string (see the quoting contract). */
export interface TextMatch {
  /** The SQL condition. */
  sql: string;
  /** True when `sql` alone selects exactly the equal rows; false when it is a LIKE superset. */
  exact: boolean;
  /** The exact comparison to apply to the field's value in each returned row. */
  matches(value: string): boolean;
}

/**
 * `field = '<value>'`, or for a value with a backslash or NUL, `field LIKE '<pattern>'` where every
 * backslash, NUL, `%` and `_` is `_` (one character): a superset the caller narrows with `matches`.
 * `field` must itself come from a builder (`fieldPath`, a known column name).
 */
export function textEquals(field: string, value: string): TextMatch {
  if (typeof value !== 'string') throw new SqlBuildError('textEquals value must be a string');
  const matches = (v: string) => v === value;
  if (isQuotable(value)) return { sql: `${field} = ${sqlString(value)}`, exact: true, matches };
  const pattern = value.replace(/[\\\0%_]/g, '_');
  return { sql: `${field} LIKE ${sqlString(pattern)}`, exact: false, matches };
}

const SIMPLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A nested field path. The first segment (a column such as `scores`, `metrics`, `metadata`,
 * `facets`) stays bare when it is a plain identifier; every later segment is quoted:
 * `fieldPath('scores', 'My "Score"')` → `scores."My ""Score"""`.
 */
export function fieldPath(column: string, ...segments: string[]): string {
  const head = SIMPLE.test(column) ? column : sqlIdent(column);
  return [head, ...segments.map(sqlIdent)].join('.');
}

/** A number literal (finite only). */
export function sqlNumber(n: number): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new SqlBuildError(`SQL number must be finite, got ${String(n)}`);
  return String(n);
}

/** A positive integer (limits, day counts). */
export function sqlPositiveInt(what: string, n: number): string {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new SqlBuildError(`${what} must be a positive integer, got ${String(n)}`);
  return String(n);
}

/** Full-text search across all text fields: `search('term')`. */
export function searchCall(term: string): string {
  return `search(${sqlString(wordsOnly(term))})`;
}

/** MATCH / search() look for words: a backslash or NUL separates words, so it becomes a space. */
function wordsOnly(term: string): string {
  if (typeof term !== 'string') throw new SqlBuildError('search term must be a string');
  return term.replace(/[\\\0]/g, ' ');
}

/** Word match on one field: `input MATCH 'term'`. */
export function matchClause(field: string, term: string): string {
  return `${field} MATCH ${sqlString(wordsOnly(term))}`;
}

/** `created >= NOW() - INTERVAL <days> day`: the range filter strict lint requires on project_logs(). */
export function since(days: number): string {
  return `created >= NOW() - INTERVAL ${sqlPositiveInt('days', days)} day`;
}

/** `created < NOW() - INTERVAL <days> day`: the upper bound of an older window. */
export function before(days: number): string {
  return `created < NOW() - INTERVAL ${sqlPositiveInt('days', days)} day`;
}

export type LogsShape = 'spans' | 'traces' | 'summary';

/** `project_logs('<id>')`, or `project_logs('<id>', shape => 'traces')`. */
export function projectLogs(projectId: string, shape: LogsShape = 'spans'): string {
  return shape === 'spans'
    ? `project_logs(${sqlString(projectId)})`
    : `project_logs(${sqlString(projectId)}, shape => ${sqlString(shape)})`;
}

export function experimentSource(experimentId: string): string {
  return `experiment(${sqlString(experimentId)})`;
}

export function datasetSource(datasetId: string): string {
  return `dataset(${sqlString(datasetId)})`;
}

// --- seed query templates -------------------------------------------------------------------------

export interface WindowOptions {
  /** Days back from now (default 7). */
  days?: number;
  /** Row limit (default 20). */
  limit?: number;
}

const win = (o: WindowOptions, days = 7, limit = 20) => ({
  since: since(o.days ?? days),
  limit: sqlPositiveInt('limit', o.limit ?? limit),
});

/** One root span, to discover the column set (try 1 day, then 7, then 30). */
export function schemaDiscoveryQuery(projectId: string, days = 1): string {
  return `SELECT * FROM ${projectLogs(projectId)} WHERE is_root = true AND ${since(days)} LIMIT 1`;
}

/** Root spans with an error. */
export function errorsQuery(projectId: string, opts: WindowOptions = {}): string {
  const w = win(opts);
  return `SELECT id, error FROM ${projectLogs(projectId)} WHERE is_root = true AND error IS NOT NULL AND ${w.since} LIMIT ${w.limit}`;
}

/** Root spans whose score is at or below a threshold (default 0.5). */
export function lowScoresQuery(projectId: string, score: string, opts: WindowOptions & { threshold?: number } = {}): string {
  const w = win(opts);
  const col = fieldPath('scores', score);
  return `SELECT id, ${col} FROM ${projectLogs(projectId)} WHERE is_root = true AND ${col} <= ${sqlNumber(opts.threshold ?? 0.5)} AND ${w.since} LIMIT ${w.limit}`;
}

/** Root spans slower than a threshold on a metric (default `metrics.duration_ms > 10000`), slowest first. */
export function highLatencyQuery(
  projectId: string,
  opts: WindowOptions & { thresholdMs?: number; metric?: string } = {},
): string {
  const w = win(opts);
  const col = fieldPath('metrics', opts.metric ?? 'duration_ms');
  return `SELECT id, ${col} FROM ${projectLogs(projectId)} WHERE is_root = true AND ${col} > ${sqlNumber(opts.thresholdMs ?? 10000)} AND ${w.since} ORDER BY ${col} DESC LIMIT ${w.limit}`;
}

/** Count of root spans per score value (spots scorers stuck at 0 or 1). */
export function scoreDistributionQuery(projectId: string, score: string, opts: { days?: number } = {}): string {
  const col = fieldPath('scores', score);
  return `SELECT ${col}, COUNT(*) AS count FROM ${projectLogs(projectId)} WHERE is_root = true AND ${since(opts.days ?? 7)} GROUP BY ${col} ORDER BY ${col}`;
}

/** Count of traces per facet value (facets need the traces shape). */
export function facetDistributionQuery(projectId: string, facet: string, opts: { days?: number } = {}): string {
  const col = fieldPath('facets', facet);
  return `SELECT ${col}, COUNT(*) AS count FROM ${projectLogs(projectId, 'traces')} WHERE ${since(opts.days ?? 7)} GROUP BY ${col} ORDER BY count DESC`;
}

/** Root spans matching a full-text search term. */
export function searchLogsQuery(projectId: string, term: string, opts: WindowOptions = {}): string {
  const w = win(opts);
  return `SELECT id, input, output FROM ${projectLogs(projectId)} WHERE is_root = true AND ${searchCall(term)} AND ${w.since} LIMIT ${w.limit}`;
}

/** Sample experiment rows with one score and the output. */
export function experimentRowsQuery(experimentId: string, score: string, opts: { limit?: number } = {}): string {
  return `SELECT id, ${fieldPath('scores', score)}, output FROM ${experimentSource(experimentId)} LIMIT ${sqlPositiveInt('limit', opts.limit ?? 20)}`;
}

/** AVG/MIN/MAX of one score over an experiment (aliases avg_score, min_score, max_score). */
export function experimentScoreStatsQuery(experimentId: string, score: string): string {
  const col = fieldPath('scores', score);
  return `SELECT AVG(${col}) AS avg_score, MIN(${col}) AS min_score, MAX(${col}) AS max_score FROM ${experimentSource(experimentId)}`;
}

/** Experiment rows whose score is below a threshold (default 0.5). */
export function experimentRegressionsQuery(experimentId: string, score: string, opts: { threshold?: number } = {}): string {
  const col = fieldPath('scores', score);
  return `SELECT id, ${col} FROM ${experimentSource(experimentId)} WHERE ${col} < ${sqlNumber(opts.threshold ?? 0.5)}`;
}

/** Count of experiment rows per score value. */
export function experimentScoreDistributionQuery(experimentId: string, score: string): string {
  const col = fieldPath('scores', score);
  return `SELECT ${col}, COUNT(*) AS count FROM ${experimentSource(experimentId)} GROUP BY ${col} ORDER BY ${col}`;
}

// --- paging ---------------------------------------------------------------------------------------

/** Rows per query the service allows ("BTQL currently enforces limit <= 1000", bt 0.12.0 src/sync.rs). */
export const SQL_MAX_LIMIT = 1000;
/** Page size for queries that select large fields (input, output, expected, metadata, `*`). */
export const LARGE_FIELD_PAGE_SIZE = 100;

export type PageOrder = 'asc' | 'desc';

/**
 * One page of a cursor-paged query: `<base> ORDER BY _pagination_key <dir> LIMIT n [OFFSET '<cursor>']`.
 * `base` is `SELECT … FROM … [WHERE …]` with no ORDER BY / LIMIT of its own. The cursor is the opaque token of
 * the previous response.
 */
export function pageQuery(base: string, page: { limit: number; cursor?: string | null; order?: PageOrder }): string {
  const limit = sqlPositiveInt('limit', page.limit);
  if (page.limit > SQL_MAX_LIMIT) throw new SqlBuildError(`limit must be at most ${SQL_MAX_LIMIT}, got ${page.limit}`);
  if (/\b(ORDER\s+BY|LIMIT|OFFSET)\b/i.test(base.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"/g, "''")))
    throw new SqlBuildError('a paged query must not carry its own ORDER BY, LIMIT or OFFSET');
  const dir = (page.order ?? 'asc') === 'desc' ? 'DESC' : 'ASC';
  const offset = page.cursor ? ` OFFSET ${sqlString(page.cursor)}` : '';
  return `${base.trim()} ORDER BY _pagination_key ${dir} LIMIT ${limit}${offset}`;
}
