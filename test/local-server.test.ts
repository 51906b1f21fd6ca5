/**
 * The local Braintrust-compatible server driven by the REAL `bt` 0.12.0 binary: projects, experiments,
 * sql (incl. strict lint and unsupported queries), view, datasets, functions, auth, restart survival.
 */
import { mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServerHandle, startLocalServer } from '../src/local-server/index.js';
import { packageRoot } from '../src/paths.js';
import { apiClient, type BtRunner, makeBtRunner } from './support/local-server-bt.js';
import { fixtureRows } from './support/local-server-fixture.js';

interface SqlOut {
  data: Array<Record<string, unknown>>;
  schema: unknown;
  cursor: string | null;
}

let tmp: string;
let dataFile: string;
let server: LocalServerHandle;
let bt: BtRunner;
let projectId: string;
let experimentId: string;
const PROJECT = 'flywheel-demo';
const API_KEY = 'test-key-123';

async function sql(query: string, extra: string[] = []): Promise<SqlOut> {
  return bt.json<SqlOut>(['sql', '--json', ...extra, query]);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'local-server-test-'));
  dataFile = join(tmp, '.flywheel', 'braintrust-local.duckdb');
  server = await startLocalServer({ port: 0, dataFile, apiKey: API_KEY });
  bt = makeBtRunner(server.btEnv(), join(tmp, 'bt'));
  const api = apiClient(server.apiUrl, server.apiKey);
  const p = await api<{ id: string }>('POST', '/v1/project', { name: PROJECT });
  projectId = p.id;
  await api('POST', '/logs3', { rows: fixtureRows({ projectId }), api_version: 2 });
  const reg = await api<{ experiment: { id: string } }>('POST', '/api/experiment/register', {
    project_name: PROJECT,
    experiment_name: 'baseline-1',
    metadata: { model: 'gpt-large' },
    tags: ['nightly'],
  });
  experimentId = reg.experiment.id;
  await api('POST', '/logs3', {
    rows: [0, 1, 2, 3].map((i) => ({
      id: `e${i}`,
      span_id: `e${i}`,
      root_span_id: `e${i}`,
      experiment_id: experimentId,
      input: { q: i },
      output: i,
      expected: i % 2 ? i : -1,
      scores: { exact: i % 2 },
      metrics: { start: 1, end: 2 },
    })),
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('local server with the real bt binary', () => {
  it('lists projects (login omits api_url, bt uses the env URL)', async () => {
    const projects = await bt.json<Array<{ id: string; name: string; org_id: string }>>(['projects', 'list', '--json']);
    expect(projects).toEqual([expect.objectContaining({ id: projectId, name: PROJECT, org_id: expect.any(String) })]);
    const status = await bt.json<{ org: string }>(['status', '--json']);
    expect(status.org).toBe('local');
  });

  it('rejects a wrong API key with 401 (bt exit 2)', async () => {
    const r = await bt.run(['projects', 'list', '--json'], { env: { BRAINTRUST_API_KEY: 'wrong' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('401');
  });

  it('lists and views experiments', async () => {
    const list = await bt.json<Array<Record<string, unknown>>>(['experiments', 'list', '-p', PROJECT, '--json']);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: experimentId, name: 'baseline-1', project_id: projectId, tags: ['nightly'], metadata: { model: 'gpt-large' } });
    const view = await bt.json<Record<string, unknown>>(['experiments', 'view', 'baseline-1', '-p', PROJECT, '--json']);
    expect(view.id).toBe(experimentId);
    const missing = await bt.run(['experiments', 'view', 'nope', '-p', PROJECT, '--json']);
    expect(missing.exitCode).toBe(4);
  });

  it('runs the seed discovery queries', async () => {
    const schema = await sql(`SELECT * FROM project_logs('${projectId}') WHERE is_root = true AND created >= NOW() - INTERVAL 1 day LIMIT 1`);
    expect(schema.data).toHaveLength(1);
    const row = schema.data[0]!;
    expect(row.id).toBe('trace-0');
    expect(row.scores).toEqual({ 'Response Quality': 0, helpful: 0 });
    expect(typeof row.created).toBe('string');
    expect(String(row.created)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(schema.schema).toMatchObject({ type: 'array', items: { type: 'object' } });

    const errors = await sql(`SELECT id, error FROM project_logs('${projectId}') WHERE is_root = true AND error IS NOT NULL AND created >= NOW() - INTERVAL 7 day LIMIT 20`);
    expect(errors.data.map((r) => r.id).sort()).toEqual(['trace-11', 'trace-3', 'trace-7']);
    expect(errors.data[0]!.error).toMatch(/^Timeout calling tool/);

    const low = await sql(
      `SELECT id, scores."Response Quality" FROM project_logs('${projectId}') WHERE is_root = true AND scores."Response Quality" <= 0.25 AND created >= NOW() - INTERVAL 7 day LIMIT 20`,
    );
    expect(low.data.map((r) => r['Response Quality']).every((v) => typeof v === 'number' && v <= 0.25)).toBe(true);
    expect(low.data).toHaveLength(6); // i % 5 in {0, 1} for i < 12: 0,1,5,6,10,11

    const dist = await sql(
      `SELECT scores."Response Quality", COUNT(*) AS count FROM project_logs('${projectId}') WHERE is_root = true AND created >= NOW() - INTERVAL 7 day GROUP BY scores."Response Quality" ORDER BY scores."Response Quality"`,
    );
    expect(dist.data).toEqual([
      { 'Response Quality': 0, count: 3 },
      { 'Response Quality': 0.25, count: 3 },
      { 'Response Quality': 0.5, count: 2 },
      { 'Response Quality': 0.75, count: 2 },
      { 'Response Quality': 1, count: 2 },
    ]);

    const facets = await sql(
      `SELECT facets."Topic", COUNT(*) AS count FROM project_logs('${projectId}', shape => 'traces') WHERE created >= NOW() - INTERVAL 7 day AND is_root = true GROUP BY facets."Topic" ORDER BY count DESC, facets."Topic"`,
    );
    // traces shape: all spans of matching traces (facets live on roots, children give the null bucket)
    expect(facets.data).toEqual([
      { Topic: null, count: 24 },
      { Topic: 'auth', count: 4 },
      { Topic: 'billing', count: 4 },
      { Topic: 'shipping', count: 4 },
    ]);

    const slow = await sql(
      `SELECT id, metrics.duration_ms FROM project_logs('${projectId}') WHERE is_root = true AND metrics.duration_ms > 10000 AND created >= NOW() - INTERVAL 7 day ORDER BY metrics.duration_ms DESC LIMIT 20`,
    );
    expect(slow.data[0]).toEqual({ id: 'trace-11', duration_ms: 17500 });
    expect(slow.data.map((r) => r.duration_ms)).toEqual([17500, 16000, 14500, 13000, 11500]);

    const byName = await sql(`SELECT COUNT(*) AS n FROM project_logs('${PROJECT}') WHERE created >= NOW() - INTERVAL 30 day`);
    expect(byName.data).toEqual([{ n: 36 }]);
  });

  it('runs experiment queries', async () => {
    const stats = await sql(`SELECT AVG(scores.exact) AS avg_score, MIN(scores.exact) AS min_score, MAX(scores.exact) AS max_score FROM experiment('${experimentId}')`);
    expect(stats.data).toEqual([{ avg_score: 0.5, min_score: 0, max_score: 1 }]);
    const regress = await sql(`SELECT id, scores.exact FROM experiment('${experimentId}') WHERE scores.exact < 0.5 ORDER BY id`);
    expect(regress.data).toEqual([
      { id: 'e0', exact: 0 },
      { id: 'e2', exact: 0 },
    ]);
  });

  it('blocks unbounded project_logs queries in strict lint mode (exit 4), like the real service', async () => {
    const r = await bt.run(['sql', '--json', `SELECT id FROM project_logs('${projectId}') LIMIT 1`]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('Query blocked due to lint failures');
    expect(r.stderr).toContain('No filters available for segment elimination.');
    const forced = await sql(`SELECT id FROM project_logs('${projectId}') WHERE is_root LIMIT 1`, ['--force-ignore-linter']);
    expect(forced.data).toHaveLength(1);
    const scoped = await sql(`SELECT id FROM project_logs('${projectId}') WHERE root_span_id = 'trace-2'`);
    expect(scoped.data.map((x) => x.id).sort()).toEqual(['trace-2', 'trace-2-llm', 'trace-2-tool']);
  });

  it('answers unsupported SQL with a clear 400 (exit 4), never a wrong answer', async () => {
    const cases: Array<[string, RegExp]> = [
      [`SELECT a.id FROM project_logs('${projectId}') a JOIN project_logs('${projectId}') b ON a.id = b.id WHERE a.created > '2020-01-01'`, /joins is not part of Braintrust SQL.*query each source on its own/],
      [`SELECT id FROM project_logs('${projectId}') WHERE created > NOW() - INTERVAL 1 day AND id IN (SELECT id FROM project_logs('${projectId}'))`, /subqueries is not part of Braintrust SQL.*run two queries/],
      [`SELECT id, row_number() OVER (ORDER BY created) FROM experiment('${experimentId}')`, /window functions/],
      [`SELECT id FROM experiment('${experimentId}') UNION SELECT id FROM experiment('${experimentId}')`, /UNION is not supported/],
      [`SELECT levenshtein(id, 'x') FROM experiment('${experimentId}')`, /unknown function LEVENSHTEIN/],
      [`SELECT id FROM logs WHERE created > NOW() - INTERVAL 1 day`, /bare table/],
    ];
    for (const [q, re] of cases) {
      const r = await bt.run(['sql', '--json', q]);
      expect(r.exitCode, q).toBe(4);
      expect(r.stderr, q).toContain('400 Bad Request');
      expect(r.stderr, q).toMatch(re);
    }
  });

  it('views logs, traces and spans (legacy pipe syntax)', async () => {
    const logs = await bt.json<{ items: Array<{ root_span_id: string; row: Record<string, unknown> }>; paging: { next_cursor: string | null; has_more: boolean } }>(
      ['view', 'logs', '-p', PROJECT, '--json', '--window', '3d', '--limit', '3'],
    );
    expect(logs.items.map((i) => i.root_span_id)).toEqual(['trace-0', 'trace-1', 'trace-2']);
    expect(logs.items.every((i) => i.row.is_root === true)).toBe(true);
    expect(logs.paging.next_cursor).toBeTruthy();
    const next = await bt.json<{ items: Array<{ root_span_id: string }> }>([
      'view', 'logs', '-p', PROJECT, '--json', '--window', '3d', '--limit', '3', '--cursor', logs.paging.next_cursor!,
    ]);
    expect(next.items.map((i) => i.root_span_id)).toEqual(['trace-3', 'trace-4', 'trace-5']);

    const search = await bt.json<{ items: Array<{ root_span_id: string }> }>([
      'view', 'logs', '-p', PROJECT, '--json', '--window', '30d', '--search', 'NUMBER 7',
    ]);
    // MATCH is full-word and case-insensitive: "number 7" must not match "number 17" or "number 70".
    expect(search.items.map((i) => i.root_span_id)).toEqual(['trace-7']);
    const errs = await bt.json<{ items: Array<{ root_span_id: string }> }>([
      'view', 'logs', '-p', PROJECT, '--json', '--window', '30d', '--filter', "error MATCH 'timeout'",
    ]);
    expect(errs.items.map((i) => i.root_span_id)).toEqual(['trace-3', 'trace-7', 'trace-11']);

    const trace = await bt.json<{ items: Array<Record<string, unknown>> }>(['view', 'trace', '-p', PROJECT, '--json', '--trace-id', 'trace-4']);
    expect(trace.items.map((r) => r.id)).toEqual(['trace-4', 'trace-4-llm', 'trace-4-tool']);

    const span = await bt.json<{ item: Record<string, unknown> | null }>(['view', 'span', '-p', PROJECT, '--json', '--id', 'trace-4-llm']);
    expect(span.item).toMatchObject({ id: 'trace-4-llm', root_span_id: 'trace-4', span_parents: ['trace-4'], span_attributes: { type: 'llm' } });
    const none = await bt.json<{ item: unknown }>(['view', 'span', '-p', PROJECT, '--json', '--id', 'nope']);
    expect(none.item).toBeNull();
  });

  it('creates, updates (idempotently), lists and views datasets', async () => {
    const rows = [
      { id: 'case-1', input: { q: 'a' }, expected: 'A', metadata: { split: 'train' }, tags: ['x'] },
      { id: 'case-2', input: { q: 'b' }, expected: 'B' },
    ];
    const created = await bt.json<{ dataset: { id: string }; uploaded: number; created_dataset: boolean }>([
      'datasets', 'create', 'golden', '-p', PROJECT, '--json', '--rows', JSON.stringify(rows),
    ]);
    expect(created).toMatchObject({ uploaded: 2, created_dataset: true });
    const datasetId = created.dataset.id;
    const update = [
      { id: 'case-2', input: { q: 'b' }, expected: 'B2' },
      { id: 'case-3', input: { q: 'c' }, expected: 'C' },
    ];
    for (let i = 0; i < 2; i++) {
      await bt.json(['datasets', 'update', 'golden', '-p', PROJECT, '--json', '--rows', JSON.stringify(update)]);
    }
    const list = await bt.json<Array<{ id: string; name: string }>>(['datasets', 'list', '-p', PROJECT, '--json']);
    expect(list.map((d) => d.name)).toEqual(['golden']);
    const view = await bt.json<{ rows: Array<Record<string, unknown>>; rows_truncated: boolean }>(['datasets', 'view', 'golden', '-p', PROJECT, '--json', '--full']);
    expect(view.rows.map((r) => r.id).sort()).toEqual(['case-1', 'case-2', 'case-3']);
    expect(view.rows.find((r) => r.id === 'case-2')!.expected).toBe('B2');
    expect(view.rows.find((r) => r.id === 'case-1')).toMatchObject({ metadata: { split: 'train' }, tags: ['x'] });
    const count = await sql(`SELECT COUNT(*) AS n, count_distinct(id) AS ids FROM dataset('${datasetId}')`);
    expect(count.data).toEqual([{ n: 3, ids: 3 }]);
    const dup = await bt.run(['datasets', 'create', 'golden', '-p', PROJECT, '--json']);
    expect(dup.exitCode).not.toBe(0);
  });

  it('pushes, lists and views a code scorer; invoke is a clear 400', async () => {
    const dir = mkdtempSync(join(packageRoot, 'test', '.tmp-local-server-fn-'));
    try {
      symlinkSync(join(packageRoot, 'node_modules'), join(dir, 'node_modules'));
      writeFileSync(
        join(dir, 'scorer.ts'),
        `import braintrust from "braintrust";
const project = braintrust.projects.create({ name: ${JSON.stringify(PROJECT)} });
project.scorers.create({
  name: "Length check",
  slug: "length-check",
  description: "1 when the answer is longer than 3 characters",
  handler: ({ output }: { output: string }) => (String(output).length > 3 ? 1 : 0),
});
`,
      );
      const push = await bt.run(['functions', 'push', '--json', '--file', join(dir, 'scorer.ts')], { cwd: dir, timeoutMs: 120_000 });
      expect(push.exitCode, push.stderr).toBe(0);
      expect(JSON.parse(push.stdout)).toMatchObject({ status: 'success', uploaded_files: 1 });
      const list = await bt.json<Array<Record<string, unknown>>>(['functions', 'list', '-p', PROJECT, '--json']);
      expect(list).toEqual([expect.objectContaining({ slug: 'length-check', name: 'Length check', function_type: 'scorer', project_id: projectId })]);
      const scorers = await bt.json<unknown[]>(['scorers', 'list', '-p', PROJECT, '--json']);
      expect(scorers).toHaveLength(1);
      const view = await bt.json<Record<string, unknown>>(['functions', 'view', 'length-check', '-p', PROJECT, '--json']);
      expect(view).toMatchObject({ slug: 'length-check', function_data: { type: 'code' } });
      const byId = await bt.json<Record<string, unknown>>(['functions', 'view', '--id', String(view.id), '--json']);
      expect(byId.slug).toBe('length-check');
      const again = await bt.run(['functions', 'push', '--json', '--if-exists', 'replace', '--file', join(dir, 'scorer.ts')], { cwd: dir, timeoutMs: 120_000 });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(await bt.json<unknown[]>(['functions', 'list', '-p', PROJECT, '--json'])).toHaveLength(1);
      const invoke = await bt.run(['functions', 'invoke', 'length-check', '-p', PROJECT, '--json', '--input', '{"output":"abcd"}']);
      expect(invoke.exitCode).toBe(4);
      expect(invoke.stderr).toContain('not supported locally');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps everything across a restart on the same data file', async () => {
    const before = await sql(`SELECT COUNT(*) AS n FROM project_logs('${projectId}') WHERE created >= NOW() - INTERVAL 30 day`);
    await server.close();
    server = await startLocalServer({ port: 0, dataFile, apiKey: API_KEY });
    bt = makeBtRunner(server.btEnv(), join(tmp, 'bt'));
    const after = await sql(`SELECT COUNT(*) AS n FROM project_logs('${projectId}') WHERE created >= NOW() - INTERVAL 30 day`);
    expect(after.data).toEqual(before.data);
    const projects = await bt.json<Array<{ id: string }>>(['projects', 'list', '--json']);
    expect(projects.map((p) => p.id)).toEqual([projectId]);
    expect(await bt.json<unknown[]>(['experiments', 'list', '-p', PROJECT, '--json'])).toHaveLength(1);
    expect(await bt.json<unknown[]>(['datasets', 'list', '-p', PROJECT, '--json'])).toHaveLength(1);
    expect(await bt.json<unknown[]>(['functions', 'list', '-p', PROJECT, '--json'])).toHaveLength(1);
    // New writes after a restart get larger transaction ids than everything before.
    const api = apiClient(server.apiUrl, server.apiKey);
    await api('POST', '/logs3', { rows: [{ id: 'late', project_id: projectId, log_id: 'g', input: 'late' }] });
    const x = await sql(`SELECT id, _xact_id FROM project_logs('${projectId}') WHERE created >= NOW() - INTERVAL 30 day ORDER BY _xact_id DESC LIMIT 2`);
    expect(x.data[0]!.id).toBe('late');
    expect(BigInt(String(x.data[0]!._xact_id))).toBeGreaterThan(BigInt(String(x.data[1]!._xact_id)));
  });
});
