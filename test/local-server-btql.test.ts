/** BTQL (SQL, pipe and structured syntax) → DuckDB, and /logs3 upsert semantics, against an in-memory store. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryError } from '../src/local-server/btql/ast.js';
import { LintError, runBtql } from '../src/local-server/btql/run.js';
import { parseQuery } from '../src/local-server/btql/parser.js';
import { ingestRows } from '../src/local-server/ingest.js';
import { Store } from '../src/local-server/store.js';
import { fixtureRows } from './support/local-server-fixture.js';

let store: Store;
let P: string;
const NOW = Date.now();
const W = `created >= NOW() - INTERVAL 30 day`;

async function q(query: string | Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return runBtql(store, { query, ...extra });
}
async function rows(query: string | Record<string, unknown>) {
  return (await q(query)).data;
}

beforeAll(async () => {
  store = await Store.open(':memory:');
  P = (await store.ensureProject('btql')).id;
  await ingestRows(store, fixtureRows({ projectId: P, now: NOW }));
});

afterAll(async () => {
  await store?.close();
});

describe('BTQL SQL syntax', () => {
  it('filters with comparison, boolean, IN, LIKE/ILIKE, IS NULL, BETWEEN and nested paths', async () => {
    const ids = async (where: string) =>
      (await rows(`SELECT id FROM project_logs('${P}') WHERE is_root AND ${W} AND (${where}) ORDER BY id`)).map((r) => r.id);
    expect(await ids(`metadata.model = 'gpt-small' AND scores.helpful = 1`)).toEqual(['trace-1', 'trace-11', 'trace-3', 'trace-5', 'trace-7', 'trace-9']);
    expect(await ids(`metadata.version IN ('v2') AND NOT (scores."Response Quality" > 0.25)`)).toEqual(['trace-1', 'trace-11', 'trace-5']);
    expect(await ids(`facets.Topic NOT IN ['billing', 'auth']`)).toEqual(['trace-11', 'trace-2', 'trace-5', 'trace-8']);
    expect(await ids(`input.question ILIKE '%NUMBER 1_?'`)).toEqual(['trace-10', 'trace-11']);
    expect(await ids(`input.question LIKE '%number 1_?'`)).toEqual(['trace-10', 'trace-11']);
    expect(await ids(`output IS NULL`)).toEqual(['trace-11', 'trace-3', 'trace-7']);
    expect(await ids(`error IS NOT NULL OR metrics.duration_ms BETWEEN 1000 AND 2500`)).toEqual(['trace-0', 'trace-1', 'trace-11', 'trace-3', 'trace-7']);
    expect(await ids(`tags IN ('web') AND input.user = 'u0'`)).toEqual(['trace-0', 'trace-6']);
    expect(await ids(`tags NOT IN ('web', 'prod') AND input.user = 'u0'`)).toEqual(['trace-3', 'trace-9']);
    expect(await ids(`metadata.model IN ('gpt-large') AND tags IN ('web') AND input.user = 'u1'`)).toEqual(['trace-10', 'trace-4']);
    expect(await ids(`span_attributes.type = 'task' AND metrics.tokens >= 110`)).toEqual(['trace-10', 'trace-11']);
    expect(await ids(`created >= NOW() - INTERVAL 13 hour`)).toEqual(['trace-0', 'trace-1', 'trace-2']);
    expect(await ids(`created < NOW() - INTERVAL 3600 minute`)).toEqual(['trace-10', 'trace-11']);
    expect(await ids(`input MATCH 'PROBLEM number 4'`)).toEqual(['trace-4']);
    expect(await ids(`error MATCH 'timeout' AND metadata.model != 'gpt-large'`)).toEqual(['trace-11', 'trace-3', 'trace-7']);
    // search() reads the text fields bt's own --search reads; `error` is not documented as one of them.
    expect(await ids(`search('timeout')`)).toEqual([]);
    expect(await ids(`search('router') AND metadata.model != 'gpt-large'`)).toEqual(['trace-1', 'trace-5', 'trace-9']);
    expect(await ids(`search('u2 problem')`)).toEqual(['trace-11', 'trace-2', 'trace-5', 'trace-8']);
  });

  it('returns numbers as numbers, nested values as JSON, created as ISO and _xact_id as a string', async () => {
    const [r] = await rows(`SELECT id, created, _xact_id, _pagination_key, metadata, metadata.model, scores."Response Quality" AS rq, input.question, is_root, span_parents FROM project_logs('${P}') WHERE id = 'trace-4'`);
    expect(r).toEqual({
      id: 'trace-4',
      created: new Date(NOW - 4 * 6 * 3600_000).toISOString(),
      _xact_id: expect.stringMatching(/^\d{19}$/),
      _pagination_key: expect.stringMatching(/^p\d{19}$/),
      metadata: { model: 'gpt-large', version: 'v1' },
      model: 'gpt-large',
      rq: 1,
      question: 'How do I fix problem number 4?',
      is_root: true,
      span_parents: null,
    });
    const res = await q(`SELECT id, scores.helpful FROM project_logs('${P}') WHERE id = 'trace-4'`);
    expect(res.schema).toEqual({ type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, helpful: { type: 'number' } } } });
  });

  it('aggregates with GROUP BY, HAVING, aliases, the ternary, scalar functions, count_distinct and any_value', async () => {
    expect(
      await rows(
        `SELECT metadata.model AS model, COUNT(*) AS n, ROUND(AVG(scores."Response Quality"), 3) AS avg_q, SUM(metrics.tokens) AS tokens, MIN(metrics.duration_ms) AS min_ms, MAX(created) AS last
         FROM project_logs('${P}') WHERE is_root AND ${W} GROUP BY model HAVING n > 1 ORDER BY avg_q DESC`,
      ),
    ).toEqual([
      { model: 'gpt-small', n: 6, avg_q: 0.458, tokens: 636, min_ms: 2500, last: new Date(NOW - 6 * 3600_000).toISOString() },
      { model: 'gpt-large', n: 6, avg_q: 0.417, tokens: 630, min_ms: 1000, last: new Date(NOW).toISOString() },
    ]);
    expect(
      await rows(
        `SELECT (scores."Response Quality" >= 0.75 ? 'good' : scores."Response Quality" >= 0.5 ? 'ok' : 'bad') AS bucket, COUNT(*) AS n
         FROM project_logs('${P}') WHERE is_root AND ${W} GROUP BY 1 ORDER BY 2 DESC, 1`,
      ),
    ).toEqual([
      { bucket: 'bad', n: 6 },
      { bucket: 'good', n: 4 },
      { bucket: 'ok', n: 2 },
    ]);
    expect(
      await rows(`SELECT count_distinct(metadata.model) AS models, COUNT(error) AS errors, count_distinct(root_span_id) AS traces, LOWER(COALESCE(NULL, 'X')) AS x, count((scores.helpful = 1) ? 1 : null) AS helpful, sum((error IS NULL) ? 0 : 1) AS errs FROM project_logs('${P}') WHERE ${W}`),
    ).toEqual([{ models: 2, errors: 3, traces: 12, x: 'x', helpful: 6, errs: 3 }]);
    const anyByModel = await rows(`SELECT metadata.model AS model, any_value(metadata.version) AS v, any_value(root_span_id) AS t FROM project_logs('${P}') WHERE is_root AND ${W} GROUP BY 1 ORDER BY 1`);
    expect(anyByModel.map((r) => [r.model, r.v])).toEqual([['gpt-large', 'v1'], ['gpt-small', 'v2']]);
    expect(String(anyByModel[0]!.t)).toMatch(/^trace-\d+$/);
    const byDay = await rows(`SELECT DATE_TRUNC('day', created) AS day, COUNT(*) AS n FROM project_logs('${P}') WHERE is_root AND ${W} GROUP BY day ORDER BY day`);
    expect(byDay.reduce((s, r) => s + Number(r.n), 0)).toBe(12);
    expect(String(byDay[0]!.day)).toMatch(/T00:00:00\.000Z$/);
    const random = await rows(`SELECT id FROM project_logs('${P}') WHERE is_root AND ${W} ORDER BY RANDOM() LIMIT 3`);
    expect(random).toHaveLength(3);
    const bad = await q(`SELECT id, COUNT(*) FROM project_logs('${P}') WHERE ${W}`).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(QueryError);
  });

  it('orders JSON values numerically and keeps string literals safe', async () => {
    const r = await rows(`SELECT metrics.duration_ms AS d FROM project_logs('${P}') WHERE is_root AND ${W} ORDER BY metrics.duration_ms DESC LIMIT 3`);
    expect(r.map((x) => x.d)).toEqual([17500, 16000, 14500]);
    expect(await rows(`SELECT id FROM project_logs('${P}') WHERE ${W} AND input.question = 'it''s ''); DROP TABLE rows; --'`)).toEqual([]);
    expect(await rows(`SELECT metadata."we""ird'key" AS v FROM project_logs('${P}') WHERE id = 'trace-0'`)).toEqual([{ v: null }]);
    expect((await rows(`SELECT COUNT(*) AS n FROM project_logs('${P}') WHERE ${W}`))[0]!.n).toBe(36);
  });
});

describe('shapes and paging', () => {
  it('traces shape returns every span of matching traces and LIMIT counts traces', async () => {
    const r = await rows(`SELECT id, root_span_id FROM project_logs('${P}', shape => 'traces') WHERE ${W} AND scores."Response Quality" = 1 LIMIT 1`);
    expect(r.map((x) => x.id)).toEqual(['trace-4', 'trace-4-llm', 'trace-4-tool']);
    const all = await rows(`SELECT root_span_id FROM project_logs('${P}', shape => 'traces') WHERE ${W} AND scores."Response Quality" = 1`);
    expect(new Set(all.map((x) => x.root_span_id))).toEqual(new Set(['trace-4', 'trace-9']));
    expect(all).toHaveLength(6);
  });

  it('summary shape returns one root row per trace', async () => {
    const r = await rows(`SELECT id, scores FROM project_logs('${P}', shape => 'summary') WHERE ${W} AND span_attributes.type = 'llm' LIMIT 2`);
    expect(r).toEqual([
      { id: 'trace-0', scores: { 'Response Quality': 0, helpful: 0 } },
      { id: 'trace-1', scores: { 'Response Quality': 0.25, helpful: 1 } },
    ]);
  });

  it('pages with a cursor (pipe syntax, as bt view/sync send it)', async () => {
    const seen: string[] = [];
    let cursor: string | null | undefined;
    for (let i = 0; i < 10; i++) {
      const res = await q(`select: id | from: project_logs('${P}') spans | filter: ${W} | sort: _pagination_key DESC | limit: 10${cursor ? ` | cursor: "${cursor}"` : ''}`);
      seen.push(...res.data.map((x) => String(x.id)));
      cursor = res.cursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(36);
    expect(new Set(seen).size).toBe(36);
    const summary = await q(`select: * | from: project_logs('${P}') summary | filter: (${W}) AND (is_root) | preview_length: 10 | sort: _pagination_key DESC | limit: 2`);
    expect(summary.data.map((x) => x.id)).toEqual(['trace-0', 'trace-1']);
    expect(summary.data[0]!.output).toBe('Answer 0: …');
    expect(summary.cursor).toBeTruthy();
  });

  it('accepts the structured query form (datasets view, SDK object fetcher)', async () => {
    const res = await q({
      select: [{ alias: 'id', expr: { op: 'ident', name: ['id'] } }, { alias: 'm', expr: { op: 'ident', name: ['metadata', 'model'] } }],
      from: { op: 'function', name: { op: 'ident', name: ['project_logs'] }, args: [{ op: 'literal', value: P }] },
      filter: {
        op: 'and',
        children: [
          { op: 'ge', left: { op: 'ident', name: ['created'] }, right: { op: 'literal', value: '1970-01-01T00:00:00Z' } },
          { op: 'eq', left: { op: 'ident', name: ['is_root'] }, right: { op: 'literal', value: true } },
          { op: 'btql', expr: "metadata.version = 'v2'" },
        ],
      },
      sort: [{ expr: { op: 'ident', name: ['created'] }, dir: 'desc' }],
      limit: 2,
    });
    expect(res.data).toEqual([
      { id: 'trace-1', m: 'gpt-small' },
      { id: 'trace-3', m: 'gpt-small' },
    ]);
  });
});

describe('lint and unsupported SQL', () => {
  it('applies the strict segment-elimination rule to project_logs only', async () => {
    const strict = { lint_mode: 'strict', strict_lint_mode: true };
    await expect(q(`SELECT id FROM project_logs('${P}') WHERE is_root`, strict)).rejects.toBeInstanceOf(LintError);
    await expect(q(`SELECT id FROM project_logs('${P}') WHERE is_root OR created > '2020-01-01'`, strict)).rejects.toThrow(/Query blocked by strict lint mode due to 1 lint:\n.*No filters available for segment elimination/);
    await expect(q(`SELECT id FROM project_logs('${P}') WHERE _xact_id > '0' LIMIT 1`, strict)).resolves.toBeTruthy();
    await expect(q(`SELECT id FROM project_logs('${P}') WHERE id IN ('trace-1')`, strict)).resolves.toBeTruthy();
    await expect(q(`SELECT id FROM project_logs('${P}') WHERE is_root LIMIT 1`)).resolves.toBeTruthy();
  });

  it('rejects what it cannot answer exactly, naming the construct', () => {
    const bad: Array<[string, RegExp]> = [
      [`WITH x AS (SELECT 1) SELECT * FROM x`, /WITH/],
      [`SELECT id FROM project_logs('p') WHERE created > now() - interval 1 day UNION ALL SELECT id FROM experiment('e')`, /UNION/],
      [`SELECT id FROM project_logs('p'), experiment('e')`, /joins/],
      [`SELECT (SELECT 1) FROM experiment('e')`, /subqueries/],
      [`SELECT sum(x) FILTER (WHERE y) FROM experiment('e')`, /FILTER/],
      [`SELECT id FROM experiment('e') WHERE`, /expected an expression/],
      [`select: * | from: project_logs('p') spans | pivot: x`, /pivot/],
      [`SELECT id FROM project_logs('p', shape => 'threads')`, /shape/],
      // Not documented in Braintrust SQL mode: a 400 naming the construct and what to use instead.
      [`SELECT CASE WHEN x THEN 1 ELSE 0 END FROM experiment('e')`, /CASE is not part of Braintrust SQL.*ternary/],
      [`SELECT COUNT(DISTINCT id) FROM experiment('e')`, /COUNT\(DISTINCT is not part of Braintrust SQL.*count_distinct/],
      [`SELECT SUM(DISTINCT x) FROM experiment('e')`, /SUM\(DISTINCT …\) is not part of Braintrust SQL.*count_distinct/],
      [`SELECT CAST(x AS int) FROM experiment('e')`, /CAST is not part of Braintrust SQL/],
      [`SELECT x::int FROM experiment('e')`, /'::' is not part of Braintrust SQL/],
      [`SELECT id FROM experiment('e') WHERE tags INCLUDES 'a'`, /INCLUDES is BTQL-only.*IN/],
      [`SELECT id FROM experiment('e') WHERE tags NOT CONTAINS 'a'`, /CONTAINS is BTQL-only/],
      [`SELECT id FROM experiment('e') WHERE ANY_SPAN(x = 1)`, /ANY_SPAN is documented by Braintrust but not implemented by the local server/],
      [`SELECT id FROM experiment('e') WHERE filter_spans(x = 1)`, /FILTER_SPANS is documented by Braintrust but not implemented/],
      [`SELECT id FROM experiment('e') WHERE a <=> 'b'`, /<=> is documented by Braintrust but not implemented/],
      [`SELECT id FROM experiment('e') WHERE error = 'C:\\temp\\'`, /backslash.*string literal at position 45/],
      [`SELECT metadata."a\\" FROM experiment('e')`, /backslash.*quoted name/],
      [`SELECT id FROM experiment('e') WHERE x = (1 ? 2)`, /expected ':'/],
    ];
    for (const [text, re] of bad) expect(() => parseQuery(text), text).toThrow(re);
  });

  it('keeps the pipe syntax as it was: INCLUDES, JSON-style backslash escapes', async () => {
    const r = await rows(`select: id | from: project_logs('${P}') spans | filter: is_root and tags includes 'web' and input.user = 'u0' and ${W} | sort: id asc`);
    expect(r.map((x) => x.id)).toEqual(['trace-0', 'trace-6']);
    expect(await rows(`select: id | from: project_logs('${P}') spans | filter: input.question = 'a\\'b' and ${W}`)).toEqual([]);
  });

  it('ternary: right-associative, below OR, usable in WHERE and inside aggregates', async () => {
    const r = await rows(`SELECT id, (metrics.tokens > 105 ? 'big' : 'small') AS size, (is_root ? 1 : 0) + 1 AS two FROM project_logs('${P}') WHERE id = 'trace-4' OR id = 'trace-11' ORDER BY id`);
    expect(r).toEqual([{ id: 'trace-11', size: 'big', two: 2 }, { id: 'trace-4', size: 'small', two: 2 }]);
    const w = await rows(`SELECT id FROM project_logs('${P}') WHERE is_root AND ${W} AND (metadata.model = 'gpt-large' ? metrics.tokens >= 110 : metrics.tokens >= 111) ORDER BY id`);
    expect(w.map((x) => x.id)).toEqual(['trace-10', 'trace-11']);
  });

  it('rejects unknown functions and unknown sources at translation', async () => {
    await expect(q(`SELECT json_extract(output, '$.a') FROM project_logs('${P}') WHERE ${W}`)).rejects.toThrow(/JSON_EXTRACT is documented by Braintrust but not implemented by the local server/);
    await expect(q(`SELECT sum(estimated_cost()) FROM project_logs('${P}') WHERE ${W}`)).rejects.toThrow(/ESTIMATED_COST is documented/);
    await expect(q(`SELECT regexp_replace(id, 'a', 'b') FROM project_logs('${P}') WHERE ${W}`)).rejects.toThrow(/unsupported: unknown function REGEXP_REPLACE/);
    await expect(q(`SELECT id FROM experiment('does-not-exist')`)).rejects.toThrow(/experiment 'does-not-exist' not found/);
  });
});

describe('/logs3 upserts', () => {
  it('replaces by id, merges with _is_merge (deep), deletes with _object_delete, and never duplicates', async () => {
    const d = await store.ensureDataset({ project_id: P, name: 'upserts' });
    const count = async () => (await rows(`SELECT COUNT(*) AS n FROM dataset('${d.id}')`))[0]!.n;
    await ingestRows(store, [
      { id: 'a', dataset_id: d.id, input: { x: 1 }, expected: 1, metadata: { k: { a: 1, b: 2 }, keep: true } },
      { id: 'b', dataset_id: d.id, input: { x: 2 } },
    ]);
    await ingestRows(store, [{ id: 'a', dataset_id: d.id, _is_merge: true, metadata: { k: { b: 3 } }, expected: 2 }]);
    await ingestRows(store, [{ id: 'a', dataset_id: d.id, _is_merge: true, metadata: { k: { b: 3 } }, expected: 2 }]);
    const [a] = await rows(`SELECT id, expected, metadata, input FROM dataset('${d.id}') WHERE id = 'a'`);
    expect(a).toEqual({ id: 'a', expected: 2, metadata: { k: { a: 1, b: 3 }, keep: true }, input: { x: 1 } });
    await ingestRows(store, [{ id: 'a', dataset_id: d.id, _is_merge: true, _merge_paths: [['metadata', 'k']], metadata: { k: { c: 1 } } }]);
    expect((await rows(`SELECT metadata FROM dataset('${d.id}') WHERE id = 'a'`))[0]!.metadata).toEqual({ k: { c: 1 }, keep: true });
    await ingestRows(store, [{ id: 'b', dataset_id: d.id, input: { x: 3 } }]);
    expect(await count()).toBe(2);
    expect((await rows(`SELECT input FROM dataset('${d.id}') WHERE id = 'b'`))[0]!.input).toEqual({ x: 3 });
    await ingestRows(store, [{ id: 'b', dataset_id: d.id, _object_delete: true }]);
    expect(await count()).toBe(1);
    const x = await rows(`SELECT _xact_id FROM dataset('${d.id}')`);
    expect(BigInt(String(x[0]!._xact_id))).toBeGreaterThan(1_000_000_000_000_000_000n);
  });

  it('stores values exactly: JSON numbers and strings, created from ISO or epoch, extra fields, roots; pagination keys survive updates', async () => {
    const d = await store.ensureDataset({ project_id: P, name: 'exact' });
    const tricky = { f: 0.1, tiny: 1e-7, big: 9007199254740991, neg: -0, s: `it's "quoted" \\ back\nslash ☃ 🧨 \u0001`, nested: [{ a: null }, [], {}], t: true };
    await ingestRows(store, [
      { id: 'iso', dataset_id: d.id, created: '2026-11-30T12:34:56.789Z', input: tricky, span_parents: [], custom_field: { x: 1 } },
      { id: 'secs', dataset_id: d.id, created: 1_700_000_000, input: 'plain string', span_parents: ['iso'], root_span_id: 'iso' },
      { id: 'ms', dataset_id: d.id, created: 1_700_000_000_123, input: 42 },
      { id: 'bad-date', dataset_id: d.id, created: 'not a date', expected: null },
    ]);
    const got = await rows(`SELECT id, created, input, is_root, root_span_id, span_parents, _pagination_key FROM dataset('${d.id}') ORDER BY _pagination_key ASC`);
    expect(got.map((r) => r.id)).toEqual(['iso', 'secs', 'ms', 'bad-date']);
    expect(got[0]).toMatchObject({ created: '2026-11-30T12:34:56.789Z', input: JSON.parse(JSON.stringify(tricky)), is_root: true, root_span_id: 'iso' });
    expect(got[0]!.span_parents ?? null).toBeNull();
    expect(got[1]).toMatchObject({ created: new Date(1_700_000_000_000).toISOString(), input: 'plain string', is_root: false, span_parents: ['iso'], root_span_id: 'iso' });
    expect(got[2]).toMatchObject({ created: new Date(1_700_000_000_123).toISOString(), input: 42 });
    // An unparseable `created` is the time of the write.
    expect(Math.abs(Date.parse(String(got[3]!.created)) - Date.now())).toBeLessThan(60_000);
    // Fields the schema does not know come back as written.
    const star = await rows(`select: * | from: dataset('${d.id}') | filter: id = 'iso'`);
    expect(star[0]).toMatchObject({ id: 'iso', custom_field: { x: 1 } });
    // A replace keeps the row's pagination key; a new row gets a larger one.
    await ingestRows(store, [{ id: 'iso', dataset_id: d.id, input: 'replaced' }, { id: 'new', dataset_id: d.id, input: 'n' }]);
    const after = await rows(`SELECT id, input, _pagination_key FROM dataset('${d.id}') ORDER BY _pagination_key ASC`);
    expect(after.find((r) => r.id === 'iso')).toEqual({ id: 'iso', input: 'replaced', _pagination_key: got[0]!._pagination_key });
    expect(after.at(-1)!.id).toBe('new');
  });

  it('a batch with a NUL in an id is refused whole (nothing written) and the next batch is stored normally', async () => {
    const d = await store.ensureDataset({ project_id: P, name: 'nul' });
    await expect(ingestRows(store, [{ id: 'ok-1', dataset_id: d.id, input: 1 }, { id: 'bad\u0000id', dataset_id: d.id, input: 2 }])).rejects.toThrow(/NUL characters are not allowed/);
    expect(await rows(`SELECT id FROM dataset('${d.id}')`)).toEqual([]);
    await ingestRows(store, [{ id: 'ok-2', dataset_id: d.id, input: { v: 'nul escaped in JSON \u0000 is fine' } }]);
    expect(await rows(`SELECT id, input FROM dataset('${d.id}')`)).toEqual([{ id: 'ok-2', input: { v: 'nul escaped in JSON \u0000 is fine' } }]);
  });

  it('serializes concurrent writers: no lost merges, no duplicate projects', async () => {
    const d = await store.ensureDataset({ project_id: P, name: 'concurrent' });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => ingestRows(store, [{ id: 'same', dataset_id: d.id, _is_merge: true, metadata: { [`k${i}`]: i } }])),
    );
    const [r] = await rows(`SELECT metadata FROM dataset('${d.id}')`);
    expect(Object.keys(r!.metadata as object)).toHaveLength(20);
    const ps = await Promise.all(Array.from({ length: 5 }, () => store.ensureProject('racy')));
    expect(new Set(ps.map((p) => p.id)).size).toBe(1);
    expect(await store.listProjects({ name: 'racy' })).toHaveLength(1);
  });
});
