/**
 * Query texts out of history (issue 9: a run's history stays small). Every statistic of Discover's evidence carries
 * the query that produced it, and the texts are long and repeated (each cohort of a dimension cites the one grouped
 * query). The workflow never reads them: diagnose() only copies them into its findings, which reach the handoff, and
 * the handoff recomputes the diagnosis from the evidence file Discover wrote anyway.
 *
 * So the discover activity returns the evidence with every `query` field replaced by `queryNo`, a number (in the
 * same position among the keys), and `queriesByNumber: true`. The numbers are those of numberQueries() over the whole
 * evidence, in the file: the first query met (depth first, in key order) is 0, a text already met keeps its number.
 * diagnose() of the numbered evidence gives findings with `queryNo` instead of `query`; the activities that read the
 * evidence file (the handoff, a brief's routes) number it the same way, so they compute the same diagnosis (the
 * digest matches) and put the texts back (withQueryTexts).
 *
 * Pure and lossless: expandQueries(numberQueries(x)) is x, key order included. Safe to import from workflow code.
 */

/** Deep enough for every `query` of DiscoverEvidence (reliability.toolErrors[i].query is depth 3). */
const MAX_DEPTH = 6;

export interface NumberedQueries<T> {
  /** `value` with each string `query` field replaced by `queryNo`, and `queriesByNumber: true`. */
  numbered: T & { queriesByNumber: true };
  /** The texts, by number. */
  table: string[];
}

/** Numbers the query texts of `value` (see the module comment). */
export function numberQueries<T extends object>(value: T): NumberedQueries<T> {
  const table: string[] = [];
  const index = new Map<string, number>();
  const walk = (v: unknown, depth: number): unknown => {
    if (!v || typeof v !== 'object' || depth > MAX_DEPTH) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      // An empty query stays as it is (diagnose() treats a tool's empty query as none).
      if (k === 'query' && typeof x === 'string' && x !== '') {
        let n = index.get(x);
        if (n === undefined) index.set(x, (n = table.push(x) - 1));
        out.queryNo = n;
      } else {
        out[k] = walk(x, depth + 1);
      }
    }
    return out;
  };
  return { numbered: { ...(walk(value, 0) as T), queriesByNumber: true }, table };
}

/**
 * `value` with every `queryNo` (to `maxDepth`) replaced by its text from `table` (a number the table lacks gives an
 * empty query); `queriesByNumber` is dropped. A value without numbered queries comes back equal.
 */
export function expandQueries<T>(value: T, table: readonly string[], maxDepth = MAX_DEPTH): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (!v || typeof v !== 'object' || depth > maxDepth) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'queryNo' && typeof x === 'number') out.query = table[x] ?? '';
      else if (k === 'queriesByNumber' && depth === 0) continue;
      else out[k] = walk(x, depth + 1);
    }
    return out;
  };
  return walk(value, 0) as T;
}

/** `{ queryNo }` when `source` carries a numbered query (for diagnose() to copy beside `query`), else `{}`. */
export function queryNoOf(source: { queryNo?: number } | null | undefined): { queryNo?: number } {
  return source && typeof source.queryNo === 'number' ? { queryNo: source.queryNo } : {};
}
