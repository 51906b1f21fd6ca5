/**
 * Translates the BTQL AST into one DuckDB SQL statement over the local store.
 *
 * Every user value ends up as an escaped SQL string/number literal produced here; identifiers are
 * never spliced in: known fields map to fixed column names and everything else becomes a JSON path
 * literal. Nested fields live in JSON columns, so each expression carries a static type that decides
 * how it is coerced (numbers for comparisons with numbers, strings for LIKE/MATCH, …).
 */
import { type Expr, type OrderItem, type Query, QueryError, type SelectItem } from './ast.js';
import { dialectError } from './dialect.js';

export type T = 'num' | 'str' | 'bool' | 'ts' | 'json' | 'interval' | 'null' | 'xact' | 'pkey';

interface X {
  sql: string;
  t: T;
  agg: boolean;
}

export interface ColumnDef {
  col: string;
  t: T;
}

/** Fields of object rows (project logs, experiments, datasets). */
export const ROW_FIELDS: Record<string, ColumnDef> = {
  id: { col: 'id', t: 'str' },
  _xact_id: { col: '_xact_id', t: 'xact' },
  _pagination_key: { col: '_pk', t: 'pkey' },
  created: { col: 'created', t: 'ts' },
  org_id: { col: 'org_id', t: 'str' },
  project_id: { col: 'project_id', t: 'str' },
  experiment_id: { col: 'experiment_id', t: 'str' },
  dataset_id: { col: 'dataset_id', t: 'str' },
  log_id: { col: 'log_id', t: 'str' },
  span_id: { col: 'span_id', t: 'str' },
  root_span_id: { col: 'root_span_id', t: 'str' },
  span_parents: { col: 'span_parents', t: 'json' },
  is_root: { col: 'is_root', t: 'bool' },
  input: { col: 'input', t: 'json' },
  output: { col: 'output', t: 'json' },
  expected: { col: 'expected', t: 'json' },
  error: { col: 'error', t: 'json' },
  scores: { col: 'scores', t: 'json' },
  metrics: { col: 'metrics', t: 'json' },
  metadata: { col: 'metadata', t: 'json' },
  tags: { col: 'tags', t: 'json' },
  context: { col: 'context', t: 'json' },
  span_attributes: { col: 'span_attributes', t: 'json' },
  origin: { col: 'origin', t: 'json' },
  facets: { col: 'facets', t: 'json' },
  classifications: { col: 'classifications', t: 'json' },
  comments: { col: 'comments', t: 'json' },
  audit_data: { col: 'audit_data', t: 'json' },
};

export const FUNCTION_FIELDS: Record<string, ColumnDef> = {
  id: { col: 'id', t: 'str' },
  _xact_id: { col: '_xact_id', t: 'xact' },
  created: { col: 'created', t: 'ts' },
  org_id: { col: 'org_id', t: 'str' },
  project_id: { col: 'project_id', t: 'str' },
  log_id: { col: 'log_id', t: 'str' },
  name: { col: 'name', t: 'str' },
  slug: { col: 'slug', t: 'str' },
  description: { col: 'description', t: 'str' },
  function_type: { col: 'function_type', t: 'str' },
  function_data: { col: 'function_data', t: 'json' },
  function_schema: { col: 'function_schema', t: 'json' },
  prompt_data: { col: 'prompt_data', t: 'json' },
  tags: { col: 'tags', t: 'json' },
  metadata: { col: 'metadata', t: 'json' },
  origin: { col: 'origin', t: 'json' },
};

const STAR_FIELDS: Record<string, string[]> = {
  project_logs: [
    'id', '_xact_id', '_pagination_key', 'created', 'org_id', 'project_id', 'log_id', 'span_id', 'root_span_id',
    'span_parents', 'is_root', 'input', 'output', 'expected', 'error', 'scores', 'metrics', 'metadata', 'tags',
    'context', 'span_attributes', 'origin', 'facets', 'classifications', 'comments', 'audit_data',
  ],
  experiment: [
    'id', '_xact_id', '_pagination_key', 'created', 'project_id', 'experiment_id', 'span_id', 'root_span_id',
    'span_parents', 'is_root', 'input', 'output', 'expected', 'error', 'scores', 'metrics', 'metadata', 'tags',
    'context', 'span_attributes', 'origin', 'facets', 'classifications', 'comments', 'audit_data',
  ],
  dataset: [
    'id', '_xact_id', '_pagination_key', 'created', 'project_id', 'dataset_id', 'span_id', 'root_span_id', 'is_root',
    'input', 'expected', 'metadata', 'tags', 'origin', 'facets', 'classifications', 'comments', 'audit_data',
  ],
  project_functions: [
    'id', '_xact_id', 'created', 'org_id', 'project_id', 'log_id', 'name', 'slug', 'description', 'function_type',
    'function_data', 'function_schema', 'prompt_data', 'tags', 'metadata', 'origin',
  ],
};

/**
 * Text fields `search()` looks in: those bt's own `--search` matches (TRACE_TEXT_SEARCH_FIELDS in bt's src/traces.rs).
 * Whether the service's search() also reads `error` is not documented, so it does not here (never more lenient).
 */
const SEARCH_FIELDS = ['input', 'expected', 'metadata', 'tags', 'output', 'span_attributes'];

export interface ResolvedSource {
  /** project_logs | experiment | dataset | project_functions */
  kind: 'project_logs' | 'experiment' | 'dataset' | 'project_functions';
  /** Resolved object id (project id for project_logs / project_functions). */
  objectId: string;
}

export interface OutColumn {
  name: string;
  t: T;
}

export interface Translation {
  sql: string;
  columns: OutColumn[];
  /** Whether rows carry `__k` (the paging key) and `__x` (extra fields). */
  hasPagingKey: boolean;
  hasExtra: boolean;
  /** Set when the result can be continued with a cursor. */
  paging?: { dir: 'asc' | 'desc'; limit: number };
  /** For traces shape, the paging key is a trace key; rows are grouped by trace. */
  traceKeyed: boolean;
}

export function sqlStr(s: string): string {
  if (s.includes('\u0000')) throw new QueryError('NUL characters are not allowed in literals');
  return `'${s.replace(/'/g, "''")}'`;
}

function sqlNum(n: number): string {
  if (!Number.isFinite(n)) throw new QueryError('numeric literal out of range');
  return Number.isInteger(n) && Math.abs(n) < 2 ** 53 ? String(n) : `CAST(${JSON.stringify(n)} AS DOUBLE)`;
}

/** A DuckDB JSON path; an all-digit segment is an array index unless it was written quoted (`quoted[i]`). */
export function jsonPath(segs: string[], quoted: boolean[] = []): string {
  let p = '$';
  for (const [i, s] of segs.entries()) {
    if (/^\d+$/.test(s) && !quoted[i]) p += `[${s}]`;
    else p += `."${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return sqlStr(p);
}

export function tsLiteral(d: Date): string {
  return `TIMESTAMP ${sqlStr(d.toISOString().replace('T', ' ').replace('Z', ''))}`;
}

export function encodeCursor(k: bigint | number | string): string {
  return Buffer.from(`pk:${String(k)}`).toString('base64url');
}

export function decodeCursor(c: string): bigint {
  let text: string;
  try {
    text = Buffer.from(c, 'base64url').toString('utf8');
  } catch {
    throw new QueryError('invalid cursor');
  }
  const m = /^pk:(\d{1,19})$/.exec(text);
  if (!m) throw new QueryError('invalid cursor');
  return BigInt(m[1]!);
}

/** JSON path for the key bound to `u.k` (quoted so that keys with dots, spaces or `$` stay one key). */
const KEY_PATH_SQL = `'$."' || replace(replace(u.k, '\\', '\\\\'), '"', '\\"') || '"'`;

const AGGS = new Set(['count', 'sum', 'avg', 'min', 'max', 'median', 'percentile', 'count_distinct', 'any_value']);

interface Ctx {
  fields: Record<string, ColumnDef>;
  /** Aliases usable in ORDER BY / HAVING / GROUP BY. */
  aliases?: Map<string, Expr>;
  allowAgg: boolean;
  inAgg?: boolean;
  now: Date;
}

class Translator {
  constructor(private readonly src: ResolvedSource) {}

  // ---------- coercions ----------
  toNum(x: X): string {
    switch (x.t) {
      case 'json':
        return `TRY_CAST(${x.sql} AS DOUBLE)`;
      case 'str':
        return `TRY_CAST(${x.sql} AS DOUBLE)`;
      case 'bool':
        return `CAST(${x.sql} AS INTEGER)`;
      case 'ts':
        return `epoch(${x.sql})`;
      default:
        return x.sql;
    }
  }
  toStr(x: X): string {
    switch (x.t) {
      case 'json':
        return `json_extract_string(${x.sql}, '$')`;
      case 'str':
      case 'null':
        return x.sql;
      default:
        return `CAST(${this.out(x)} AS VARCHAR)`;
    }
  }
  toBool(x: X): string {
    if (x.t === 'json') return `TRY_CAST(json_extract_string(${x.sql}, '$') AS BOOLEAN)`;
    if (x.t === 'str') return `TRY_CAST(${x.sql} AS BOOLEAN)`;
    return x.sql;
  }
  toTs(x: X): string {
    if (x.t === 'ts' || x.t === 'null') return x.sql;
    if (x.t === 'num') return `CAST(to_timestamp(${x.sql}) AS TIMESTAMP)`;
    return `CAST(TRY_CAST(${this.toStr(x)} AS TIMESTAMPTZ) AS TIMESTAMP)`;
  }
  toXact(x: X): string {
    if (x.t === 'xact' || x.t === 'null') return x.sql;
    if (x.t === 'num') return `CAST(${x.sql} AS BIGINT)`;
    return `TRY_CAST(${this.toStr(x)} AS BIGINT)`;
  }
  toJson(x: X): string {
    if (x.t === 'json') return x.sql;
    if (x.t === 'null') return 'NULL';
    return `to_json(${this.out(x)})`;
  }
  /** SQL for the value as it should appear in a result row. */
  out(x: X): string {
    switch (x.t) {
      case 'ts':
        return `strftime(${x.sql}, '%Y-%m-%dT%H:%M:%S.%gZ')`;
      case 'xact':
        return `CAST(${x.sql} AS VARCHAR)`;
      case 'pkey':
        return `('p' || lpad(CAST(${x.sql} AS VARCHAR), 19, '0'))`;
      case 'interval':
        return `CAST(${x.sql} AS VARCHAR)`;
      default:
        return x.sql;
    }
  }

  /** Coerces two operands of a comparison to a common representation. */
  pair(l: X, r: X): [string, string] {
    const has = (t: T) => l.t === t || r.t === t;
    if (l.t === 'null' || r.t === 'null') return [l.sql, r.sql];
    if (has('ts')) return [this.toTs(l), this.toTs(r)];
    if (has('xact')) return [this.toXact(l), this.toXact(r)];
    if (has('pkey')) {
      const other = l.t === 'pkey' ? r : l;
      const lit = /^'p?0*(\d{1,19})'$/.exec(other.sql);
      const conv = (x: X) => (x.t === 'pkey' ? x.sql : lit ? lit[1]! : other.t === 'num' ? x.sql : null);
      const a = conv(l);
      const b = conv(r);
      if (a !== null && b !== null) return [a, b];
      return [this.toStr(l), this.toStr(r)];
    }
    if (has('num')) return [this.toNum(l), this.toNum(r)];
    if (has('bool')) return [this.toBool(l), this.toBool(r)];
    if (has('str')) return [this.toStr(l), this.toStr(r)];
    if (l.t === 'json' && r.t === 'json') return [`CAST(${l.sql} AS VARCHAR)`, `CAST(${r.sql} AS VARCHAR)`];
    return [l.sql, r.sql];
  }

  // ---------- expressions ----------
  expr(e: Expr, ctx: Ctx): X {
    switch (e.k) {
      case 'lit':
        if (e.v === null) return { sql: 'NULL', t: 'null', agg: false };
        if (typeof e.v === 'number') return { sql: sqlNum(e.v), t: 'num', agg: false };
        if (typeof e.v === 'boolean') return { sql: e.v ? 'TRUE' : 'FALSE', t: 'bool', agg: false };
        return { sql: sqlStr(e.v), t: 'str', agg: false };
      case 'star':
        throw new QueryError("'*' is only allowed as SELECT * or COUNT(*)");
      case 'list':
        throw new QueryError('array literals are only supported after IN or INCLUDES');
      case 'interval':
        if (!Number.isFinite(e.n)) throw new QueryError('invalid interval');
        return { sql: `INTERVAL ${sqlStr(`${e.n} ${e.unit}`)}`, t: 'interval', agg: false };
      case 'ident':
        return this.ident(e.path, ctx, e.quoted);
      case 'neg': {
        const x = this.expr(e.e, ctx);
        return { sql: `(-${this.toNum(x)})`, t: 'num', agg: x.agg };
      }
      case 'not': {
        const x = this.expr(e.e, ctx);
        return { sql: `(NOT ${this.toBool(x)})`, t: 'bool', agg: x.agg };
      }
      case 'bin':
        return this.binary(e.op, e.l, e.r, ctx);
      case 'isnull': {
        const x = this.expr(e.e, ctx);
        const inner = x.t === 'json' ? `json_extract_string(${x.sql}, '$')` : x.sql;
        return { sql: `(${inner} IS ${e.not ? 'NOT ' : ''}NULL)`, t: 'bool', agg: x.agg };
      }
      case 'between': {
        const x = this.expr(e.e, ctx);
        const lo = this.expr(e.lo, ctx);
        const hi = this.expr(e.hi, ctx);
        const [a, b] = this.pair(x, lo);
        const [a2, c] = this.pair(x, hi);
        const s = `(${a} >= ${b} AND ${a2} <= ${c})`;
        return { sql: e.not ? `(NOT ${s})` : s, t: 'bool', agg: x.agg || lo.agg || hi.agg };
      }
      case 'in': {
        const x = this.expr(e.e, ctx);
        if (e.list.length === 0) return { sql: e.not ? 'TRUE' : 'FALSE', t: 'bool', agg: x.agg };
        const items = e.list.map((i) => this.expr(i, ctx));
        if (x.t === 'json' && e.list.every((i) => i.k === 'lit' && i.v !== null)) {
          // Documented SQL-mode array membership: `tags IN ('a')` is true when the array holds 'a';
          // on a scalar JSON value it is the usual comparison.
          const member = e.list.map((i) => `json_contains(${x.sql}, ${sqlStr(JSON.stringify((i as { v: unknown }).v))})`).join(' OR ');
          const [l] = this.pair(x, items[0]!);
          const scalar = `${l} IN (${items.map((i) => this.pair(x, i)[1]).join(', ')})`;
          const s = `(CASE WHEN json_type(${x.sql}) = 'ARRAY' THEN (${member}) ELSE ${scalar} END)`;
          return { sql: e.not ? `(NOT ${s})` : s, t: 'bool', agg: x.agg };
        }
        const probe = items.find((i) => i.t !== 'null') ?? items[0]!;
        const [l] = this.pair(x, probe);
        const rs = items.map((i) => this.pair(x, i)[1]);
        return { sql: `(${l} ${e.not ? 'NOT ' : ''}IN (${rs.join(', ')}))`, t: 'bool', agg: x.agg };
      }
      case 'like': {
        const x = this.expr(e.e, ctx);
        const p = this.expr(e.pat, ctx);
        return {
          sql: `(${this.toStr(x)} ${e.not ? 'NOT ' : ''}${e.ci ? 'ILIKE' : 'LIKE'} ${this.toStr(p)})`,
          t: 'bool',
          agg: x.agg,
        };
      }
      case 'match': {
        const x = this.expr(e.e, ctx);
        const s = this.match(x, e.q);
        return { sql: e.not ? `(NOT ${s})` : s, t: 'bool', agg: x.agg };
      }
      case 'includes': {
        const x = this.expr(e.e, ctx);
        const vals = e.v.k === 'list' ? e.v.items : [e.v];
        const parts = vals.map((v) => {
          if (v.k !== 'lit') throw new QueryError('INCLUDES needs a literal value');
          if (x.t === 'json') return `COALESCE(json_contains(${x.sql}, ${sqlStr(JSON.stringify(v.v))}), FALSE)`;
          if (x.t === 'str') return `contains(${x.sql}, ${sqlStr(String(v.v))})`;
          throw new QueryError('INCLUDES needs an array or string field');
        });
        const s = `(${parts.join(' AND ')})`;
        return { sql: e.not ? `(NOT ${s})` : s, t: 'bool', agg: x.agg };
      }
      case 'case': {
        const whens = e.whens.map(([c, v]) => {
          const cx = e.operand ? this.binary('=', e.operand, c, ctx) : this.expr(c, ctx);
          return [cx, this.expr(v, ctx)] as const;
        });
        const els = e.else ? this.expr(e.else, ctx) : undefined;
        const results = [...whens.map((w) => w[1]), ...(els ? [els] : [])];
        const t = this.unify(results);
        const conv = (x: X) => this.convert(x, t);
        const sql = `(CASE ${whens.map(([c, v]) => `WHEN ${this.toBool(c)} THEN ${conv(v)}`).join(' ')}${els ? ` ELSE ${conv(els)}` : ''} END)`;
        return { sql, t, agg: results.some((r) => r.agg) || whens.some((w) => w[0].agg) };
      }
      case 'cast':
        return this.cast(this.expr(e.e, ctx), e.type);
      case 'call':
        return this.call(e, ctx);
    }
  }

  unify(xs: X[]): T {
    const ts = new Set(xs.map((x) => x.t).filter((t) => t !== 'null'));
    if (ts.size === 0) return 'null';
    if (ts.size === 1) return [...ts][0]!;
    if (ts.has('str')) return 'str';
    if (ts.has('num') || ts.has('xact')) return 'num';
    if (ts.has('ts')) return 'ts';
    if (ts.has('bool') && !ts.has('json')) return 'bool';
    return 'json';
  }

  convert(x: X, t: T): string {
    if (x.t === t || x.t === 'null') return x.sql;
    switch (t) {
      case 'str':
        return this.toStr(x);
      case 'num':
        return this.toNum(x);
      case 'ts':
        return this.toTs(x);
      case 'bool':
        return this.toBool(x);
      case 'json':
        return this.toJson(x);
      default:
        return x.sql;
    }
  }

  cast(x: X, type: string): X {
    const t = type.toLowerCase();
    if (['int', 'integer', 'bigint', 'smallint', 'tinyint', 'long'].includes(t)) {
      return { sql: `TRY_CAST(${this.toNum(x)} AS BIGINT)`, t: 'num', agg: x.agg };
    }
    if (['float', 'double', 'real', 'numeric', 'decimal', 'number'].includes(t)) return { sql: this.toNum(x), t: 'num', agg: x.agg };
    if (['text', 'string', 'varchar', 'char'].includes(t)) return { sql: this.toStr(x), t: 'str', agg: x.agg };
    if (['bool', 'boolean'].includes(t)) return { sql: this.toBool(x), t: 'bool', agg: x.agg };
    if (['timestamp', 'datetime', 'timestamptz'].includes(t)) return { sql: this.toTs(x), t: 'ts', agg: x.agg };
    if (t === 'date') return { sql: `date_trunc('day', ${this.toTs(x)})`, t: 'ts', agg: x.agg };
    if (t === 'json') return { sql: this.toJson(x), t: 'json', agg: x.agg };
    throw new QueryError(`unsupported: cast to ${type}`);
  }

  ident(path: string[], ctx: Ctx, quoted: boolean[] = []): X {
    const head = path[0]!;
    if (path.length === 1 && ctx.aliases?.has(head) && !(head in ctx.fields)) {
      const target = ctx.aliases.get(head)!;
      const saved = ctx.aliases;
      ctx.aliases = undefined;
      try {
        return this.expr(target, { ...ctx, allowAgg: true });
      } finally {
        ctx.aliases = saved;
      }
    }
    const def = ctx.fields[head] ?? ctx.fields[head.toLowerCase()];
    if (!def) {
      if (ctx.aliases?.has(head)) return this.ident(path, { ...ctx, fields: {} });
      if (this.src.kind === 'project_functions') throw new QueryError(`unknown field '${head}'`);
      // Fields outside the known schema are kept in the `extra` JSON column.
      return { sql: `json_extract(extra, ${jsonPath(path, quoted)})`, t: 'json', agg: false };
    }
    if (path.length === 1) return { sql: def.col, t: def.t, agg: false };
    if (def.t !== 'json') throw new QueryError(`field '${head}' has no nested fields`);
    // A JSON null inside an object is NULL, like a missing key (Braintrust groups and filters them as one).
    const extract = `NULLIF(json_extract(${def.col}, ${jsonPath(path.slice(1), quoted.slice(1))}), 'null'::JSON)`;
    if ((head === 'scores' || head === 'metrics') && path.length === 2) {
      return { sql: `TRY_CAST(${extract} AS DOUBLE)`, t: 'num', agg: false };
    }
    return { sql: extract, t: 'json', agg: false };
  }

  binary(op: string, le: Expr, re: Expr, ctx: Ctx): X {
    const l = this.expr(le, ctx);
    const r = this.expr(re, ctx);
    const agg = l.agg || r.agg;
    switch (op) {
      case 'and':
      case 'or':
        return { sql: `(${this.toBool(l)} ${op.toUpperCase()} ${this.toBool(r)})`, t: 'bool', agg };
      case '=':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const [a, b] = this.pair(l, r);
        return { sql: `(${a} ${op === '!=' ? '<>' : op} ${b})`, t: 'bool', agg };
      }
      case '||':
        return { sql: `(${this.toStr(l)} || ${this.toStr(r)})`, t: 'str', agg };
      case '+':
      case '-': {
        if (l.t === 'ts' && r.t === 'interval') return { sql: `(${l.sql} ${op} ${r.sql})`, t: 'ts', agg };
        if (l.t === 'interval' && r.t === 'ts' && op === '+') return { sql: `(${r.sql} + ${l.sql})`, t: 'ts', agg };
        if (l.t === 'ts' && r.t === 'ts' && op === '-') return { sql: `(epoch(${l.sql}) - epoch(${r.sql}))`, t: 'num', agg };
        return { sql: `(${this.toNum(l)} ${op} ${this.toNum(r)})`, t: 'num', agg };
      }
      case '*':
      case '%':
        return { sql: `(${this.toNum(l)} ${op} ${this.toNum(r)})`, t: 'num', agg };
      case '/':
        return { sql: `(CAST(${this.toNum(l)} AS DOUBLE) / NULLIF(${this.toNum(r)}, 0))`, t: 'num', agg };
      default:
        throw new QueryError(`unsupported operator ${op}`);
    }
  }

  match(x: X, q: Expr): string {
    if (q.k !== 'lit' || typeof q.v !== 'string') throw new QueryError('MATCH needs a string literal');
    const words = q.v.split(/[^\p{L}\p{N}_]+/u).filter(Boolean);
    if (words.length === 0) return 'FALSE';
    const text = `regexp_replace(${this.toStr(x)}, '\\\\[nrtbf"/\\\\]', ' ', 'g')`;
    const parts = words.map((w) => `regexp_matches(${text}, ${sqlStr(`(?i)(^|[^\\p{L}\\p{N}_])${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}\\p{N}_])`)})`);
    return `COALESCE(${parts.join(' AND ')}, FALSE)`;
  }

  call(e: Extract<Expr, { k: 'call' }>, ctx: Ctx): X {
    const name = e.name;
    if (AGGS.has(name)) {
      if (!ctx.allowAgg) throw new QueryError(`aggregate ${name.toUpperCase()}() is not allowed here`);
      if (ctx.inAgg) throw new QueryError('nested aggregates are not supported');
      const inner: Ctx = { ...ctx, inAgg: true };
      if (name === 'count') {
        if (e.star || e.args.length === 0) return { sql: 'count(*)', t: 'num', agg: true };
        const x = this.expr(e.args[0]!, inner);
        const nn = x.t === 'json' ? `json_extract_string(${x.sql}, '$')` : x.sql;
        return { sql: `count(${nn})`, t: 'num', agg: true };
      }
      if (name === 'any_value') {
        if (e.args.length !== 1) throw new QueryError('ANY_VALUE() takes 1 argument');
        const x = this.expr(e.args[0]!, inner);
        return { sql: `any_value(${x.sql})`, t: x.t, agg: true };
      }
      if (name === 'count_distinct') {
        if (e.args.length !== 1) throw new QueryError('COUNT_DISTINCT() takes 1 argument');
        const x = this.expr(e.args[0]!, inner);
        return { sql: `count(DISTINCT ${x.t === 'json' ? `CAST(${x.sql} AS VARCHAR)` : x.sql})`, t: 'num', agg: true };
      }
      const x = this.expr(this.arg(e, 0), inner);
      if (name === 'min' || name === 'max') {
        if (x.t === 'ts' || x.t === 'str' || x.t === 'xact' || x.t === 'pkey') return { sql: `${name}(${x.sql})`, t: x.t, agg: true };
        return { sql: `${name}(${this.toNum(x)})`, t: 'num', agg: true };
      }
      if (name === 'median') return { sql: `median(${this.toNum(x)})`, t: 'num', agg: true };
      if (name === 'percentile') {
        const p = e.args[1];
        if (!p || p.k !== 'lit' || typeof p.v !== 'number' || p.v < 0 || p.v > 1) throw new QueryError('PERCENTILE(x, p) needs a literal p between 0 and 1');
        return { sql: `quantile_cont(${this.toNum(x)}, ${sqlNum(p.v)})`, t: 'num', agg: true };
      }
      return { sql: `${name}(${this.toNum(x)})`, t: 'num', agg: true };
    }
    if (e.star) throw new QueryError(`'*' is not a valid argument to ${name}()`);
    const args = () => e.args.map((a) => this.expr(a, ctx));
    const anyAgg = (xs: X[]) => xs.some((x) => x.agg);
    const arity = (min: number, max = min) => {
      if (e.args.length < min || e.args.length > max) throw new QueryError(`${name}() takes ${min === max ? min : `${min}-${max}`} argument(s)`);
    };
    switch (name) {
      case 'now':
      case 'current_timestamp':
        arity(0);
        return { sql: tsLiteral(ctx.now), t: 'ts', agg: false };
      case 'current_date':
        arity(0);
        return { sql: `date_trunc('day', ${tsLiteral(ctx.now)})`, t: 'ts', agg: false };
      case 'random':
      case 'rand':
        arity(0);
        return { sql: 'random()', t: 'num', agg: false };
      case 'search': {
        arity(1);
        const q = e.args[0]!;
        const fields = SEARCH_FIELDS.filter((f) => f in ctx.fields);
        const parts = fields.map((f) => this.match(this.ident([f], ctx), q));
        return { sql: `(${parts.join(' OR ') || 'FALSE'})`, t: 'bool', agg: false };
      }
      case 'round': {
        arity(1, 2);
        const [x, n] = args();
        const digits = n ? `, CAST(${this.toNum(n)} AS INTEGER)` : '';
        return { sql: `round(${this.toNum(x!)}${digits})`, t: 'num', agg: anyAgg(args()) };
      }
      case 'abs':
      case 'floor':
      case 'ceil':
      case 'ceiling':
      case 'sqrt':
      case 'ln':
      case 'exp':
      case 'sign': {
        arity(1);
        const x = args()[0]!;
        return { sql: `${name === 'ceiling' ? 'ceil' : name}(${this.toNum(x)})`, t: 'num', agg: x.agg };
      }
      case 'log': {
        arity(1, 2);
        const xs = args();
        return { sql: xs.length === 1 ? `log10(${this.toNum(xs[0]!)})` : `(ln(${this.toNum(xs[1]!)}) / ln(${this.toNum(xs[0]!)}))`, t: 'num', agg: anyAgg(xs) };
      }
      case 'power':
      case 'pow': {
        arity(2);
        const xs = args();
        return { sql: `pow(${this.toNum(xs[0]!)}, ${this.toNum(xs[1]!)})`, t: 'num', agg: anyAgg(xs) };
      }
      case 'greatest':
      case 'least': {
        if (e.args.length < 1) throw new QueryError(`${name}() needs arguments`);
        const xs = args();
        return { sql: `${name}(${xs.map((x) => this.toNum(x)).join(', ')})`, t: 'num', agg: anyAgg(xs) };
      }
      case 'lower':
      case 'upper':
      case 'trim':
      case 'ltrim':
      case 'rtrim': {
        arity(1);
        const x = args()[0]!;
        return { sql: `${name}(${this.toStr(x)})`, t: 'str', agg: x.agg };
      }
      case 'length':
      case 'len':
      case 'char_length': {
        arity(1);
        const x = args()[0]!;
        if (x.t === 'json') {
          return {
            sql: `(CASE WHEN json_type(${x.sql}) = 'ARRAY' THEN json_array_length(${x.sql}) WHEN json_type(${x.sql}) = 'OBJECT' THEN CAST(len(json_keys(${x.sql})) AS BIGINT) ELSE length(json_extract_string(${x.sql}, '$')) END)`,
            t: 'num',
            agg: x.agg,
          };
        }
        return { sql: `length(${this.toStr(x)})`, t: 'num', agg: x.agg };
      }
      case 'substr':
      case 'substring': {
        arity(2, 3);
        const xs = args();
        const rest = xs.slice(1).map((x) => `CAST(${this.toNum(x)} AS BIGINT)`).join(', ');
        return { sql: `substring(${this.toStr(xs[0]!)}, ${rest})`, t: 'str', agg: anyAgg(xs) };
      }
      case 'concat': {
        const xs = args();
        return { sql: `concat(${xs.map((x) => this.toStr(x)).join(', ')})`, t: 'str', agg: anyAgg(xs) };
      }
      case 'starts_with':
      case 'ends_with': {
        arity(2);
        const xs = args();
        return { sql: `${name}(${this.toStr(xs[0]!)}, ${this.toStr(xs[1]!)})`, t: 'bool', agg: anyAgg(xs) };
      }
      case 'to_string':
      case 'tostring':
        arity(1);
        return this.cast(args()[0]!, 'varchar');
      case 'to_number':
        arity(1);
        return this.cast(args()[0]!, 'double');
      case 'coalesce':
      case 'ifnull':
      case 'nvl': {
        if (e.args.length < 1) throw new QueryError('coalesce() needs arguments');
        const xs = args();
        const t = this.unify(xs);
        return { sql: `coalesce(${xs.map((x) => this.convert(x, t)).join(', ')})`, t, agg: anyAgg(xs) };
      }
      case 'nullif': {
        arity(2);
        const xs = args();
        const [a, b] = this.pair(xs[0]!, xs[1]!);
        const t = xs[0]!.t === 'json' && xs[1]!.t !== 'json' ? (xs[1]!.t === 'num' ? 'num' : 'str') : xs[0]!.t;
        return { sql: `nullif(${a}, ${b})`, t, agg: anyAgg(xs) };
      }
      case 'if':
      case 'iff': {
        arity(3);
        return this.expr({ k: 'case', whens: [[e.args[0]!, e.args[1]!]], else: e.args[2]! }, ctx);
      }
      case 'date_trunc': {
        arity(2);
        const [u, x] = e.args;
        let unitExpr = u!;
        let tsExpr = x!;
        if (unitExpr.k !== 'lit' && tsExpr.k === 'lit') [unitExpr, tsExpr] = [tsExpr, unitExpr];
        if (unitExpr.k !== 'lit' || typeof unitExpr.v !== 'string') throw new QueryError("DATE_TRUNC needs a literal unit such as 'day'");
        const unit = unitExpr.v.toLowerCase();
        if (!['second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'].includes(unit)) throw new QueryError(`unsupported DATE_TRUNC unit '${unitExpr.v}'`);
        const tx = this.expr(tsExpr, ctx);
        return { sql: `date_trunc(${sqlStr(unit)}, ${this.toTs(tx)})`, t: 'ts', agg: tx.agg };
      }
      case 'second':
      case 'minute':
      case 'hour':
      case 'day':
      case 'week':
      case 'month':
      case 'year': {
        arity(1);
        const tx = args()[0]!;
        return { sql: `date_trunc(${sqlStr(name)}, ${this.toTs(tx)})`, t: 'ts', agg: tx.agg };
      }
      case 'epoch':
      case 'to_unixtime': {
        arity(1);
        const tx = args()[0]!;
        return { sql: `epoch(${this.toTs(tx)})`, t: 'num', agg: tx.agg };
      }
      case 'json_extract':
        throw dialectError('json_extract');
      case 'estimated_cost':
        throw dialectError('estimated_cost');
      default:
        throw new QueryError(`unsupported: unknown function ${name.toUpperCase()}()`);
    }
  }

  arg(e: Extract<Expr, { k: 'call' }>, i: number): Expr {
    const a = e.args[i];
    if (!a) throw new QueryError(`${e.name}() needs an argument`);
    return a;
  }
}

function columnName(item: SelectItem): string {
  if (item.alias !== undefined) return item.alias;
  if (item.expr.k === 'ident') return item.expr.path[item.expr.path.length - 1]!;
  return item.text;
}

function isPagingOrder(orderBy: OrderItem[]): { dir: 'asc' | 'desc' } | undefined | null {
  if (orderBy.length === 0) return undefined;
  const first = orderBy[0]!;
  if (orderBy.length === 1 && first.expr.k === 'ident' && first.expr.path.length === 1 && ['_pagination_key', '_xact_id'].includes(first.expr.path[0]!)) {
    return { dir: first.dir };
  }
  return null;
}

/** Whether an expression reads any row field (constants and NOW() do not). */
function referencesField(e: Expr): boolean {
  switch (e.k) {
    case 'ident':
      return true;
    case 'call':
      return e.name === 'search' || e.args.some(referencesField);
    case 'bin':
      return referencesField(e.l) || referencesField(e.r);
    case 'not':
    case 'neg':
    case 'isnull':
    case 'cast':
      return referencesField(e.e);
    case 'in':
      return referencesField(e.e) || e.list.some(referencesField);
    case 'like':
      return referencesField(e.e) || referencesField(e.pat);
    case 'match':
      return referencesField(e.e);
    case 'includes':
      return referencesField(e.e);
    case 'between':
      return referencesField(e.e) || referencesField(e.lo) || referencesField(e.hi);
    case 'case':
      return e.whens.some(([a, b]) => referencesField(a) || referencesField(b)) || (e.else ? referencesField(e.else) : false) || (e.operand ? referencesField(e.operand) : false);
    default:
      return false;
  }
}

function containsAgg(e: Expr): boolean {
  switch (e.k) {
    case 'call':
      return AGGS.has(e.name) || e.args.some(containsAgg);
    case 'bin':
      return containsAgg(e.l) || containsAgg(e.r);
    case 'not':
    case 'neg':
    case 'isnull':
    case 'cast':
      return containsAgg(e.e);
    case 'in':
      return containsAgg(e.e) || e.list.some(containsAgg);
    case 'like':
      return containsAgg(e.e) || containsAgg(e.pat);
    case 'match':
    case 'includes':
      return containsAgg(e.e);
    case 'between':
      return containsAgg(e.e) || containsAgg(e.lo) || containsAgg(e.hi);
    case 'case':
      return e.whens.some(([a, b]) => containsAgg(a) || containsAgg(b)) || (e.else ? containsAgg(e.else) : false) || (e.operand ? containsAgg(e.operand) : false);
    default:
      return false;
  }
}

/** Builds the DuckDB statement for a query over a resolved source. */
export function translate(q: Query, src: ResolvedSource, now: Date): Translation {
  const tr = new Translator(src);
  const isFunctions = src.kind === 'project_functions';
  const fields = isFunctions ? FUNCTION_FIELDS : ROW_FIELDS;
  if (isFunctions && q.from.shape !== 'spans') throw new QueryError('project_functions() has no shapes');

  // Expand SELECT * and name the output columns.
  const items: Array<{ name: string; expr: Expr }> = [];
  let hasStar = false;
  for (const item of q.select) {
    if (item.expr.k === 'star') {
      hasStar = true;
      for (const f of STAR_FIELDS[src.kind]!) items.push({ name: f, expr: { k: 'ident', path: [f] } });
    } else items.push({ name: columnName(item), expr: item.expr });
  }
  const seen = new Map<string, number>();
  for (const it of items) {
    const n = seen.get(it.name) ?? 0;
    seen.set(it.name, n + 1);
    if (n > 0) it.name = `${it.name}_${n}`;
  }
  const aliases = new Map<string, Expr>();
  for (const item of q.select) if (item.alias !== undefined) aliases.set(item.alias, item.expr);

  const isAgg = q.groupBy.length > 0 || q.select.some((s) => containsAgg(s.expr)) || (q.having !== undefined);
  if (isAgg && hasStar) throw new QueryError('SELECT * cannot be combined with GROUP BY or aggregates');
  const ctxBase: Ctx = { fields, allowAgg: false, now };

  const selected = items.map((it) => ({ name: it.name, x: tr.expr(it.expr, { ...ctxBase, allowAgg: true }) }));
  const where = q.where ? tr.expr(q.where, ctxBase) : undefined;
  if (where?.agg) throw new QueryError('aggregates are not allowed in WHERE (use HAVING)');

  const resolvePositional = (e: Expr): Expr => {
    if (e.k === 'lit' && typeof e.v === 'number' && Number.isInteger(e.v)) {
      const item = items[e.v - 1];
      if (!item) throw new QueryError(`position ${e.v} is not in the select list`);
      return item.expr;
    }
    return e;
  };
  const groupX = q.groupBy.map((g) => tr.expr(resolvePositional(g), { ...ctxBase, aliases }));
  if (groupX.some((g) => g.agg)) throw new QueryError('aggregates are not allowed in GROUP BY');
  const having = q.having ? tr.expr(q.having, { ...ctxBase, aliases, allowAgg: true }) : undefined;

  const paging = isAgg || q.distinct || isFunctions ? null : isPagingOrder(q.orderBy);
  const defaultDir: 'asc' | 'desc' = src.kind === 'project_logs' ? 'desc' : 'asc';
  const orderParts: string[] = [];
  for (const o of q.orderBy) {
    const e = resolvePositional(o.expr);
    const x = tr.expr(e, { ...ctxBase, aliases, allowAgg: isAgg });
    const dir = o.dir.toUpperCase();
    if (x.t === 'json') orderParts.push(`TRY_CAST(${x.sql} AS DOUBLE) ${dir}`, `CAST(${x.sql} AS VARCHAR) ${dir}`);
    else if (x.t === 'xact') orderParts.push(`${x.sql} ${dir}`, `_pk ${dir}`);
    else orderParts.push(`${x.sql} ${dir}`);
  }

  // Source relation and shape handling.
  const ctes: string[] = [];
  const baseFilter = isFunctions
    ? `project_id = ${sqlStr(src.objectId)}`
    : `object_type = ${sqlStr(src.kind)} AND object_id = ${sqlStr(src.objectId)}`;
  ctes.push(`base AS (SELECT * FROM ${isFunctions ? 'functions' : 'rows'} WHERE ${baseFilter})`);
  const shape = q.from.shape;
  let mainWhere: string[] = [];
  let traceKeyed = false;
  const pagingDir = paging === undefined ? defaultDir : paging === null ? undefined : paging.dir;
  const cursorK = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
  if (cursorK !== undefined && pagingDir === undefined) throw new QueryError('a cursor can only be used with ORDER BY _pagination_key (or no ORDER BY)');
  const cmp = pagingDir === 'asc' ? '>' : '<';

  let limitSql = q.limit !== undefined ? ` LIMIT ${q.limit}` : '';
  let outputKey = '_pk';
  if (shape === 'traces' && !isFunctions) {
    const having2: string[] = [];
    if (!isAgg && cursorK !== undefined) having2.push(`max(_pk) ${cmp} ${cursorK}`);
    const traceLimit = !isAgg && q.limit !== undefined ? ` ORDER BY k ${pagingDir === 'asc' ? 'ASC' : 'DESC'} LIMIT ${q.limit}` : '';
    ctes.push(
      `m AS (SELECT root_span_id AS r, max(_pk) AS k FROM base${where ? ` WHERE ${tr.toBool(where)}` : ''} GROUP BY root_span_id${having2.length ? ` HAVING ${having2.join(' AND ')}` : ''}${traceLimit})`,
    );
    ctes.push('src AS (SELECT base.*, m.k AS __tk FROM base JOIN m ON base.root_span_id = m.r)');
    if (!isAgg) {
      limitSql = '';
      traceKeyed = true;
      outputKey = '__tk';
    }
  } else if (shape === 'summary' && !isFunctions) {
    ctes.push(`m AS (SELECT DISTINCT root_span_id AS r FROM base${where ? ` WHERE ${tr.toBool(where)}` : ''})`);
    // Trace-level scores: every span's scores (the eval root and its scorer spans), averaged per name.
    ctes.push(
      `sc AS (SELECT r, json_group_object(k, v) AS scores FROM (SELECT b.root_span_id AS r, u.k AS k, avg(TRY_CAST(json_extract(b.scores, ${KEY_PATH_SQL}) AS DOUBLE)) AS v FROM base b, unnest(json_keys(b.scores)) AS u(k) WHERE b.scores IS NOT NULL AND b.root_span_id IN (SELECT r FROM m) GROUP BY ALL) WHERE v IS NOT NULL GROUP BY r)`,
    );
    ctes.push(
      'src AS (SELECT base.* REPLACE (coalesce(sc.scores, base.scores) AS scores) FROM base LEFT JOIN sc ON sc.r = base.root_span_id WHERE base.is_root AND base.root_span_id IN (SELECT r FROM m))',
    );
    if (!isAgg && cursorK !== undefined) mainWhere.push(`_pk ${cmp} ${cursorK}`);
  } else {
    ctes.push('src AS (SELECT * FROM base)');
    if (where) mainWhere.push(tr.toBool(where));
    if (!isAgg && cursorK !== undefined) mainWhere.push(`_pk ${cmp} ${cursorK}`);
  }

  const cols = selected.map((s, i) => `${tr.out(s.x)} AS c${i}`);
  const hasExtra = hasStar && !isFunctions;
  if (hasExtra) cols.push('extra AS __x');
  const hasPagingKey = !isAgg && !q.distinct && pagingDir !== undefined;
  if (hasPagingKey) cols.push(`${outputKey} AS __k`);
  if (orderParts.length === 0 && !isAgg && !q.distinct) {
    if (isFunctions) orderParts.push('created DESC', 'id ASC');
    else if (traceKeyed) orderParts.push(`__tk ${pagingDir === 'asc' ? 'ASC' : 'DESC'}`, '_pk ASC');
    else orderParts.push(`_pk ${(pagingDir ?? defaultDir).toUpperCase()}`);
  } else if (traceKeyed && orderParts.length > 0) {
    // Keep spans of a trace together after the requested order.
    orderParts.push('_pk ASC');
  }

  let sql = `WITH ${ctes.join(', ')} SELECT ${q.distinct ? 'DISTINCT ' : ''}${cols.join(', ')} FROM src`;
  if (mainWhere.length) sql += ` WHERE ${mainWhere.join(' AND ')}`;
  if (groupX.length) sql += ` GROUP BY ${groupX.map((g) => g.sql).join(', ')}`;
  else if (isAgg && selected.some((s) => !s.x.agg) && q.groupBy.length === 0) {
    const bad = selected.find((s, i) => !s.x.agg && referencesField(items[i]!.expr));
    if (bad) throw new QueryError(`column '${bad.name}' must appear in GROUP BY or be used in an aggregate`);
  }
  if (having) sql += ` HAVING ${tr.toBool(having)}`;
  if (orderParts.length) sql += ` ORDER BY ${orderParts.join(', ')}`;
  sql += limitSql;

  const out: Translation = {
    sql,
    columns: selected.map((s) => ({ name: s.name, t: s.x.t })),
    hasPagingKey,
    hasExtra,
    traceKeyed,
  };
  if (hasPagingKey && q.limit !== undefined && pagingDir !== undefined) out.paging = { dir: pagingDir, limit: q.limit };
  return out;
}

/** JSON-schema fragment for a column type. */
export function schemaFor(t: T): Record<string, unknown> {
  switch (t) {
    case 'num':
      return { type: 'number' };
    case 'str':
    case 'xact':
    case 'pkey':
    case 'interval':
      return { type: 'string' };
    case 'bool':
      return { type: 'boolean' };
    case 'ts':
      return { type: 'string', format: 'date-time' };
    default:
      return {};
  }
}
