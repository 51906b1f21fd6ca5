/**
 * `bt sync pull` against the local server, then seeding the pulled directory into a fresh server
 * (idempotently), and `bt sync push` into another project.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServerHandle, startLocalServer } from '../src/local-server/index.js';
import { apiClient, type BtRunner, makeBtRunner } from './support/local-server-bt.js';
import { fixtureRows } from './support/local-server-fixture.js';

interface SqlOut {
  data: Array<Record<string, unknown>>;
}

let tmp: string;
let a: LocalServerHandle;
let b: LocalServerHandle;
let btA: BtRunner;
let btB: BtRunner;
let projectId: string;
let experimentId: string;
let datasetId: string;
let logsSpecDir: string;
const PROJECT = 'sync-src';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'local-server-sync-'));
  a = await startLocalServer({ port: 0, dataFile: join(tmp, 'a.duckdb') });
  b = await startLocalServer({ port: 0, dataFile: join(tmp, 'b.duckdb') });
  btA = makeBtRunner(a.btEnv(), join(tmp, 'bt-a'));
  btB = makeBtRunner(b.btEnv(), join(tmp, 'bt-b'));
  const api = apiClient(a.apiUrl, a.apiKey);
  projectId = (await api<{ id: string }>('POST', '/v1/project', { name: PROJECT })).id;
  await api('POST', '/logs3', { rows: fixtureRows({ projectId, traces: 20 }) });
  experimentId = (await api<{ experiment: { id: string } }>('POST', '/api/experiment/register', { project_name: PROJECT, experiment_name: 'exp-a' })).experiment.id;
  await api('POST', '/logs3', {
    rows: [0, 1, 2].map((i) => ({ id: `x${i}`, experiment_id: experimentId, input: i, output: i, scores: { s: i / 2 } })),
  });
  datasetId = (await api<{ id: string }>('POST', '/v1/dataset', { project_id: projectId, name: 'ds-a' })).id;
  await api('POST', '/logs3', { rows: [0, 1, 2, 3].map((i) => ({ id: `d${i}`, dataset_id: datasetId, input: { i }, expected: i })) });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function count(bt: BtRunner, source: string): Promise<number> {
  const filter = source.startsWith('project_logs') ? ' WHERE created >= NOW() - INTERVAL 3650 day' : '';
  const r = await bt.json<SqlOut>(['sql', '--json', `SELECT COUNT(*) AS n FROM ${source}${filter}`]);
  return Number(r.data[0]!.n);
}

describe('bt sync with the local server', () => {
  it('pulls project logs, an experiment and a dataset, and seeds them into a fresh server', async () => {
    const root = join(tmp, 'pulled');
    const pullLogs = await btA.json<{ status: string; items_done: number; spec_dir: string }>([
      'sync', 'pull', `project_logs:${PROJECT}`, '--json', '--window', '36500d', '--traces', '1000', '--root', root,
    ]);
    expect(pullLogs.status).toBe('completed');
    expect(pullLogs.items_done).toBe(60);
    logsSpecDir = pullLogs.spec_dir;
    const pullSpans = await btA.json<{ items_done: number }>([
      'sync', 'pull', `project_logs:${projectId}`, '--json', '--window', '36500d', '--spans', '25', '--page-size', '10', '--root', join(tmp, 'spans'),
    ]);
    expect(pullSpans.items_done).toBe(25);
    const pullExp = await btA.json<{ items_done: number }>(['sync', 'pull', `experiment:${experimentId}`, '--json', '--window', '36500d', '--root', root]);
    expect(pullExp.items_done).toBe(3);
    const pullDs = await btA.json<{ items_done: number }>(['sync', 'pull', `dataset:ds-a`, '-p', PROJECT, '--json', '--window', '36500d', '--root', root]);
    expect(pullDs.items_done).toBe(4);

    const seeded = await b.seedFromSyncDir(root, { projectName: 'seeded' });
    expect(seeded).toEqual({ projects: 1, rows: 60 + 3 + 4 });
    // Seeding the same snapshot again replaces rows instead of duplicating them.
    expect(await b.seedFromSyncDir(root, { projectName: 'seeded' })).toEqual({ projects: 1, rows: 67 });

    const projects = await btB.json<Array<{ id: string; name: string }>>(['projects', 'list', '--json']);
    expect(projects).toEqual([expect.objectContaining({ id: projectId, name: 'seeded' })]);
    expect(await count(btB, `project_logs('${projectId}')`)).toBe(60);
    expect(await count(btB, `experiment('${experimentId}')`)).toBe(3);
    expect(await count(btB, `dataset('${datasetId}')`)).toBe(4);
    const exps = await btB.json<Array<{ id: string }>>(['experiments', 'list', '-p', 'seeded', '--json']);
    expect(exps.map((e) => e.id)).toEqual([experimentId]);
    const ds = await btB.json<Array<{ id: string }>>(['datasets', 'list', '-p', 'seeded', '--json']);
    expect(ds.map((d) => d.id)).toEqual([datasetId]);

    // Same query, same answer on both servers.
    const q = `SELECT metadata.model AS model, COUNT(*) AS n, AVG(scores."Response Quality") AS q FROM project_logs('${projectId}') WHERE is_root AND created >= NOW() - INTERVAL 30 day GROUP BY metadata.model ORDER BY model`;
    const ra = await btA.json<SqlOut>(['sql', '--json', q]);
    const rb = await btB.json<SqlOut>(['sql', '--json', q]);
    expect(rb.data).toEqual(ra.data);
    expect(ra.data).toHaveLength(2);

    // A spec dir alone also works.
    const again = await b.seedFromSyncDir(pullLogs.spec_dir);
    expect(again.rows).toBe(60);
    expect(await count(btB, `project_logs('${projectId}')`)).toBe(60);
  });

  it('pushes a pulled directory into another project through /logs3', async () => {
    const push = await btB.run(
      ['sync', 'push', 'project_logs:pushed-copy', '--json', '--fresh', '--in', logsSpecDir],
      { timeoutMs: 120_000 },
    );
    expect(push.exitCode, push.stderr).toBe(0);
    expect(JSON.parse(push.stdout)).toMatchObject({ status: 'completed', rows_uploaded: 60 });
    const projects = await btB.json<Array<{ id: string; name: string }>>(['projects', 'list', '--json']);
    const pushed = projects.find((p) => p.name === 'pushed-copy');
    expect(pushed).toBeTruthy();
    expect(await count(btB, `project_logs('${pushed!.id}')`)).toBe(60);
    const roots = await btB.json<SqlOut>(['sql', '--json', `SELECT COUNT(*) AS n FROM project_logs('pushed-copy') WHERE is_root AND created >= NOW() - INTERVAL 30 day`]);
    expect(roots.data).toEqual([{ n: 20 }]);
  });
});
