import { QueryError } from './ast.js';

export type TokenType = 'ident' | 'qident' | 'str' | 'num' | 'op' | 'eof';

export interface Token {
  t: TokenType;
  /** Identifier text (unquoted), string contents, number text, or operator. */
  v: string;
  pos: number;
  end: number;
  /** Set on `str` / `qident` tokens whose source text contains a backslash (SQL mode refuses them: see dialect.ts). */
  bs?: boolean;
}

const OPERATORS = ['<=>', '=>', '<=', '>=', '<>', '!=', '==', '||', '::', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ',', '.', '[', ']', ':', '|', ';', '?'];

function isIdentStart(c: string): boolean {
  return /[A-Za-z_$]/.test(c) || c.charCodeAt(0) > 127;
}

function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 127;
}

function withBackslashFlag(t: Token, src: string): Token {
  if (src.slice(t.pos, t.end).includes('\\')) t.bs = true;
  return t;
}

/**
 * Splits Braintrust SQL / BTQL text into tokens.
 *
 * Quoted text: `'…'` is a string and `"…"` (or a backquoted name) an identifier; the quote character
 * is doubled inside (`'it''s'`, `"My ""Score"""`). Backslash escapes are decoded here only for the
 * pipe syntax (bt's own view/sync send JSON-style strings there); with `backslashEscapes: false`
 * (SQL mode) a backslash is an ordinary character while tokenizing, and the parser refuses any
 * quoted token whose text contains a backslash: Braintrust does not document whether a backslash is
 * an escape in SQL, so a local server that picked either reading would accept queries the real
 * service may read differently (dialect.ts, "backslash in a quoted literal").
 */
export function tokenize(src: string, opts: { backslashEscapes?: boolean } = {}): Token[] {
  const escapes = opts.backslashEscapes ?? true;
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && src[i + 1] === '-') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const close = src.indexOf('*/', i + 2);
      if (close < 0) throw new QueryError('unterminated comment');
      i = close + 2;
      continue;
    }
    const start = i;
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new QueryError(`unterminated string literal at position ${start}`);
        const d = src[i]!;
        if (d === "'") {
          if (src[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (escapes && d === '\\' && i + 1 < n) {
          const e = src[i + 1]!;
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      out.push(withBackslashFlag({ t: 'str', v, pos: start, end: i }, src));
      continue;
    }
    if (c === '"' || c === '`') {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new QueryError(`unterminated quoted identifier at position ${start}`);
        const d = src[i]!;
        if (d === c) {
          if (src[i + 1] === c) {
            v += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (escapes && d === '\\' && c === '"' && (src[i + 1] === '"' || src[i + 1] === '\\')) {
          v += src[i + 1];
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      out.push(withBackslashFlag({ t: 'qident', v, pos: start, end: i }, src));
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      while (i < n && /[0-9]/.test(src[i]!)) i++;
      if (src[i] === '.' && /[0-9]/.test(src[i + 1] ?? '')) {
        i++;
        while (i < n && /[0-9]/.test(src[i]!)) i++;
      } else if (src[i] === '.' && !/[A-Za-z_]/.test(src[i + 1] ?? '')) {
        i++;
      }
      if ((src[i] === 'e' || src[i] === 'E') && /[-+0-9]/.test(src[i + 1] ?? '')) {
        i++;
        if (src[i] === '-' || src[i] === '+') i++;
        while (i < n && /[0-9]/.test(src[i]!)) i++;
      }
      // A number directly followed by letters is a bare word such as a date (1970-01-01 is handled by the parser).
      out.push({ t: 'num', v: src.slice(start, i), pos: start, end: i });
      continue;
    }
    if (isIdentStart(c)) {
      while (i < n && isIdentPart(src[i]!)) i++;
      out.push({ t: 'ident', v: src.slice(start, i), pos: start, end: i });
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new QueryError(`unexpected character '${c}' at position ${i}`);
    i += op.length;
    out.push({ t: 'op', v: op === '==' ? '=' : op === '<>' ? '!=' : op, pos: start, end: i });
  }
  out.push({ t: 'eof', v: '', pos: n, end: n });
  return out;
}
