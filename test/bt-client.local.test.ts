/**
 * The typed bt client against the embedded local Braintrust-compatible server (src/local-server):
 * real bt binary, real HTTP, DuckDB storage.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtClient } from '../src/bt/client.js';
import { BtError } from '../src/bt/errors.js';
import { errorsQuery, lowScoresQuery, projectLogs, since, sqlString } from '../src/bt/sql.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { tempBtDirs } from './support/bt-stub.js';
import { localBtClient } from './support/bt-local.js';

let server: LocalServerHandle;
let dirs: ReturnType<typeof tempBtDirs>;
let bt: BtClient;
let projectId: string;
const PROJECT = 'client-local';

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(server.apiUrl.replace(/\/$/, '') + path, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.ok).toBe(true);
  return res.json();
}

beforeAll(async () => {
  dirs = tempBtDirs();
  server = await startLocalServer({ port: 0, dataFile: join(dirs.home, 'local.duckdb') });
  bt = localBtClient(server, dirs);
  projectId = ((await api('POST', '/v1/project', { name: PROJECT })) as { id: string }).id;
  const now = new Date().toISOString();
  const span = (id: string, root: string, extra: Record<string, unknown>) => ({
    id,
    span_id: id,
    root_span_id: root,
    project_id: projectId,
    log_id: 'g',
    created: now,
    ...extra,
  });
  await api('POST', '/logs3', {
    api_version: 2,
    rows: [
      span('t1', 't1', { is_root: true, input: { q: "it's 2+2" }, output: '4', scores: { 'My "Score"': 1 }, span_attributes: { name: 'root', type: 'task' } }),
      span('t1-llm', 't1', { span_parents: ['t1'], input: 'child', output: 'c', span_attributes: { name: 'llm', type: 'llm' } }),
      span('t2', 't2', { is_root: true, input: { q: 'bad' }, error: 'boom', scores: { 'My "Score"': 0 }, span_attributes: { name: 'root', type: 'task' } }),
    ],
  });
});

afterAll(async () => {
  await server?.close();
  dirs?.cleanup();
});

describe('bt client against the local server', () => {
  it('projects list', async () => {
    const projects = await bt.projectsList();
    expect(projects.map((p) => p.name)).toContain(PROJECT);
  });

  it('sql with builders, hostile literal included', async () => {
    const all = await bt.sql(`SELECT id FROM ${projectLogs(projectId)} WHERE ${since(1)} AND is_root = true ORDER BY id`);
    expect(all.data.map((r) => r.id)).toEqual(['t1', 't2']);
    const errors = await bt.sql(errorsQuery(projectId, { days: 1 }));
    expect(errors.data.map((r) => r.id)).toEqual(['t2']);
    const low = await bt.sql(lowScoresQuery(projectId, 'My "Score"', { days: 1 }));
    expect(low.data.map((r) => r.id)).toEqual(['t2']);
    const hostile = await bt.sql(`SELECT id FROM ${projectLogs(projectId)} WHERE ${since(1)} AND id = ${sqlString("t1' OR '1'='1")}`);
    expect(hostile.data).toEqual([]);
  });

  it('strict lint blocks an unbounded project_logs query', async () => {
    const err = await bt.sql(`SELECT id FROM ${projectLogs(projectId)}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtError);
    expect(err).toMatchObject({ kind: 'bad_query', retryable: false });
  });

  it('view trace and span', async () => {
    const ref = `project_logs:${projectId}` as const;
    const trace = await bt.viewTrace({ objectRef: ref, traceId: 't1' });
    expect(trace.items.map((r) => r.id).sort()).toEqual(['t1', 't1-llm']);
    const span = await bt.viewSpan({ objectRef: ref, id: 't1-llm' });
    expect(span.item).toMatchObject({ id: 't1-llm', root_span_id: 't1' });
  });

  it('datasets create, then update is an idempotent upsert', async () => {
    const name = `golden-${randomUUID().slice(0, 8)}`;
    const created = await bt.datasetsCreate(PROJECT, name, { rows: [{ id: 'a', input: 1, expected: 2 }] });
    expect(created).toMatchObject({ created_dataset: true, uploaded: 1 });
    const again = await bt.datasetsCreate(PROJECT, name).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(BtError);

    const rows = [
      { id: 'a', input: 1, expected: 3 },
      { id: 'b', input: "it's", expected: 'x' },
    ];
    await bt.datasetsUpdate(PROJECT, name, { rows });
    await bt.datasetsUpdate(PROJECT, name, { rows });
    const view = await bt.datasetsView(PROJECT, name, { full: true });
    expect(view.rows.map((r) => [r.id, r.input, r.expected]).sort()).toEqual([
      ['a', 1, 3],
      ['b', "it's", 'x'],
    ]);
    expect((await bt.datasetsList(PROJECT)).map((d) => d.name)).toContain(name);
  });

  it('not found for an unknown experiment', async () => {
    await expect(bt.experimentsView(PROJECT, 'no-such-experiment')).rejects.toMatchObject({ kind: 'not_found' });
  });
});
