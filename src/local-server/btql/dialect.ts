/**
 * The Braintrust SQL dialect the flywheel writes and the local server speaks, as data.
 *
 * One row per construct: whether Braintrust documents it, where, what the local server does with it,
 * and an example query. The parser takes its error messages from here (`dialectError`), the
 * contract tests (test/sql-dialect-contract.test.ts) run every example through the real `bt sql`
 * against the local server, and docs/sql-dialect.md carries the same table (`renderDialectTable`,
 * checked by a test). The local server must never be more lenient than the real service: a
 * construct Braintrust does not document in SQL mode is a 400 naming it and what to use instead.
 *
 * In `example`, `{P}` is the project id and `{W}` the range filter strict lint requires.
 */
import { QueryError } from './ast.js';

export const SQL_REFERENCE = 'https://www.braintrust.dev/docs/reference/sql';
export const SQL_FUNCTIONS = 'https://www.braintrust.dev/docs/reference/sql/functions';
export const BTQL_REFERENCE = 'https://www.braintrust.dev/docs/reference/btql';
const BT = 'https://gh.040729.xyz/braintrustdata/bt/blob/v0.12.0/src';
/** Constructs known from the reference notes (shared/reference/bt-cli.md, "What the real service documents") rather than a page read here. */
const PER_NOTES = `${SQL_FUNCTIONS} (as listed in shared/reference/bt-cli.md; syntax not re-checked)`;

export type Documented = 'yes' | 'no' | 'btql-only' | 'unclear';
export type LocalBehaviour = 'supported' | 'rejected' | 'not-implemented';

export interface DialectRow {
  /** Stable key (used by the parser and the tests). */
  id: string;
  /** The construct as a reader would look it up. */
  construct: string;
  /** Whether Braintrust documents it for SQL mode. */
  documented: Documented;
  /** Where that is established. */
  source: string;
  /** What the local server does: runs it, refuses it (400), or refuses it as documented-but-not-implemented-here (400). */
  local: LocalBehaviour;
  /** A query using it (`{P}` project id, `{W}` range filter). */
  example: string;
  /** For refused constructs: what to write instead (part of the 400 message). */
  instead?: string;
  /** For refused constructs: text the 400 message contains (names the construct). */
  names?: string;
}

const W = '{W}';
const FROM = "FROM project_logs('{P}')";

export const DIALECT: readonly DialectRow[] = [
  {
    id: 'ternary',
    construct: 'conditional `(cond ? a : b)`',
    documented: 'yes',
    source: `${SQL_FUNCTIONS} and ${BTQL_REFERENCE} (operators: ternary); bt ${BT}/topics/api.rs sends \`count((pred) ? 1 : null)\` (pipe-syntax measures)`,
    local: 'supported',
    example: `SELECT count((scores.helpful = 1) ? 1 : null) AS helpful, sum((error IS NULL) ? 0 : 1) AS errors ${FROM} WHERE is_root = true AND ${W}`,
  },
  {
    id: 'count_distinct',
    construct: '`count_distinct(expr)`',
    documented: 'yes',
    source: `${SQL_FUNCTIONS} (aggregate functions); bt ${BT}/topics/api.rs sends it (pipe-syntax measures)`,
    local: 'supported',
    example: `SELECT count_distinct(root_span_id) AS traces ${FROM} WHERE ${W}`,
  },
  {
    id: 'any_value',
    construct: '`any_value(expr)`',
    documented: 'yes',
    source: PER_NOTES,
    local: 'supported',
    example: `SELECT metadata.model AS model, any_value(root_span_id) AS example ${FROM} WHERE is_root = true AND ${W} GROUP BY metadata.model`,
  },
  {
    id: 'in_array',
    construct: 'array membership `tags IN (…)` / `NOT IN`',
    documented: 'yes',
    source: `${SQL_FUNCTIONS} (text-matching operators: "for exact array membership in SQL mode, use IN and NOT IN")`,
    local: 'supported',
    example: `SELECT id ${FROM} WHERE is_root = true AND tags IN ('web') AND ${W}`,
  },
  {
    id: 'match',
    construct: "word match `field MATCH 'words'`",
    documented: 'yes',
    source: `${SQL_REFERENCE} and shared/seed/references/bt-sql-patterns.md ("MATCH for full-word search": exact word matches on one field); bt ${BT}/traces.rs \`build_summary_filter\` sends \`<field> MATCH '<text>'\``,
    local: 'supported',
    example: `SELECT id ${FROM} WHERE is_root = true AND error MATCH 'timeout CALLING' AND ${W} ORDER BY id`,
  },
  {
    id: 'search',
    construct: "full-text `search('words')`",
    documented: 'yes',
    source: `shared/seed/references/bt-sql-patterns.md ("search() is equivalent to writing input MATCH query OR output MATCH query OR ... for each text field"); the text fields are bt's ${BT}/traces.rs \`TRACE_TEXT_SEARCH_FIELDS\` (input, expected, metadata, tags, output, span_attributes) — whether \`error\` is one is not documented, so locally it is not (use \`error MATCH\`)`,
    local: 'supported',
    example: `SELECT id ${FROM} WHERE is_root = true AND search('ROUTER answer') AND ${W} ORDER BY id LIMIT 3`,
  },
  {
    id: 'string_literal',
    construct: "string literal `'…'` with `''` for a quote",
    documented: 'yes',
    source: `${SQL_REFERENCE}; bt ${BT}/traces.rs and ${BT}/sync.rs \`sql_quote\` (doubles \`'\`, nothing else)`,
    local: 'supported',
    example: `SELECT 'it''s -- not a comment /* nor this */; still text' AS s ${FROM} WHERE ${W} LIMIT 1`,
  },
  {
    id: 'quoted_identifier',
    construct: 'quoted field name `scores."My ""Score"""`',
    documented: 'yes',
    source: `${BTQL_REFERENCE} ("escape field names with double quotes"); bt ${BT}/sync.rs \`btql_identifier_segment\` (doubles \`"\`)`,
    local: 'supported',
    example: `SELECT scores."Response Quality" AS rq ${FROM} WHERE is_root = true AND ${W} LIMIT 1`,
  },
  {
    id: 'backslash',
    construct: 'a backslash inside a quoted literal or name (SQL mode)',
    documented: 'unclear',
    source: `${SQL_REFERENCE} does not say whether \`\\\` escapes; bt's \`sql_quote\` leaves it as is`,
    local: 'rejected',
    names: 'a backslash inside quotes',
    instead:
      "Braintrust does not document whether a backslash inside quotes is an escape, so the same text could mean two different values; write the value without a backslash (the flywheel's builders match such values with LIKE, '_' standing for the backslash, and compare exactly afterwards)",
    example: `SELECT id ${FROM} WHERE error = 'file not found: C:\\temp\\' AND ${W}`,
  },
  {
    id: 'case',
    construct: '`CASE WHEN … THEN … END`',
    documented: 'no',
    source: `${SQL_FUNCTIONS} (conditionals are the ternary)`,
    local: 'rejected',
    names: 'CASE',
    instead: 'use the ternary (cond ? a : b), e.g. count((x > 0) ? 1 : null)',
    example: `SELECT sum(CASE WHEN error IS NULL THEN 0 ELSE 1 END) AS errors ${FROM} WHERE ${W}`,
  },
  {
    id: 'count_distinct_kw',
    construct: '`COUNT(DISTINCT …)` (DISTINCT inside any aggregate)',
    documented: 'no',
    source: `${SQL_FUNCTIONS} (distinct counts are count_distinct)`,
    local: 'rejected',
    names: 'COUNT(DISTINCT',
    instead: 'use count_distinct(expr)',
    example: `SELECT COUNT(DISTINCT root_span_id) AS traces ${FROM} WHERE ${W}`,
  },
  {
    id: 'cast',
    construct: '`CAST(x AS type)`',
    documented: 'no',
    source: `${SQL_FUNCTIONS} (no CAST)`,
    local: 'rejected',
    names: 'CAST',
    instead: 'compare the field directly (numbers and strings compare by value) or use a documented function',
    example: `SELECT CAST(metrics.tokens AS int) AS t ${FROM} WHERE ${W} LIMIT 1`,
  },
  {
    id: 'cast_op',
    construct: '`x::type`',
    documented: 'no',
    source: `${SQL_FUNCTIONS} (no casts)`,
    local: 'rejected',
    names: "'::'",
    instead: 'compare the field directly (numbers and strings compare by value) or use a documented function',
    example: `SELECT metrics.tokens::int AS t ${FROM} WHERE ${W} LIMIT 1`,
  },
  {
    id: 'includes',
    construct: '`INCLUDES` / `NOT INCLUDES` (SQL mode)',
    documented: 'btql-only',
    source: `${SQL_FUNCTIONS} ("INCLUDES, NOT INCLUDES, and CONTAINS are BTQL-only operators and raise a syntax error in SQL mode")`,
    local: 'rejected',
    names: 'INCLUDES',
    instead: "use IN / NOT IN for array membership, e.g. tags IN ('value') (INCLUDES belongs to the pipe syntax)",
    example: `SELECT id ${FROM} WHERE tags INCLUDES 'web' AND ${W}`,
  },
  {
    id: 'contains',
    construct: '`CONTAINS` (SQL mode)',
    documented: 'btql-only',
    source: `${SQL_FUNCTIONS} (BTQL-only, a syntax error in SQL mode)`,
    local: 'rejected',
    names: 'CONTAINS',
    instead: "use IN / NOT IN for array membership, e.g. tags IN ('value') (CONTAINS belongs to the pipe syntax)",
    example: `SELECT id ${FROM} WHERE tags CONTAINS 'web' AND ${W}`,
  },
  {
    id: 'pipe_includes',
    construct: 'pipe syntax `filter: tags includes …`',
    documented: 'btql-only',
    source: `${BTQL_REFERENCE}; bt ${BT}/traces.rs and ${BT}/sync.rs send the pipe syntax`,
    local: 'supported',
    example: `select: id | from: project_logs('{P}') spans | filter: tags includes 'web' and ${W} | limit: 5`,
  },
  {
    id: 'join',
    construct: 'joins',
    documented: 'no',
    source: `${SQL_REFERENCE} (joins, subqueries, unions and window functions are not supported)`,
    local: 'rejected',
    names: 'joins',
    instead: 'query each source on its own',
    example: `SELECT a.id ${FROM} a JOIN dataset('x') b ON a.id = b.id WHERE ${W}`,
  },
  {
    id: 'subquery',
    construct: 'subqueries',
    documented: 'no',
    source: `${SQL_REFERENCE} (no subqueries)`,
    local: 'rejected',
    names: 'subqueries',
    instead: 'run two queries',
    example: `SELECT id ${FROM} WHERE id IN (SELECT id ${FROM} WHERE ${W}) AND ${W}`,
  },
  {
    id: 'any_span',
    construct: '`ANY_SPAN(…)`',
    documented: 'yes',
    source: PER_NOTES,
    local: 'not-implemented',
    names: 'ANY_SPAN',
    instead: "run it against Braintrust, or locally filter with WHERE on project_logs('<id>', shape => 'traces')",
    example: `SELECT id FROM project_logs('{P}', shape => 'traces') WHERE ANY_SPAN(span_attributes.type = 'tool') AND ${W}`,
  },
  {
    id: 'filter_spans',
    construct: '`FILTER_SPANS(…)`',
    documented: 'yes',
    source: PER_NOTES,
    local: 'not-implemented',
    names: 'FILTER_SPANS',
    instead: "run it against Braintrust, or locally filter spans with WHERE on the spans shape",
    example: `SELECT id FROM project_logs('{P}', shape => 'traces') WHERE FILTER_SPANS(span_attributes.type = 'tool') AND ${W}`,
  },
  {
    id: 'json_extract',
    construct: '`json_extract(field, path)`',
    documented: 'yes',
    source: `${SQL_FUNCTIONS} (JSON functions)`,
    local: 'not-implemented',
    names: 'JSON_EXTRACT',
    instead: 'use dotted paths such as metadata.key on native objects, or run it against Braintrust',
    example: `SELECT json_extract(output, '$.answer') AS a ${FROM} WHERE ${W} LIMIT 1`,
  },
  {
    id: 'estimated_cost',
    construct: '`estimated_cost()`',
    documented: 'yes',
    source: PER_NOTES,
    local: 'not-implemented',
    names: 'ESTIMATED_COST',
    instead: 'read token counts from metrics on LLM spans, or run it against Braintrust',
    example: `SELECT sum(estimated_cost()) AS cost ${FROM} WHERE ${W}`,
  },
  {
    id: 'null_safe_eq',
    construct: '`a <=> b`',
    documented: 'yes',
    source: PER_NOTES,
    local: 'not-implemented',
    names: '<=>',
    instead: 'use = together with IS NULL, or run it against Braintrust',
    example: `SELECT id ${FROM} WHERE metadata.model <=> 'gpt-small' AND ${W}`,
  },
];

const byId = new Map(DIALECT.map((r) => [r.id, r]));

export function dialectRow(id: string): DialectRow {
  const r = byId.get(id);
  if (!r) throw new Error(`no dialect row '${id}'`);
  return r;
}

/** The 400 for a construct the local server refuses: names it, says why and what to use instead. */
export function dialectError(id: string): QueryError {
  const r = dialectRow(id);
  const what = r.names ?? r.construct;
  if (r.local === 'not-implemented') {
    return new QueryError(`${what} is documented by Braintrust but not implemented by the local server: ${r.instead ?? ''}`.trim());
  }
  const why =
    r.documented === 'btql-only'
      ? 'is BTQL-only (pipe syntax) and a syntax error in Braintrust SQL mode'
      : r.documented === 'unclear'
        ? 'is refused by the local server'
        : 'is not part of Braintrust SQL (not documented)';
  return new QueryError(`unsupported: ${what} ${why}: ${r.instead ?? ''}`.trim());
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The table as Markdown (docs/sql-dialect.md carries exactly this between its markers). */
export function renderDialectTable(): string {
  const lines = [
    '| construct | documented | local server | example | source |',
    '|---|---|---|---|---|',
    ...DIALECT.map((r) => {
      const local = r.local === 'supported' ? 'runs' : r.local === 'rejected' ? `400: ${r.instead ?? ''}` : `400 (not implemented locally): ${r.instead ?? ''}`;
      return `| ${cell(r.construct)} | ${r.documented} | ${cell(local)} | \`\`${cell(r.example)}\`\` | ${cell(r.source)} |`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}

export const DIALECT_DOC_BEGIN = '<!-- BEGIN GENERATED: src/local-server/btql/dialect.ts -->';
export const DIALECT_DOC_END = '<!-- END GENERATED -->';
