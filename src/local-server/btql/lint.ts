/** The strict-mode lint rule the real service enforces for `bt sql` (lint_mode: "strict"). */
import type { Expr, Query } from './ast.js';

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

/** Returns the failing rule texts (empty when the query passes). */
export function strictLintFailures(q: Query): string[] {
  if (q.from.fn !== 'project_logs') return [];
  if (q.where && bounds(q.where)) return [];
  return [SEGMENT_ELIMINATION_RULE];
}

export function strictLintMessage(failures: string[]): string {
  return `Query blocked by strict lint mode due to ${failures.length} lint:\n${failures
    .map((f) => `missingSegmentEliminationSpecs (optimizer/warning): ${f}`)
    .join('\n')}`;
}
