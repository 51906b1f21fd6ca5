/**
 * Recursive-descent parser for the two text syntaxes Braintrust accepts on /btql:
 * SQL (`SELECT … FROM project_logs('P') WHERE …`) and the legacy pipe syntax
 * (`select: * | from: project_logs('P') spans | filter: … | sort: … | limit: 50`).
 */
import { type Expr, type IntervalUnit, type OrderItem, type Query, QueryError, type SelectItem, type Shape, type Source, type SourceFn } from './ast.js';
import { dialectError } from './dialect.js';
import { type Token, tokenize } from './lexer.js';

const RESERVED = new Set([
  'select', 'from', 'where', 'group', 'by', 'having', 'order', 'limit', 'offset', 'as', 'and', 'or', 'not',
  'is', 'null', 'in', 'like', 'ilike', 'match', 'includes', 'between', 'case', 'when', 'then', 'else', 'end',
  'asc', 'desc', 'join', 'inner', 'left', 'right', 'full', 'outer', 'cross', 'on', 'union', 'intersect',
  'except', 'distinct', 'true', 'false', 'interval', 'over', 'with', 'settings', 'tablesample', 'nulls',
]);

const SOURCES: Record<string, SourceFn> = {
  project_logs: 'project_logs',
  experiment: 'experiment',
  dataset: 'dataset',
  project_functions: 'project_functions',
};

const PIPE_CLAUSES = new Set([
  'select', 'from', 'filter', 'sort', 'limit', 'cursor', 'preview_length', 'dimensions', 'measures',
  'pivot', 'unpivot', 'span_filter', 'trace_filter', 'sample', 'comparison_key', 'weighted_scores',
  'custom_columns', 'inference_budget',
]);

const UNITS: Record<string, IntervalUnit> = {
  second: 'second', seconds: 'second', sec: 'second', s: 'second',
  minute: 'minute', minutes: 'minute', min: 'minute', m: 'minute',
  hour: 'hour', hours: 'hour', h: 'hour',
  day: 'day', days: 'day', d: 'day',
  week: 'week', weeks: 'week', w: 'week',
  month: 'month', months: 'month',
  year: 'year', years: 'year', y: 'year',
};

/** 'sql': SELECT … FROM …; 'pipe': the legacy `clause: …` syntax; 'expr': object-form btql snippets. */
type Mode = 'sql' | 'pipe' | 'expr';

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly src: string,
    private readonly mode: Mode,
  ) {}

  peek(o = 0): Token {
    return this.toks[Math.min(this.i + o, this.toks.length - 1)]!;
  }
  next(): Token {
    const t = this.peek();
    if (t.t !== 'eof') this.i++;
    return t;
  }
  atEof(): boolean {
    return this.peek().t === 'eof' || (this.peek().t === 'op' && this.peek().v === ';' && this.peek(1).t === 'eof');
  }
  isKw(kw: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === 'ident' && t.v.toLowerCase() === kw;
  }
  isOp(op: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === 'op' && t.v === op;
  }
  acceptKw(kw: string): boolean {
    if (this.isKw(kw)) {
      this.i++;
      return true;
    }
    return false;
  }
  acceptOp(op: string): boolean {
    if (this.isOp(op)) {
      this.i++;
      return true;
    }
    return false;
  }
  expectKw(kw: string): void {
    if (!this.acceptKw(kw)) this.fail(`expected ${kw.toUpperCase()}`);
  }
  expectOp(op: string): void {
    if (!this.acceptOp(op)) this.fail(`expected '${op}'`);
  }
  fail(msg: string): never {
    const t = this.peek();
    const near = t.t === 'eof' ? 'end of query' : `'${this.src.slice(t.pos, Math.min(t.end, t.pos + 40))}'`;
    throw new QueryError(`${msg} near ${near} (position ${t.pos})`);
  }
  textFrom(startTok: number): string {
    const a = this.toks[startTok]!;
    const b = this.toks[Math.max(startTok, this.i - 1)]!;
    return this.src.slice(a.pos, b.end);
  }

  // ---------- SQL ----------
  parseSql(): Query {
    if (this.isKw('with')) throw new QueryError('unsupported: WITH (common table expressions) is not supported');
    this.expectKw('select');
    const distinct = this.acceptKw('distinct');
    const select = this.parseSelectList();
    if (!this.acceptKw('from')) this.fail('expected FROM');
    const from = this.parseSource(false);
    if (this.isOp(',') || this.isKw('join') || this.isKw('inner') || this.isKw('left') || this.isKw('right') || this.isKw('full') || this.isKw('cross')) {
      throw dialectError('join');
    }
    const q: Query = { select, distinct, from, groupBy: [], orderBy: [], syntax: 'sql' };
    if (this.acceptKw('where')) q.where = this.parseExpr();
    if (this.acceptKw('group')) {
      this.expectKw('by');
      q.groupBy = this.parseExprList();
    }
    if (this.acceptKw('having')) q.having = this.parseExpr();
    if (this.acceptKw('order')) {
      this.expectKw('by');
      q.orderBy = this.parseOrderList();
    }
    for (;;) {
      if (this.acceptKw('limit')) {
        q.limit = this.parseLimitNumber();
      } else if (this.acceptKw('offset')) {
        const t = this.next();
        if (t.t === 'str' || t.t === 'qident') q.cursor = t.v;
        else throw new QueryError("unsupported: OFFSET takes a cursor string from a previous response (OFFSET '<cursor>')");
      } else if (this.isKw('settings') || this.isKw('tablesample')) {
        // Accepted and ignored: evaluation hints with no effect on results here.
        this.next();
        while (!this.atEof() && !this.isKw('limit') && !this.isKw('offset')) this.next();
      } else break;
    }
    if (this.isKw('union') || this.isKw('intersect') || this.isKw('except')) {
      throw new QueryError(`unsupported: ${this.peek().v.toUpperCase()} is not supported`);
    }
    if (this.isKw('where') || this.isKw('group') || this.isKw('having') || this.isKw('order')) {
      this.fail('clause out of order (expected SELECT … FROM … WHERE … GROUP BY … HAVING … ORDER BY … LIMIT)');
    }
    this.acceptOp(';');
    if (!this.atEof()) this.fail('unexpected token');
    return q;
  }

  parseLimitNumber(): number {
    const t = this.next();
    if (t.t !== 'num' || !/^\d+$/.test(t.v)) throw new QueryError('LIMIT must be a non-negative integer');
    return Number(t.v);
  }

  parseSelectList(): SelectItem[] {
    const items: SelectItem[] = [];
    do {
      const start = this.i;
      if (this.isOp('*')) {
        this.next();
        items.push({ expr: { k: 'star' }, text: '*' });
        continue;
      }
      const expr = this.parseExpr();
      const text = this.textFrom(start);
      let alias: string | undefined;
      if (this.acceptKw('as')) {
        const t = this.next();
        if (t.t !== 'ident' && t.t !== 'qident' && t.t !== 'str') this.fail('expected alias after AS');
        alias = t.v;
      } else if ((this.peek().t === 'ident' && !RESERVED.has(this.peek().v.toLowerCase())) || this.peek().t === 'qident') {
        alias = this.next().v;
      }
      items.push(alias === undefined ? { expr, text } : { expr, alias, text });
    } while (this.acceptOp(','));
    return items;
  }

  parseExprList(): Expr[] {
    const out: Expr[] = [];
    do out.push(this.parseExpr());
    while (this.acceptOp(','));
    return out;
  }

  parseOrderList(): OrderItem[] {
    const out: OrderItem[] = [];
    do {
      const expr = this.parseExpr();
      let dir: 'asc' | 'desc' = 'asc';
      if (this.acceptKw('desc')) dir = 'desc';
      else this.acceptKw('asc');
      if (this.acceptKw('nulls')) {
        if (!this.acceptKw('first')) this.expectKw('last');
      }
      out.push({ expr, dir });
    } while (this.acceptOp(','));
    return out;
  }

  parseSource(pipe: boolean): Source {
    const t = this.next();
    if (t.t === 'op' && t.v === '(') throw dialectError('subquery');
    if (t.t !== 'ident' && t.t !== 'qident') this.fail('expected a source such as project_logs(\'<project id>\')');
    const name = t.v.toLowerCase();
    const fn = SOURCES[name];
    if (!this.isOp('(')) {
      throw new QueryError(
        `unsupported: bare table '${t.v}'; use project_logs('<project id>'), experiment('<id>') or dataset('<id>')`,
      );
    }
    if (!fn) throw new QueryError(`unsupported: unknown source function '${t.v}'`);
    this.expectOp('(');
    let id: string | undefined;
    let shape: Shape = 'spans';
    let first = true;
    while (!this.isOp(')')) {
      if (!first) this.expectOp(',');
      first = false;
      if ((this.peek().t === 'ident' || this.peek().t === 'qident') && this.isOp('=>', 1)) {
        const key = this.next().v.toLowerCase();
        this.next();
        const v = this.next();
        if (v.t !== 'str' && v.t !== 'ident') this.fail(`expected a value for ${key}`);
        if (key === 'shape') shape = this.toShape(v.v);
        else if (key !== 'version' && key !== 'audit_log') throw new QueryError(`unsupported: source argument '${key}'`);
        continue;
      }
      const a = this.next();
      if (a.t === 'str' || a.t === 'qident') {
        if (id !== undefined) throw new QueryError('unsupported: several objects in one source');
        id = a.v;
      } else if (a.t === 'op' && a.v === '(' && this.isKw('select')) {
        throw dialectError('subquery');
      } else this.fail('expected a quoted object id');
    }
    this.expectOp(')');
    if (id === undefined) throw new QueryError(`${name}() needs an object id`);
    if (pipe && this.peek().t === 'ident') {
      shape = this.toShape(this.next().v);
    } else if (!pipe && this.acceptKw('as')) {
      this.next();
    } else if (!pipe && (this.peek().t === 'qident' || (this.peek().t === 'ident' && !RESERVED.has(this.peek().v.toLowerCase())))) {
      this.next();
    }
    return { fn: fn, id, shape };
  }

  toShape(v: string): Shape {
    const s = v.toLowerCase();
    if (s === 'spans' || s === 'traces' || s === 'summary') return s;
    throw new QueryError(`unsupported: shape '${v}' (use spans, traces or summary)`);
  }

  // ---------- expressions ----------
  parseExpr(): Expr {
    return this.parseTernary();
  }
  /** `cond ? a : b` (right-associative, below OR), Braintrust's documented conditional. */
  parseTernary(): Expr {
    const c = this.parseOr();
    if (!this.acceptOp('?')) return c;
    const a = this.parseTernary();
    this.expectOp(':');
    const b = this.parseTernary();
    return { k: 'case', whens: [[c, a]], else: b };
  }
  parseOr(): Expr {
    let l = this.parseAnd();
    while (this.acceptKw('or')) l = { k: 'bin', op: 'or', l, r: this.parseAnd() };
    return l;
  }
  parseAnd(): Expr {
    let l = this.parseNot();
    while (this.acceptKw('and')) l = { k: 'bin', op: 'and', l, r: this.parseNot() };
    return l;
  }
  parseNot(): Expr {
    if (this.acceptKw('not')) return { k: 'not', e: this.parseNot() };
    return this.parsePredicate();
  }
  parsePredicate(): Expr {
    let l = this.parseConcat();
    for (;;) {
      if (this.acceptKw('is')) {
        const not = this.acceptKw('not');
        if (this.acceptKw('null')) l = { k: 'isnull', e: l, not };
        else if (this.acceptKw('true') || this.acceptKw('false')) {
          const v = this.toks[this.i - 1]!.v.toLowerCase() === 'true';
          const cmp: Expr = { k: 'bin', op: '=', l, r: { k: 'lit', v } };
          l = not ? { k: 'not', e: cmp } : cmp;
        } else this.fail('expected NULL, TRUE or FALSE after IS');
        continue;
      }
      const save = this.i;
      const not = this.acceptKw('not');
      if (this.acceptKw('in')) {
        l = { k: 'in', e: l, list: this.parseInList(), not };
        continue;
      }
      if (this.isKw('like') || this.isKw('ilike')) {
        const ci = this.next().v.toLowerCase() === 'ilike';
        l = { k: 'like', e: l, pat: this.parseConcat(), ci, not };
        continue;
      }
      if (this.acceptKw('match')) {
        l = { k: 'match', e: l, q: this.parseConcat(), not };
        continue;
      }
      if (this.isKw('includes') || this.isKw('contains')) {
        if (this.mode === 'sql') throw dialectError(this.peek().v.toLowerCase());
        this.next();
        l = { k: 'includes', e: l, v: this.parseConcat(), not };
        continue;
      }
      if (this.acceptKw('between')) {
        const lo = this.parseConcat();
        this.expectKw('and');
        const hi = this.parseConcat();
        l = { k: 'between', e: l, lo, hi, not };
        continue;
      }
      if (not) {
        this.i = save;
        break;
      }
      const t = this.peek();
      if (t.t === 'op' && t.v === '<=>') throw dialectError('null_safe_eq');
      if (t.t === 'op' && ['=', '!=', '<', '<=', '>', '>='].includes(t.v)) {
        this.next();
        if (this.isKw('any') || this.isKw('all') || this.isKw('some')) throw new QueryError('unsupported: ANY/ALL comparisons');
        l = { k: 'bin', op: t.v as '=', l, r: this.parseConcat() };
        continue;
      }
      break;
    }
    return l;
  }
  parseInList(): Expr[] {
    const open = this.next();
    if (open.t !== 'op' || (open.v !== '(' && open.v !== '[')) this.fail('expected ( or [ after IN');
    const close = open.v === '(' ? ')' : ']';
    if (this.isKw('select')) throw dialectError('subquery');
    const items: Expr[] = [];
    if (!this.isOp(close)) {
      do items.push(this.parseExpr());
      while (this.acceptOp(','));
    }
    this.expectOp(close);
    return items;
  }
  parseConcat(): Expr {
    let l = this.parseAdd();
    while (this.acceptOp('||')) l = { k: 'bin', op: '||', l, r: this.parseAdd() };
    return l;
  }
  parseAdd(): Expr {
    let l = this.parseMul();
    for (;;) {
      if (this.acceptOp('+')) l = { k: 'bin', op: '+', l, r: this.parseMul() };
      else if (this.acceptOp('-')) l = { k: 'bin', op: '-', l, r: this.parseMul() };
      else return l;
    }
  }
  parseMul(): Expr {
    let l = this.parseUnary();
    for (;;) {
      if (this.acceptOp('*')) l = { k: 'bin', op: '*', l, r: this.parseUnary() };
      else if (this.acceptOp('/')) l = { k: 'bin', op: '/', l, r: this.parseUnary() };
      else if (this.acceptOp('%')) l = { k: 'bin', op: '%', l, r: this.parseUnary() };
      else return l;
    }
  }
  parseUnary(): Expr {
    if (this.acceptOp('-')) {
      const e = this.parseUnary();
      if (e.k === 'lit' && typeof e.v === 'number') return { k: 'lit', v: -e.v };
      return { k: 'neg', e };
    }
    if (this.acceptOp('+')) return this.parseUnary();
    let e = this.parsePrimary();
    if (this.isOp('::')) throw dialectError('cast_op');
    return e;
  }

  parsePrimary(): Expr {
    const t = this.peek();
    if (t.t === 'num') {
      this.next();
      return { k: 'lit', v: Number(t.v) };
    }
    if (t.t === 'str') {
      this.next();
      return { k: 'lit', v: t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      this.next();
      if (this.isKw('select') || this.isKw('with')) throw dialectError('subquery');
      const e = this.parseExpr();
      if (this.isOp(',')) throw new QueryError('unsupported: row/tuple values');
      this.expectOp(')');
      return e;
    }
    if (t.t === 'op' && t.v === '[') {
      this.next();
      const items: Expr[] = [];
      if (!this.isOp(']')) {
        do items.push(this.parseExpr());
        while (this.acceptOp(','));
      }
      this.expectOp(']');
      return { k: 'list', items };
    }
    if (t.t === 'ident') {
      const kw = t.v.toLowerCase();
      if (kw === 'true' || kw === 'false') {
        this.next();
        return { k: 'lit', v: kw === 'true' };
      }
      if (kw === 'null') {
        this.next();
        return { k: 'lit', v: null };
      }
      if (kw === 'interval') {
        this.next();
        return this.parseInterval();
      }
      if (kw === 'case') throw dialectError('case');
      if (kw === 'any_span' || kw === 'filter_spans') throw dialectError(kw);
      if (kw === 'select') throw dialectError('subquery');
      if ((kw === 'current_timestamp' || kw === 'current_date') && !this.isOp('(', 1)) {
        this.next();
        return { k: 'call', name: kw === 'current_date' ? 'current_date' : 'now', args: [], distinct: false, star: false };
      }
      if (kw === 'cast' && this.isOp('(', 1)) throw dialectError('cast');
      if (this.isOp('(', 1)) return this.parseCall();
    }
    if (t.t === 'ident' || t.t === 'qident') {
      if (t.t === 'ident' && RESERVED.has(t.v.toLowerCase())) this.fail('unexpected keyword');
      return this.parsePath();
    }
    if (t.t === 'op' && t.v === '*') this.fail("'*' is only allowed as SELECT * or COUNT(*)");
    return this.fail('expected an expression');
  }
  parsePath(): Expr {
    const first = this.next();
    const path: string[] = [first.v];
    const quoted: boolean[] = [first.t === 'qident'];
    for (;;) {
      if (this.isOp('.') && (this.peek(1).t === 'ident' || this.peek(1).t === 'qident')) {
        this.next();
        const seg = this.next();
        path.push(seg.v);
        quoted.push(seg.t === 'qident');
      } else if (this.isOp('.') && this.peek(1).t === 'num' && /^\d+$/.test(this.peek(1).v)) {
        this.next();
        path.push(this.next().v);
        quoted.push(false);
      } else if (this.isOp('[') && (this.peek(1).t === 'str' || this.peek(1).t === 'num') && this.isOp(']', 2)) {
        this.next();
        const seg = this.next();
        path.push(seg.v);
        quoted.push(seg.t === 'str');
        this.next();
      } else break;
    }
    return quoted.some(Boolean) ? { k: 'ident', path, quoted } : { k: 'ident', path };
  }
  parseCall(): Expr {
    const name = this.next().v.toLowerCase();
    this.expectOp('(');
    let distinct = false;
    let star = false;
    const args: Expr[] = [];
    if (this.isOp('*') && this.isOp(')', 1)) {
      this.next();
      star = true;
    } else if (!this.isOp(')')) {
      if (this.isKw('distinct')) {
        if (name === 'count') throw dialectError('count_distinct_kw');
        throw new QueryError(`unsupported: ${name.toUpperCase()}(DISTINCT …) is not part of Braintrust SQL (not documented); use count_distinct(expr) for distinct counts`);
      }
      do {
        if (this.isKw('select')) throw dialectError('subquery');
        args.push(this.parseExpr());
      } while (this.acceptOp(','));
    }
    this.expectOp(')');
    if (this.isKw('over')) throw new QueryError('unsupported: window functions (OVER) are not supported');
    if (this.isKw('filter') && this.isOp('(', 1)) throw new QueryError('unsupported: aggregate FILTER clauses are not supported');
    if (this.isKw('within')) throw new QueryError('unsupported: WITHIN GROUP is not supported');
    return { k: 'call', name, args, distinct, star };
  }
  parseInterval(): Expr {
    const t = this.next();
    let n: number;
    let unitText: string | undefined;
    if (t.t === 'num') n = Number(t.v);
    else if (t.t === 'str') {
      const m = /^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]+)?\s*$/.exec(t.v);
      if (!m) throw new QueryError(`unsupported interval literal '${t.v}'`);
      n = Number(m[1]);
      unitText = m[2];
    } else return this.fail('expected a number after INTERVAL');
    if (unitText === undefined || (this.peek().t === 'ident' && UNITS[this.peek().v.toLowerCase()])) {
      const u = this.next();
      if (u.t !== 'ident') this.fail('expected an interval unit (second, minute, hour, day, week, month, year)');
      unitText = u.v;
    }
    const unit = UNITS[unitText.toLowerCase()];
    if (!unit) throw new QueryError(`unsupported interval unit '${unitText}'`);
    return { k: 'interval', n, unit };
  }

}

function splitPipe(toks: Token[]): Token[][] {
  const segs: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  for (const t of toks) {
    if (t.t === 'eof') break;
    if (t.t === 'op' && (t.v === '(' || t.v === '[')) depth++;
    if (t.t === 'op' && (t.v === ')' || t.v === ']')) depth--;
    if (t.t === 'op' && t.v === '|' && depth === 0) {
      segs.push(cur);
      cur = [];
      continue;
    }
    cur.push(t);
  }
  if (cur.length) segs.push(cur);
  return segs;
}

function isPipeSyntax(toks: Token[]): boolean {
  const a = toks[0];
  const b = toks[1];
  return !!a && !!b && a.t === 'ident' && PIPE_CLAUSES.has(a.v.toLowerCase()) && b.t === 'op' && b.v === ':';
}

function parsePipe(toks: Token[], src: string): Query {
  let select: SelectItem[] | undefined;
  let from: Source | undefined;
  let where: Expr | undefined;
  let orderBy: OrderItem[] = [];
  let limit: number | undefined;
  let cursor: string | undefined;
  let previewLength: number | undefined;
  let dims: SelectItem[] | undefined;
  let measures: SelectItem[] | undefined;
  for (const seg of splitPipe(toks)) {
    const head = seg[0];
    if (!head || head.t !== 'ident' || seg[1]?.t !== 'op' || seg[1].v !== ':') {
      throw new QueryError(`expected '<clause>:' in pipe query near position ${head?.pos ?? 0}`);
    }
    const name = head.v.toLowerCase();
    const body = seg.slice(2);
    const last = body[body.length - 1] ?? seg[1];
    const p = new Parser([...body, { t: 'eof', v: '', pos: last.end, end: last.end }], src, 'pipe');
    switch (name) {
      case 'select':
        select = p.parseSelectList();
        break;
      case 'dimensions':
        dims = p.parseSelectList();
        break;
      case 'measures':
        measures = p.parseSelectList();
        break;
      case 'from':
        from = p.parseSource(true);
        break;
      case 'filter': {
        const e = p.parseExpr();
        where = where ? { k: 'bin', op: 'and', l: where, r: e } : e;
        break;
      }
      case 'sort':
        orderBy = p.parseOrderList();
        break;
      case 'limit':
        limit = p.parseLimitNumber();
        break;
      case 'cursor': {
        const t = p.next();
        if (t.t !== 'str' && t.t !== 'qident' && t.t !== 'ident' && t.t !== 'num') throw new QueryError('cursor must be a string');
        cursor = t.v;
        break;
      }
      case 'preview_length': {
        const neg = p.acceptOp('-');
        const t = p.next();
        if (t.t !== 'num') throw new QueryError('preview_length must be a number');
        previewLength = neg ? -Number(t.v) : Number(t.v);
        break;
      }
      default:
        throw new QueryError(`unsupported: pipe clause '${name}:'`);
    }
    if (!p.atEof()) p.fail(`unexpected token in ${name}: clause`);
  }
  if (!from) throw new QueryError('missing from: clause');
  const q: Query = { select: [], distinct: false, from, groupBy: [], orderBy, syntax: 'pipe' };
  if (dims || measures) {
    q.select = [...(dims ?? []), ...(measures ?? [])];
    q.groupBy = (dims ?? []).map((d) => d.expr);
  } else q.select = select ?? [{ expr: { k: 'star' }, text: '*' }];
  if (where) q.where = where;
  if (limit !== undefined) q.limit = limit;
  if (cursor !== undefined && cursor !== '') q.cursor = cursor;
  if (previewLength !== undefined) q.previewLength = previewLength;
  return q;
}

/**
 * Parses either syntax. Throws QueryError on anything it does not understand.
 *
 * The pipe syntax keeps backslash escapes in quoted text (bt sends JSON-style strings there). SQL is
 * tokenized with a backslash as an ordinary character and any quoted token holding one is refused
 * (dialect.ts, "backslash"): Braintrust does not document which reading its SQL uses, and the
 * flywheel's builders never emit one, so a local server that accepted them would be more lenient
 * than the real service may be.
 */
export function parseQuery(text: string): Query {
  let pipeToks: Token[] | undefined;
  let pipeErr: unknown;
  try {
    pipeToks = tokenize(text);
  } catch (e) {
    pipeErr = e;
  }
  if (pipeToks && pipeToks.length === 1) throw new QueryError('empty query');
  if (pipeToks && isPipeSyntax(pipeToks)) return parsePipe(pipeToks, text);
  const toks = tokenize(text, { backslashEscapes: false });
  if (toks.length === 1) throw new QueryError('empty query');
  if (!pipeToks && isPipeSyntax(toks)) throw pipeErr;
  const bad = toks.find((t) => t.bs);
  if (bad) {
    const e = dialectError('backslash');
    throw new QueryError(`${e.message} (the ${bad.t === 'str' ? 'string literal' : 'quoted name'} at position ${bad.pos})`);
  }
  return new Parser(toks, text, 'sql').parseSql();
}

/** Parses a standalone expression (used for object-form `btql` snippets). */
export function parseExpression(text: string): Expr {
  const p = new Parser(tokenize(text), text, 'expr');
  const e = p.parseExpr();
  if (!p.atEof()) p.fail('unexpected token');
  return e;
}
