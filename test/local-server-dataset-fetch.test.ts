/**
 * The local server's `POST /v1/dataset/{id}/fetch`: the route the braintrust Python SDK iterates a dataset
 * through (`init_dataset(...)` in an eval file), paged with a cursor like /btql.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTravelTraces, GOLDEN_DATASET_NAME } from '../examples/travel-agent/generate-traces.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'ls-dataset-fetch-'));
let server: LocalServerHandle;
let call: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
  const env = server.btEnv();
  call = async (method, path, body) => {
    const res = await fetch(`${env.BRAINTRUST_API_URL}${path}`, {
      method,
      headers: { authorization: `Bearer ${env.BRAINTRUST_API_KEY}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: await res.json() };
  };
  const gen = generateTravelTraces({ outDir: join(tmp, 'sync'), traces: 50 });
  expect((await call('POST', '/local/seed', { dir: gen.dir, projectName: 'travel-agent' })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('POST /v1/dataset/{id}/fetch', () => {
  it('returns the seeded dataset rows page by page, then a null cursor', async () => {
    const list = await call('GET', `/v1/dataset?project_name=travel-agent&dataset_name=${GOLDEN_DATASET_NAME}`);
    const id = (list.json.objects as Array<{ id: string; name: string }>).find((d) => d.name === GOLDEN_DATASET_NAME)!.id;
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await call('POST', `/v1/dataset/${id}/fetch`, { limit: 5, ...(cursor ? { cursor } : {}) });
      expect(page.status).toBe(200);
      ids.push(...(page.json.events as Array<{ id: string; expected: unknown }>).map((e) => e.id));
      cursor = page.json.cursor;
      if (!cursor) break;
    }
    expect(new Set(ids).size).toBe(13);
    expect(ids).toContain('golden-01');
  });

  it('404s for an unknown dataset', async () => {
    const r = await call('POST', '/v1/dataset/00000000-0000-4000-8000-000000000000/fetch', { limit: 5 });
    expect(r.status).toBe(404);
  });
});
