/**
 * Paged, bounded reads end to end: the real `bt sql` against the local server, which pages the way the service
 * documents it (cursor in the response, `OFFSET '<cursor>'` on a `_pagination_key` sort, LIMIT ≤ 1000, strict lint
 * on large fields with a LIMIT above 100). Every expectation is computed here from the rows this file writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperimentRows, rowKey } from '../src/activities/evals.js';
import { BtClient } from '../src/bt/client.js';
import { experimentSource, pageQuery, projectLogs, since } from '../src/bt/sql.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import type { RowScores } from '../src/workflows/logic/evidence.js';
import { tempBtDirs } from './support/bt-stub.js';
import { btFailure, localBtClient } from './support/bt-local.js';

const PROJECT = 'paging';
const N = 250;

let server: LocalServerHandle;
let dirs: ReturnType<typeof tempBtDirs>;
let bt: BtClient;
let projectId: string;
let experimentId: string;
/** The score each case got, by its join key (a hash of the input: these rows carry no dataset ids). */
const accByCase = new Map<string, number>();

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(server.apiUrl.replace(/\/$/, '') + path, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.ok).toBe(true);
  return (await res.json()) as T;
}


beforeAll(async () => {
  dirs = tempBtDirs();
  server = await startLocalServer({ port: 0, dataFile: join(dirs.home, 'local.duckdb') });
  bt = localBtClient(server, dirs);
  projectId = (await api<{ id: string }>('POST', '/v1/project', { name: PROJECT })).id;
  experimentId = (await api<{ experiment: { id: string } }>('POST', '/api/experiment/register', { project_name: PROJECT, experiment_name: 'exp-250' })).experiment.id;
  const now = new Date().toISOString();
  const rows = [];
  for (let i = 0; i < N; i++) {
    const acc = (i * 7) % 11 / 10; // 0 … 1 in tenths, uneven
    // A large-ish input: the reason these rows are read in small pages.
    const input = { question: `question ${i} ${'x'.repeat(400)}` };
    accByCase.set(rowKey({ input }), acc);
    rows.push({
      id: `r${i}`,
      span_id: `r${i}`,
      root_span_id: `r${i}`,
      experiment_id: experimentId,
      created: now,
      is_root: true,
      input,
      metadata: { i },
      scores: { acc },
    });
  }
  await api('POST', '/logs3', { api_version: 2, rows });
  // Project logs for the descending-order and cap tests.
  const logs = [];
  for (let i = 0; i < 30; i++) {
    logs.push({ id: `l${i}`, span_id: `l${i}`, root_span_id: `l${i}`, project_id: projectId, log_id: 'g', created: now, is_root: true, input: `log ${i}`, output: 'ok' });
  }
  await api('POST', '/logs3', { api_version: 2, rows: logs });
}, 120_000);

afterAll(async () => {
  await server?.close();
  dirs?.cleanup();
});

describe('paging through the real bt against the local server', () => {
  it('the cursor round-trips through bt: OFFSET the previous response cursor on a _pagination_key sort', async () => {
    const base = `SELECT id, _pagination_key FROM ${experimentSource(experimentId)}`;
    const p1 = await bt.sql(pageQuery(base, { limit: 100 }));
    expect(p1.data).toHaveLength(100);
    expect(typeof p1.cursor).toBe('string');
    const p2 = await bt.sql(pageQuery(base, { limit: 100, cursor: p1.cursor as string }));
    expect(p2.data).toHaveLength(100);
    expect(typeof p2.cursor).toBe('string');
    const p3 = await bt.sql(pageQuery(base, { limit: 100, cursor: p2.cursor as string }));
    expect(p3.data).toHaveLength(50);
    expect(p3.cursor).toBeNull();
    const keys = [...p1.data, ...p2.data, ...p3.data].map((r) => String(r._pagination_key));
    expect([...keys].sort()).toEqual(keys); // ascending, no overlap between pages
    expect(new Set(keys).size).toBe(N);
    expect(new Set([...p1.data, ...p2.data, ...p3.data].map((r) => r.id))).toEqual(new Set(Array.from({ length: N }, (_, i) => `r${i}`)));
  });

  it('a cursor needs a cursor-compatible sort (ORDER BY created is a 400, exit 4)', async () => {
    const p1 = await bt.sql(pageQuery(`SELECT id FROM ${experimentSource(experimentId)}`, { limit: 10 }));
    const err = await btFailure(bt.sql(`SELECT id FROM ${experimentSource(experimentId)} ORDER BY created LIMIT 10 OFFSET '${p1.cursor}'`));
    expect(err.exitCode).toBe(4);
  });

  it('the eval-row loader reads a 250-row experiment fully: its inputs in 3 pages of 100; the mean is the mean over every row', async () => {
    const loaded = await loadExperimentRows(bt, experimentId, join(dirs.home, 'rows-all.jsonl'));
    // One page of small fields (scores, keys; up to 1000 rows), then the inputs the join key is hashed from: 3 pages.
    expect(loaded).toMatchObject({ spansRead: N, requests: 1 + 3, truncated: false });
    expect(loaded.rows).toHaveLength(N);
    const fromFile = readFileSync(loaded.file.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RowScores);
    expect(fromFile).toHaveLength(N);
    expect(new Set(fromFile.map((r) => r.key))).toEqual(new Set(accByCase.keys()));
    for (const r of fromFile) expect(r.scores.acc).toBe(accByCase.get(r.key));
    const want = [...accByCase.values()].reduce((a, b) => a + b, 0) / N;
    const got = fromFile.reduce((a, r) => a + (r.scores.acc as number), 0) / N;
    expect(got).toBeCloseTo(want, 12);
  });

  it('a cap smaller than the data reports truncation with counts; a cap equal to the data does not', async () => {
    const cut = await loadExperimentRows(bt, experimentId, join(dirs.home, 'rows-150.jsonl'), undefined, { maxRows: 150 });
    expect(cut).toMatchObject({ spansRead: 150, truncated: true, cap: 150 });
    expect(cut.rows).toHaveLength(150);
    const exact = await loadExperimentRows(bt, experimentId, join(dirs.home, 'rows-250.jsonl'), undefined, { maxRows: N });
    expect(exact).toMatchObject({ spansRead: N, truncated: false, cap: N });
  });

  it('sqlPages: newest first on project logs, capped, with the strict range filter', async () => {
    const base = `SELECT id, input FROM ${projectLogs(projectId)} WHERE ${since(1)} AND is_root = true`;
    const all = await bt.sqlPages(base, { pageSize: 7, maxRows: 1000, order: 'desc' });
    expect(all).toMatchObject({ truncated: false, pages: 5 });
    expect(all.data.map((r) => r.id)).toEqual(Array.from({ length: 30 }, (_, i) => `l${29 - i}`));
    const some = await bt.sqlPages(base, { pageSize: 7, maxRows: 10, order: 'desc' });
    expect(some.truncated).toBe(true);
    expect(some.data.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => `l${29 - i}`));
    await expect(bt.sqlPages(base, { pageSize: 1001, maxRows: 10 })).rejects.toMatchObject({ kind: 'usage' });
  });
});

describe('the local server is as strict as the service on limits and large fields', () => {
  it('strict lint (bt sql) blocks large fields without a small LIMIT: 400, exit 4, the rule named', async () => {
    for (const q of [
      `SELECT id, input FROM ${experimentSource(experimentId)} LIMIT 500`,
      `SELECT * FROM ${experimentSource(experimentId)}`,
      `SELECT id, output FROM ${projectLogs(projectId)} WHERE ${since(1)} LIMIT 101`,
    ]) {
      const err = await btFailure(bt.sql(q));
      expect(err.exitCode, q).toBe(4);
      expect(err.kind, q).toBe('bad_query');
      expect(err.stderrTail, q).toMatch(/large fields/);
    }
  });

  it('large fields with LIMIT ≤ 100, sub-paths of them, and grouped queries pass the lint', async () => {
    expect((await bt.sql(`SELECT id, input FROM ${experimentSource(experimentId)} LIMIT 100`)).data).toHaveLength(100);
    const small = await bt.sql(`SELECT id, metadata.i FROM ${experimentSource(experimentId)} LIMIT 1000`);
    expect(small.data).toHaveLength(N);
    expect(small.warnings ?? []).toEqual([]);
    const grouped = await bt.sql(`SELECT metadata, COUNT(*) AS n FROM ${experimentSource(experimentId)} GROUP BY metadata`);
    expect(grouped.data).toHaveLength(N);
  });

  it('without strict lint the same query runs and carries the warning', async () => {
    const res = await bt.sql(`SELECT id, input FROM ${experimentSource(experimentId)} LIMIT 500`, { forceIgnoreLinter: true });
    expect(res.data).toHaveLength(N);
    expect((res.warnings as Array<{ code: string }> | undefined)?.map((w) => w.code)).toEqual(['largeFieldsWithoutSmallLimit']);
  });

  it('LIMIT above 1000 is a 400 (exit 4) even with the linter off', async () => {
    const err = await btFailure(bt.sql(`SELECT id FROM ${experimentSource(experimentId)} LIMIT 1001`, { forceIgnoreLinter: true }));
    expect(err.exitCode).toBe(4);
  });

  it('without LIMIT a page holds at most 1000 rows and a cursor continues it', async () => {
    const ids = await bt.sql(`SELECT id FROM ${experimentSource(experimentId)}`);
    expect(ids.data).toHaveLength(N);
    expect(ids.cursor).toBeNull();
  });
});

describe('pageQuery', () => {
  it('appends the _pagination_key sort, the limit and the quoted cursor', () => {
    expect(pageQuery("SELECT id FROM experiment('e')", { limit: 100 })).toBe("SELECT id FROM experiment('e') ORDER BY _pagination_key ASC LIMIT 100");
    expect(pageQuery("SELECT id FROM experiment('e')", { limit: 5, cursor: "c'1", order: 'desc' })).toBe(
      "SELECT id FROM experiment('e') ORDER BY _pagination_key DESC LIMIT 5 OFFSET 'c''1'",
    );
  });
  it('refuses a base with its own ORDER BY / LIMIT / OFFSET, and limits above the service maximum', () => {
    expect(() => pageQuery("SELECT id FROM experiment('e') LIMIT 5", { limit: 5 })).toThrow(/ORDER BY, LIMIT or OFFSET/);
    expect(() => pageQuery("SELECT id FROM experiment('e') ORDER BY id", { limit: 5 })).toThrow(/ORDER BY, LIMIT or OFFSET/);
    // Words inside literals are not clauses.
    expect(pageQuery("SELECT id FROM experiment('e') WHERE input = 'order by limit'", { limit: 5 })).toContain('LIMIT 5');
    expect(() => pageQuery("SELECT id FROM experiment('e')", { limit: 1001 })).toThrow(/at most 1000/);
  });
});
