/**
 * The structured (JSON AST) form of a BTQL query, as sent by `bt datasets view` and the JS SDK's
 * object fetcher: `{select:[{op:"star"}], from:{op:"function",name:{op:"ident",name:["dataset"]},args:[…]}, filter, sort, limit, cursor}`.
 */
import { type BinaryOp, type Expr, type OrderItem, type Query, QueryError, type SelectItem, type Shape, type SourceFn } from './ast.js';
import { parseExpression, parseQuery } from './parser.js';

type Json = unknown;

function obj(x: Json, what: string): Record<string, Json> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new QueryError(`invalid ${what} in structured query`);
  return x as Record<string, Json>;
}

const CMP: Record<string, BinaryOp> = {
  eq: '=', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=', add: '+', sub: '-', mul: '*', div: '/', mod: '%',
};

function identName(x: Json): string[] {
  const o = obj(x, 'identifier');
  const n = o.name;
  if (typeof n === 'string') return [n];
  if (Array.isArray(n) && n.every((s) => typeof s === 'string' || typeof s === 'number')) return n.map(String);
  if (n && typeof n === 'object') return identName(n);
  throw new QueryError('invalid identifier in structured query');
}

function children(o: Record<string, Json>): Json[] {
  if (Array.isArray(o.children)) return o.children;
  const out: Json[] = [];
  if (o.left !== undefined) out.push(o.left);
  if (o.right !== undefined) out.push(o.right);
  return out;
}

export function exprFromObject(x: Json): Expr {
  if (typeof x === 'string') return parseExpression(x);
  const o = obj(x, 'expression');
  const op = String(o.op ?? '');
  switch (op) {
    case 'literal': {
      const v = o.value;
      if (v === null || v === undefined) return { k: 'lit', v: null };
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { k: 'lit', v };
      if (Array.isArray(v)) return { k: 'list', items: v.map((item) => exprFromObject({ op: 'literal', value: item })) };
      throw new QueryError('unsupported: object literals in structured queries');
    }
    case 'ident':
      return { k: 'ident', path: identName(o) };
    case 'star':
      return { k: 'star' };
    case 'btql':
      if (typeof o.expr !== 'string') throw new QueryError('btql expression must be a string');
      return parseExpression(o.expr);
    case 'and':
    case 'or': {
      const cs = children(o).map(exprFromObject);
      if (cs.length === 0) return { k: 'lit', v: op === 'and' };
      return cs.reduce((l, r) => ({ k: 'bin', op, l, r }));
    }
    case 'not':
      return { k: 'not', e: exprFromObject(o.expr ?? o.child) };
    case 'neg':
      return { k: 'neg', e: exprFromObject(o.expr) };
    case 'isnull':
    case 'isnotnull':
      return { k: 'isnull', e: exprFromObject(o.expr), not: op === 'isnotnull' };
    case 'in': {
      const right = o.right !== undefined ? exprFromObject(o.right) : undefined;
      const list = right?.k === 'list' ? right.items : right ? [right] : [];
      return { k: 'in', e: exprFromObject(o.left), list, not: false };
    }
    case 'like':
    case 'ilike':
      return { k: 'like', e: exprFromObject(o.left), pat: exprFromObject(o.right), ci: op === 'ilike', not: false };
    case 'match':
      return { k: 'match', e: exprFromObject(o.left), q: exprFromObject(o.right), not: false };
    case 'includes':
      return { k: 'includes', e: exprFromObject(o.left), v: exprFromObject(o.right), not: false };
    case 'interval': {
      const unit = String(o.unit ?? 'day').toLowerCase().replace(/s$/, '');
      if (!['second', 'minute', 'hour', 'day', 'week', 'month', 'year'].includes(unit)) throw new QueryError(`unsupported interval unit '${unit}'`);
      return { k: 'interval', n: Number(o.value), unit: unit as 'day' };
    }
    case 'function': {
      const name = identName(o.name ?? o).join('.').toLowerCase();
      const args = Array.isArray(o.args) ? o.args.map(exprFromObject) : [];
      return { k: 'call', name, args, distinct: false, star: false };
    }
    default:
      if (CMP[op]) return { k: 'bin', op: CMP[op]!, l: exprFromObject(o.left), r: exprFromObject(o.right) };
      throw new QueryError(`unsupported: structured query operator '${op}'`);
  }
}

/** Converts a structured query into the common AST. A string `query` goes through the text parser. */
export function queryFromObject(q: Json): Query {
  if (typeof q === 'string') return parseQuery(q);
  const o = obj(q, 'query');
  for (const key of ['joins', 'join', 'union', 'subquery']) {
    if (o[key] !== undefined && o[key] !== null) throw new QueryError(`unsupported: '${key}' in structured query`);
  }
  const fromObj = obj(o.from, 'from');
  const fnName = identName(fromObj.name ?? fromObj).join('.').toLowerCase();
  if (!['project_logs', 'experiment', 'dataset', 'project_functions'].includes(fnName)) {
    throw new QueryError(`unsupported: source '${fnName}'`);
  }
  const args = Array.isArray(fromObj.args) ? fromObj.args : [];
  const first = args[0] !== undefined ? obj(args[0], 'source argument') : undefined;
  const id = first?.value;
  if (typeof id !== 'string') throw new QueryError(`${fnName}() needs an object id`);
  if (args.length > 1) throw new QueryError('unsupported: several objects in one source');
  const shapeRaw = String(fromObj.shape ?? o.shape ?? 'spans').toLowerCase();
  if (!['spans', 'traces', 'summary'].includes(shapeRaw)) throw new QueryError(`unsupported: shape '${shapeRaw}'`);

  const select: SelectItem[] = [];
  const groupBy: Expr[] = [];
  const toItems = (list: Json): SelectItem[] => {
    if (!Array.isArray(list)) throw new QueryError('select must be an array');
    return list.map((item) => {
      const io = obj(item, 'select item');
      if (io.op === 'star') return { expr: { k: 'star' }, text: '*' } satisfies SelectItem;
      if (io.expr !== undefined) {
        const expr = exprFromObject(io.expr);
        const alias = typeof io.alias === 'string' ? io.alias : undefined;
        const text = alias ?? (expr.k === 'ident' ? expr.path[expr.path.length - 1]! : 'expr');
        return alias ? { expr, alias, text } : { expr, text };
      }
      const expr = exprFromObject(io);
      return { expr, text: expr.k === 'ident' ? expr.path[expr.path.length - 1]! : 'expr' };
    });
  };
  if (o.dimensions !== undefined || o.measures !== undefined) {
    const dims = o.dimensions !== undefined ? toItems(o.dimensions) : [];
    select.push(...dims, ...(o.measures !== undefined ? toItems(o.measures) : []));
    groupBy.push(...dims.map((d) => d.expr));
  } else if (o.select !== undefined && o.select !== null) {
    select.push(...toItems(o.select));
  } else select.push({ expr: { k: 'star' }, text: '*' });

  const orderBy: OrderItem[] = [];
  if (Array.isArray(o.sort)) {
    for (const s of o.sort) {
      const so = obj(s, 'sort item');
      orderBy.push({ expr: exprFromObject(so.expr), dir: String(so.dir ?? 'asc').toLowerCase() === 'desc' ? 'desc' : 'asc' });
    }
  }
  const query: Query = {
    select,
    distinct: false,
    from: { fn: fnName as SourceFn, id, shape: shapeRaw as Shape },
    groupBy,
    orderBy,
    syntax: 'object',
  };
  if (o.filter !== undefined && o.filter !== null) query.where = exprFromObject(o.filter);
  if (typeof o.limit === 'number') query.limit = o.limit;
  if (typeof o.cursor === 'string' && o.cursor !== '') query.cursor = o.cursor;
  if (typeof o.preview_length === 'number') query.previewLength = o.preview_length;
  return query;
}
