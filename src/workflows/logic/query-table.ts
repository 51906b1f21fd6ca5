/**
 * Query texts interned for history (issue 9: a run's history stays small). Every statistic of Discover's evidence
 * carries the query that produced it, and the same text recurs: each cohort of a dimension cites the one grouped query,
 * each tool the one tool query. The discover activity returns each text once, in `queryTable`, and every `query`
 * field as `queryNo` (its index there), in the same position among the keys; the workflow expands it back before it
 * reads the evidence, so diagnose() sees — and the handoff's digest check compares — exactly the evidence Discover
 * wrote to the run directory.
 *
 * Pure and lossless: expandQueries(internQueries(x)) is x, key order included. A value without `queryTable` (results
 * recorded before this) is returned as it is. Safe to import from workflow code.
 */

/** The wire form: the evidence with its query texts once each. */
export type WithQueryTable<T> = T & { queryTable: string[] };

/** Deep enough for every `query` of DiscoverEvidence (reliability.toolErrors[i].query is depth 3). */
const MAX_DEPTH = 6;

/** `value` with every string `query` field replaced by `queryNo` (an index into the returned table). */
export function internQueries<T extends object>(value: T): WithQueryTable<T> {
  const table: string[] = [];
  const index = new Map<string, number>();
  const walk = (v: unknown, depth: number): unknown => {
    if (!v || typeof v !== 'object' || depth > MAX_DEPTH) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'query' && typeof x === 'string') {
        let n = index.get(x);
        if (n === undefined) index.set(x, (n = table.push(x) - 1));
        out.queryNo = n;
      } else {
        out[k] = walk(x, depth + 1);
      }
    }
    return out;
  };
  const body = walk(value, 0) as T;
  return { ...body, queryTable: table };
}

/** The value internQueries was given (when `value` carries a `queryTable`); any other value unchanged. */
export function expandQueries<T>(value: T): T {
  if (!value || typeof value !== 'object') return value;
  const { queryTable, ...body } = value as T & { queryTable?: unknown };
  if (!Array.isArray(queryTable)) return value;
  const table = queryTable as unknown[];
  const walk = (v: unknown, depth: number): unknown => {
    if (!v || typeof v !== 'object' || depth > MAX_DEPTH) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'queryNo' && typeof x === 'number') {
        const text = table[x];
        if (typeof text !== 'string') throw new Error(`queryNo ${x} is not in the query table (${table.length} queries)`);
        out.query = text;
      } else {
        out[k] = walk(x, depth + 1);
      }
    }
    return out;
  };
  return walk(body, 0) as T;
}
