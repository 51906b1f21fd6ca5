/** AST of the Braintrust SQL / BTQL subset the local server understands. */

export type IntervalUnit = 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

export type BinaryOp =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '||'
  | 'and'
  | 'or';

export type Expr =
  | { k: 'lit'; v: string | number | boolean | null }
  /** `quoted[i]`: segment i was written as a quoted name (`metadata."9"` is the key "9", not index 9). */
  | { k: 'ident'; path: string[]; quoted?: boolean[] }
  | { k: 'star' }
  | { k: 'interval'; n: number; unit: IntervalUnit }
  | { k: 'bin'; op: BinaryOp; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'neg'; e: Expr }
  | { k: 'isnull'; e: Expr; not: boolean }
  | { k: 'in'; e: Expr; list: Expr[]; not: boolean }
  | { k: 'like'; e: Expr; pat: Expr; ci: boolean; not: boolean }
  | { k: 'match'; e: Expr; q: Expr; not: boolean }
  | { k: 'includes'; e: Expr; v: Expr; not: boolean }
  | { k: 'between'; e: Expr; lo: Expr; hi: Expr; not: boolean }
  | { k: 'call'; name: string; args: Expr[]; distinct: boolean; star: boolean }
  | { k: 'case'; operand?: Expr; whens: Array<[Expr, Expr]>; else?: Expr }
  | { k: 'cast'; e: Expr; type: string }
  | { k: 'list'; items: Expr[] };

export interface SelectItem {
  expr: Expr;
  alias?: string;
  /** Source text, used to name unaliased columns. */
  text: string;
}

export type Shape = 'spans' | 'traces' | 'summary';

export type SourceFn = 'project_logs' | 'experiment' | 'dataset' | 'project_functions';

export interface Source {
  fn: SourceFn;
  id: string;
  shape: Shape;
}

export interface OrderItem {
  expr: Expr;
  dir: 'asc' | 'desc';
}

export interface Query {
  select: SelectItem[];
  distinct: boolean;
  from: Source;
  where?: Expr;
  groupBy: Expr[];
  having?: Expr;
  orderBy: OrderItem[];
  limit?: number;
  /** Paging cursor from a previous response. */
  cursor?: string;
  /** Truncate string leaves to this many characters (-1 / undefined: no truncation). */
  previewLength?: number;
  syntax: 'sql' | 'pipe' | 'object';
}

/** A user error in a query: rendered as HTTP 400. */
export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}
