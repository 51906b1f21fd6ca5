/**
 * Durable by construction: a worker killed mid-run is replaced and the run finishes without duplicating a
 * dataset row; workflow history does not grow with trace volume (rows stay in the run directory).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { statusQuery } from '../src/workflows/definitions.js';
import { flywheelWorkflow, type FlywheelResult } from '../src/workflows/flywheel.js';
import type { Summary } from '../schemas/summary.js';
import { makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { historyJson } from './support/histories.js';
import { describeTemporal } from './support/temporal-harness.js';

describeTemporal('worker restarted mid-run', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'defective' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('finishes on a new worker and no dataset row is duplicated', async () => {
    const workflowId = `restart-${Date.now()}`;
    const first = await env.newWorker();
    const handle = await env.client.workflow.start(flywheelWorkflow, { taskQueue: env.taskQueue, workflowId, args: [env.input({ datasetName: 'flywheel-restart' })] });
    // Run the first worker until the run is past curation (in Verify), then stop it.
    await first.runUntil(async () => {
      for (;;) {
        const s = await handle.query(statusQuery).catch(() => null);
        if (s && (s.phase === 'verify' || s.activity.includes('unchanged agent'))) return;
        if ((await handle.describe()).status.name !== 'RUNNING') throw new Error('run ended before the restart point');
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    await first.teardown();
    const second = await env.newWorker();
    const result = (await second.runUntil(handle.result())) as FlywheelResult;
    expect(result.outcome).toBe('improved');
    const summary = JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
    const written = summary.changes_detail.filter((c) => c.artifact === 'dataset');
    const datasetId = written[0]!.dataset_rows!.dataset_id;
    const [counts] = await env.sql(`SELECT COUNT(*) AS n, count_distinct(id) AS ids FROM dataset('${datasetId}')`);
    expect(Number(counts!.n)).toBe(Number(counts!.ids));
    // Every curated row file's ids are in the dataset exactly once.
    const ids = new Set<string>();
    for (const c of written) {
      const file = c.dataset_rows!.rows_file!;
      for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) ids.add((JSON.parse(line) as { id: string }).id);
    }
    expect(Number(counts!.n)).toBe(ids.size);
  });
});

describeTemporal('history size does not grow with trace volume', () => {
  const sizes: Record<string, number> = {};
  for (const traces of [1000, 10000]) {
    it(`healthy run over ${traces} traces`, async () => {
      const env = await makeFlywheelEnv({ variant: 'healthy', traces });
      try {
        const workflowId = `volume-${traces}-${Date.now()}`;
        const result = await env.execute(workflowId, env.input({ outDir: join(env.home, 'out') }));
        expect(result.outcome).toBe('healthy');
        sizes[traces] = (await historyJson(env.client, workflowId)).length;
      } finally {
        await env.teardown();
      }
    });
  }
  it('the 10× larger project has about the same history size', () => {
    expect(sizes[1000]).toBeGreaterThan(0);
    const ratio = sizes[10000]! / sizes[1000]!;
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });
});
