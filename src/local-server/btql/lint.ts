/**
 * Lint rules of the service's query linter. Under `lint_mode: "strict"` (what `bt sql` sends) a failing rule is
 * a 400; otherwise it comes back in the response's `warnings`.
 */
import type { Expr, Query } from './ast.js';

export interface Lint {
  code: string;
  stage: string;
  severity: 'warning';
  message: string;
}

/** Rows per response the service allows (bt 0.12.0 src/sync.rs: "BTQL currently enforces limit <= 1000"). */
export const MAX_LIMIT = 1000;
/** Largest LIMIT a query selecting large fields may use without the large-field lint. */
export const LARGE_FIELD_MAX_LIMIT = 100;
/** Whole-document fields: selecting them (or `*`) reads full span documents. */
export const LARGE_FIELDS = new Set(['input', 'output', 'expected', 'metadata']);

export const SEGMENT_ELIMINATION_RULE =
  'No filters available for segment elimination. Add a range filter on created, _xact_id, or _pagination_key, or scope to a specific root_span_id or id.';

const RANGE_FIELDS = new Set(['created', '_xact_id', '_pagination_key']);
const SCOPE_FIELDS = new Set(['root_span_id', 'id']);

function isField(e: Expr, names: Set<string>): boolean {
  return e.k === 'ident' && e.path.length === 1 && names.has(e.path[0]!);
}

/** True when the predicate alone bounds the scan (a range on a segment key, or a specific trace/row). */
function bounds(e: Expr): boolean {
  switch (e.k) {
    case 'bin':
      if (e.op === 'and') return bounds(e.l) || bounds(e.r);
      if (e.op === 'or') return bounds(e.l) && bounds(e.r);
      if (['<', '<=', '>', '>=', '='].includes(e.op)) {
        if (isField(e.l, RANGE_FIELDS) || isField(e.r, RANGE_FIELDS)) return true;
      }
      if (e.op === '=') return isField(e.l, SCOPE_FIELDS) || isField(e.r, SCOPE_FIELDS);
      return false;
    case 'in':
      return !e.not && isField(e.e, SCOPE_FIELDS);
    default:
      return false;
  }
}

function segmentElimination(q: Query): Lint[] {
  if (q.from.fn !== 'project_logs') return [];
  if (q.where && bounds(q.where)) return [];
  return [{ code: 'missingSegmentEliminationSpecs', stage: 'optimizer', severity: 'warning', message: SEGMENT_ELIMINATION_RULE }];
}

/** Large fields in the select list: `*`, or a whole `input`/`output`/`expected`/`metadata` (sub-paths are small). */
export function largeFieldsSelected(q: Query): string[] {
  const out: string[] = [];
  for (const item of q.select) {
    if (item.expr.k === 'star') out.push('*');
    else if (item.expr.k === 'ident' && item.expr.path.length === 1 && LARGE_FIELDS.has(item.expr.path[0]!)) out.push(item.expr.path[0]!);
  }
  return out;
}

/**
 * Row reads of full documents need a small page: LIMIT ≤ 100, continued with `OFFSET '<cursor>'`. Grouped queries
 * are exempt. `effectiveLimit` is the LIMIT the query runs with (the default when it has none).
 */
function largeFields(q: Query, effectiveLimit: number): Lint[] {
  if (q.groupBy.length > 0 || q.having !== undefined) return [];
  const fields = largeFieldsSelected(q);
  if (fields.length === 0 || effectiveLimit <= LARGE_FIELD_MAX_LIMIT) return [];
  const limitText = q.limit === undefined ? `no LIMIT (default ${effectiveLimit})` : `LIMIT ${q.limit}`;
  return [
    {
      code: 'largeFieldsWithoutSmallLimit',
      stage: 'optimizer',
      severity: 'warning',
      message: `The query selects large fields (${fields.join(', ')}) with ${limitText}, which retrieves full span documents. Use LIMIT ${LARGE_FIELD_MAX_LIMIT} or less and page with ORDER BY _pagination_key and OFFSET '<cursor>'.`,
    },
  ];
}

/** Every failing rule (empty when the query passes). */
export function lintQuery(q: Query, effectiveLimit: number): Lint[] {
  return [...segmentElimination(q), ...largeFields(q, effectiveLimit)];
}

/** Returns the failing strict-mode rule texts (empty when the query passes). */
export function strictLintFailures(q: Query, effectiveLimit = q.limit ?? MAX_LIMIT): string[] {
  return lintQuery(q, effectiveLimit).map((l) => l.message);
}

/** The service's 400 text for a strict-mode block (bt 0.12.0 parses `Query blocked by strict lint mode due to`). */
export function strictLintMessage(failures: Array<string | Lint>): string {
  const lines = failures.map((f) =>
    typeof f === 'string' ? `missingSegmentEliminationSpecs (optimizer/warning): ${f}` : `${f.code} (${f.stage}/${f.severity}): ${f.message}`,
  );
  return `Query blocked by strict lint mode due to ${failures.length} lint:\n${lines.join('\n')}`;
}
