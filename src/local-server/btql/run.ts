/** Executes a BTQL request body against the store and shapes the response the way Braintrust does. */
import type { Store } from '../store.js';
import { type Query, QueryError } from './ast.js';
import { type Lint, MAX_LIMIT, lintQuery, strictLintMessage } from './lint.js';
import { queryFromObject } from './object-query.js';
import { parseQuery } from './parser.js';
import { type ResolvedSource, encodeCursor, schemaFor, translate } from './translate.js';

/**
 * Largest page a query without LIMIT returns; a cursor continues it. The service documents a default limit without
 * its value; it cannot exceed the enforced maximum, so the maximum is used.
 */
export const DEFAULT_ROW_LIMIT = MAX_LIMIT;

export class LintError extends Error {}

export interface BtqlResponse {
  data: Array<Record<string, unknown>>;
  schema: Record<string, unknown>;
  cursor?: string | null;
  /** Lint findings of a query that was not blocked (`lint_mode` other than strict). */
  warnings?: Lint[];
}

function truncate(v: unknown, n: number): unknown {
  if (typeof v === 'string') return v.length > n ? `${v.slice(0, n)}…` : v;
  if (Array.isArray(v)) return v.map((x) => truncate(x, n));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = truncate(x, n);
    return out;
  }
  return v;
}

export async function resolveSource(store: Store, q: Query): Promise<ResolvedSource> {
  const { fn, id } = q.from;
  if (fn === 'project_logs' || fn === 'project_functions') {
    const p = await store.getProject(id);
    if (!p) throw new QueryError(`project '${id}' not found`);
    return { kind: fn, objectId: p.id };
  }
  if (fn === 'experiment') {
    if (!(await store.getExperiment(id))) throw new QueryError(`experiment '${id}' not found`);
    return { kind: fn, objectId: id };
  }
  if (!(await store.getDataset(id))) throw new QueryError(`dataset '${id}' not found`);
  return { kind: fn, objectId: id };
}

export function parseBtqlBody(body: Record<string, unknown>): Query {
  const raw = body.query;
  if (typeof raw === 'string') return parseQuery(raw);
  if (raw && typeof raw === 'object') return queryFromObject(raw);
  throw new QueryError('query is required');
}

export async function runBtql(store: Store, body: Record<string, unknown>, now = new Date()): Promise<BtqlResponse> {
  const q = parseBtqlBody(body);
  if (q.limit !== undefined && q.limit > MAX_LIMIT) {
    throw new QueryError(`LIMIT ${q.limit} exceeds the maximum of ${MAX_LIMIT} rows per query; page with ORDER BY _pagination_key and OFFSET '<cursor>'`);
  }
  const isAggLike = q.groupBy.length > 0 || q.having !== undefined;
  const lints = lintQuery(q, q.limit ?? (isAggLike ? MAX_LIMIT : DEFAULT_ROW_LIMIT));
  if (lints.length && (body.lint_mode === 'strict' || body.strict_lint_mode === true)) throw new LintError(strictLintMessage(lints));
  const src = await resolveSource(store, q);
  if (q.limit === undefined && !isAggLike) q.limit = DEFAULT_ROW_LIMIT;
  const tr = translate(q, src, now);
  let raw: Array<Record<string, unknown>>;
  try {
    raw = await store.readJson(tr.sql);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0] ?? 'query failed';
    throw new QueryError(`query failed: ${msg}`);
  }
  const previewLength = q.previewLength !== undefined && q.previewLength >= 0 ? q.previewLength : undefined;
  let lastKey: unknown;
  const traceKeys = new Set<string>();
  const data = raw.map((r) => {
    const row: Record<string, unknown> = {};
    tr.columns.forEach((c, i) => {
      const v = r[`c${i}`];
      row[c.name] = previewLength !== undefined ? truncate(v, previewLength) : v;
    });
    if (tr.hasExtra && r.__x && typeof r.__x === 'object') {
      for (const [k, v] of Object.entries(r.__x as Record<string, unknown>)) if (!(k in row)) row[k] = v;
    }
    if (tr.hasPagingKey) {
      lastKey = r.__k;
      traceKeys.add(String(r.__k));
    }
    return row;
  });
  const resp: BtqlResponse = {
    data,
    schema: {
      type: 'array',
      items: { type: 'object', properties: Object.fromEntries(tr.columns.map((c) => [c.name, schemaFor(c.t)])) },
    },
  };
  if (tr.paging && lastKey !== undefined && lastKey !== null) {
    const seen = tr.traceKeyed ? traceKeys.size : data.length;
    resp.cursor = seen >= tr.paging.limit ? encodeCursor(String(lastKey)) : null;
  } else resp.cursor = null;
  if (lints.length) resp.warnings = lints;
  return resp;
}
