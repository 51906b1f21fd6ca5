/**
 * Dataset curation on real parts (local Braintrust server seeded with the example's generated traces, the real bt):
 * a retry brings rows not curated before — rows the dataset holds are left out, the sample is seeded random, and the
 * window widens when too few fresh rows are left — instead of re-upserting the same newest rows.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateExampleTraces } from '../examples/support-agent/generate-traces.js';
import { createActivities } from '../src/activities/index.js';
import { prepareCuration, seededOrder, widenedWindows } from '../src/activities/curate.js';
import { BtClient } from '../src/bt/client.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import type { CurateResult, OrientContext } from '../src/workflows/types.js';

describe('seededOrder and widenedWindows (pure)', () => {
  const ids = Array.from({ length: 50 }, (_, i) => `trace-${i}`);
  it('the same seed gives the same order, another seed another; nothing is lost', () => {
    const a = seededOrder(ids, 's:1', (x) => x);
    expect(seededOrder([...ids].reverse(), 's:1', (x) => x)).toEqual(a);
    expect(seededOrder(ids, 's:2', (x) => x)).not.toEqual(a);
    expect([...a].sort()).toEqual([...ids].sort());
    expect(a).not.toEqual(ids);
  });
  it.each([
    [7, [7, 14, 28, 30]],
    [1, [1, 2, 4, 8, 16, 30]],
    [30, [30]],
    [45, [45]],
    [0, [1, 2, 4, 8, 16, 30]],
  ])('window %i widens as %j', (days, want) => {
    expect(widenedWindows(days)).toEqual(want);
  });
});

const tmp = mkdtempSync(join(tmpdir(), 'activity-curate-'));
let server: LocalServerHandle;
let env: Record<string, string>;
let projectId: string;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
  const gen = await generateExampleTraces({ outDir: join(tmp, 'sync'), projectName: 'support-agent', variant: 'defective', traces: 900, seed: 7 });
  await server.seedFromSyncDir(gen.dir, { projectName: 'support-agent' });
  env = { ...server.btEnv(), HOME: tmp, XDG_CONFIG_HOME: join(tmp, '.config'), XDG_CACHE_HOME: join(tmp, '.cache'), PATH: process.env.PATH ?? '' };
  projectId = (await new BtClient({ env, cwd: tmp }).projectsList()).find((p) => p.name === 'support-agent')!.id;
  expect(gen.traces).toBe(900);
}, 240_000);
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function ctx(datasetName: string): OrientContext {
  return {
    workflowId: 'wf-curate', runDir: join(tmp, 'runs', datasetName),
    project: { id: projectId, name: 'support-agent', source: 'input', sourceDetail: 'test' },
    org: 'local', appUrl: server.appUrl, baseline: null, scoreColumns: ['answer_quality'], facetColumns: [], metadataKeys: [],
    schemaWindowDays: 7, primaryScore: 'answer_quality', binaryScores: [], agentDir: tmp, evalFiles: [], evalFilesSource: 'test',
    datasetName, instructionFiles: [], notes: [],
  };
}

const rowIds = (r: CurateResult): string[] =>
  readFileSync(r.rowsFile!.path, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);

describe('curateDataset activity: retries bring new rows', () => {
  const curate = (datasetName: string, iteration: number, windowDays: number) =>
    createActivities({ btEnv: env, appUrl: server.appUrl }).curateDataset({
      ctx: ctx(datasetName), routeId: 'dataset:score:answer_quality', targets: [{ kind: 'score', name: 'answer_quality' }], windowDays, iteration,
    });

  it('three iterations upsert disjoint rows; the window widens once the evidence window has too few fresh ones', async () => {
    const results: CurateResult[] = [];
    for (const iteration of [1, 2, 3]) results.push(await curate('retry-set', iteration, 3));
    const ids = results.map(rowIds);
    for (const [i, r] of results.entries()) {
      expect(r.upserted, `iteration ${i + 1}`).toBeGreaterThan(0);
      expect(r.failing, `iteration ${i + 1}`).toBeGreaterThan(0);
      expect(r.passing, `iteration ${i + 1}`).toBeGreaterThan(0);
      expect(new Set(ids[i]).size).toBe(ids[i]!.length);
    }
    // No row is curated twice: each retry's rows are new.
    expect(new Set(ids.flat()).size).toBe(ids.flat().length);
    // Every upsert added rows (none was a no-op on rows the dataset already held).
    const bt = new BtClient({ env, cwd: tmp });
    const [count] = (await bt.sql(`SELECT COUNT(*) AS n FROM dataset('${results[0]!.datasetId}')`)).data as Array<{ n: number }>;
    expect(Number(count!.n)).toBe(ids.flat().length);
    // The later iterations report the rows they left out, and the first widening is from the evidence window.
    expect(results[0]!.sample!.alreadyCurated).toBe(0);
    expect(results[1]!.sample!.alreadyCurated).toBeGreaterThan(0);
    expect(results[2]!.sample!.alreadyCurated).toBeGreaterThan(results[1]!.sample!.alreadyCurated);
    const widened = results.filter((r) => r.sample!.widenedFrom !== undefined);
    expect(widened.length).toBeGreaterThan(0);
    for (const r of widened) {
      expect(r.sample!.widenedFrom).toBe(3);
      expect(r.sample!.windowDays).toBeGreaterThan(3);
    }
    expect(results.map((r) => r.sample!.windowDays)).toEqual([...results.map((r) => r.sample!.windowDays)].sort((a, b) => a - b));
  }, 240_000);

  it('a cohort route draws its failing rows from that cohort', async () => {
    const r = await createActivities({ btEnv: env, appUrl: server.appUrl }).curateDataset({
      ctx: ctx('cohort-set'), routeId: 'dataset:cohort:topic:Task=Returns & refunds', targets: [{ kind: 'cohort', name: 'topic:Task=Returns & refunds' }], windowDays: 7, iteration: 1,
    });
    const rows = readFileSync(r.rowsFile!.path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { metadata: { bucket: string; topics?: { Task?: string } } });
    const failing = rows.filter((x) => x.metadata.bucket === 'failing');
    expect(failing.length).toBeGreaterThan(0);
    expect(failing.length).toBe(r.failing);
    expect(new Set(failing.map((x) => x.metadata.topics?.Task))).toEqual(new Set(['Returns & refunds']));
  }, 240_000);

  it('the sample is seeded: the same run, iteration and route on an empty dataset draws the same rows', async () => {
    const a = await curate('seeded-a', 1, 3);
    const b = await curate('seeded-b', 1, 3);
    expect(rowIds(b)).toEqual(rowIds(a));
    expect(a.sample!.seed).toBe('flywheel-sample-v1:wf-curate:1:dataset:score:answer_quality');
  }, 240_000);
});

describe('prepareCuration then upsertCuration: nothing reaches Braintrust before the write is approved', () => {
  const acts = () => createActivities({ btEnv: env, appUrl: server.appUrl });
  const params = (datasetName: string) => ({ ctx: ctx(datasetName), routeId: 'dataset:score:answer_quality', targets: [{ kind: 'score' as const, name: 'answer_quality' }], windowDays: 7, iteration: 1 });
  const datasetNames = async () => (await new BtClient({ env, cwd: tmp }).datasetsList('support-agent')).map((d) => d.name);

  it('prepare counts, labels and samples the rows without creating the dataset; upsert writes exactly those rows', async () => {
    const plan = await acts().prepareCuration(params('gated-set'));
    expect(await datasetNames()).not.toContain('gated-set');
    expect(plan.existingDatasetId).toBeNull();
    // The counts are those of the rows file the upsert will write.
    const rows = readFileSync(plan.rowsFile!.path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; expected: unknown; metadata: { bucket: string; split: string; source_trace_id: string } });
    expect(plan.rows).toBe(rows.length);
    expect(plan.rows).toBeGreaterThan(0);
    expect(plan.failing).toBe(rows.filter((r) => r.metadata.bucket === 'failing').length);
    expect(plan.passing).toBe(rows.filter((r) => r.metadata.bucket === 'passing').length);
    expect(plan.train).toBe(rows.filter((r) => r.metadata.split === 'train').length);
    expect(plan.validation).toBe(plan.rows - plan.train);
    expect(plan.needsLabel).toBe(rows.filter((r) => r.expected === null).length);
    // The sample: failing rows first, then passing, each the row it names with its label.
    expect(plan.sampleRows.length).toBe(Math.min(5, plan.rows));
    expect(plan.sampleRows[0]!.bucket).toBe('failing');
    expect(plan.sampleRows.some((r) => r.bucket === 'passing')).toBe(true);
    for (const s of plan.sampleRows) {
      const row = rows.find((r) => r.id === s.id)!;
      expect(row.metadata.source_trace_id).toBe(s.traceId);
      expect(row.metadata.split).toBe(s.split);
      expect(s.expected === null).toBe(row.expected === null);
      expect(s.input.length).toBeLessThanOrEqual(200);
    }

    const res = await acts().upsertCuration({ ctx: ctx('gated-set'), planFile: plan.planFile });
    expect(res).toMatchObject({ dataset: 'gated-set', created: true, upserted: plan.rows, failing: plan.failing, passing: plan.passing, train: plan.train, validation: plan.validation });
    const bt = new BtClient({ env, cwd: tmp });
    const stored = (await bt.sql(`SELECT id FROM dataset('${res.datasetId}')`)).data as Array<{ id: string }>;
    expect(stored.map((r) => r.id).sort()).toEqual(rows.map((r) => r.id).sort());
  }, 240_000);

  it('rows changed after the gate showed them are refused, and nothing is written', async () => {
    const plan = await acts().prepareCuration(params('tampered-set'));
    writeFileSync(plan.rowsFile!.path, readFileSync(plan.rowsFile!.path, 'utf8') + JSON.stringify({ id: 'planted', input: 'x', expected: null }) + '\n');
    await expect(acts().upsertCuration({ ctx: ctx('tampered-set'), planFile: plan.planFile })).rejects.toThrow(/changed after the write gate showed them/);
    expect(await datasetNames()).not.toContain('tampered-set');
  }, 240_000);

  it('a plan or rows file gone before the upsert is refused at once (non-retryable), and nothing is written', async () => {
    const plan = await acts().prepareCuration(params('vanished-set'));
    rmSync(plan.rowsFile!.path);
    const err = await acts()
      .upsertCuration({ ctx: ctx('vanished-set'), planFile: plan.planFile })
      .then(() => null, (e: unknown) => e as { message: string; nonRetryable?: boolean; type?: string });
    expect(err?.message).toMatch(/the curated rows .* cannot be read \(ENOENT.*\); nothing was upserted/);
    expect(err).toMatchObject({ nonRetryable: true, type: 'CurationPlanChanged' });
    expect(await datasetNames()).not.toContain('vanished-set');
  }, 240_000);
});

describe('prepareCuration: reads overlapped in the pool draw what one read at a time draws', () => {
  it('the same rows, counts and sample with 1 and 4 reads in flight, on a dataset that already holds rows (widened window)', async () => {
    // The dataset holds iteration 1's rows, so iteration 2 leaves them out and widens its 3-day window.
    const first = await createActivities({ btEnv: env, appUrl: server.appUrl }).curateDataset({
      ctx: ctx('pool-set'), routeId: 'dataset:score:answer_quality', targets: [{ kind: 'score', name: 'answer_quality' }], windowDays: 3, iteration: 1,
    });
    expect(first.upserted).toBeGreaterThan(0);
    const bt = new BtClient({ env, cwd: tmp });
    const prepare = (concurrency: number) =>
      prepareCuration(bt, {
        ctx: ctx('pool-set'), routeId: 'dataset:score:answer_quality', targets: [{ kind: 'score', name: 'answer_quality' }], windowDays: 3, iteration: 2,
        dir: join(tmp, 'runs', 'pool-set', `c${concurrency}`), concurrency,
      });
    const one = await prepare(1);
    const four = await prepare(4);
    const text = (plan: { rowsFile: { path: string } | null }) => readFileSync(plan.rowsFile!.path, 'utf8');
    expect(text(four)).toBe(text(one));
    const { planFile: _a, rowsFile: _b, ...rest1 } = one;
    const { planFile: _c, rowsFile: _d, ...rest4 } = four;
    expect(rest4).toEqual(rest1);
    expect(one.existingDatasetId).toBe(first.datasetId);
    expect(one.sample!.alreadyCurated).toBeGreaterThan(0);
    expect(one.sample!.widenedFrom).toBe(3);
    expect(one.rows).toBeGreaterThan(0);
  }, 240_000);
});
