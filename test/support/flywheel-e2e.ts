/**
 * End-to-end harness for flywheel runs on the real parts: the shared Temporal dev server (global setup),
 * a local Braintrust-compatible server seeded with generated example traces, the real `bt` binary, and
 * the real activities. Each call gets its own home directory, server and task queue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../src/activities/index.js';
import { startLocalServer, type LocalServerHandle } from '../../src/local-server/index.js';
import { packageRoot } from '../../src/paths.js';
import type { FlywheelInput } from '../../schemas/flywheel-input.js';
import { generateExampleTraces, type TraceVariant } from '../../examples/support-agent/generate-traces.js';
import { makeTestWorker, type TestWorker } from './temporal-harness.js';

export const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');
export const CHANGE_AGENT = [process.execPath, join(EXAMPLE_DIR, 'change-agent.mjs')];
export const LABELER = [join(packageRoot, 'node_modules', '.bin', 'tsx'), join(EXAMPLE_DIR, 'labeler.ts')];

export interface FlywheelEnv {
  home: string;
  server: LocalServerHandle;
  worker: TestWorker;
  activities: ReturnType<typeof createActivities>;
  /** Input for a run on the example project, with overrides. */
  input(overrides?: Partial<FlywheelInput>): FlywheelInput;
  /** Braintrust SQL through the real bt binary against this env's server. */
  sql(query: string): Promise<Record<string, unknown>[]>;
  teardown(): Promise<void>;
}

export async function makeFlywheelEnv(opts: { variant?: TraceVariant; traces?: number; seed?: number } = {}): Promise<FlywheelEnv> {
  const home = mkdtempSync(join(tmpdir(), 'flywheel-e2e-'));
  const server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  const gen = await generateExampleTraces({
    outDir: join(home, 'sync'),
    projectName: 'support-agent',
    variant: opts.variant ?? 'defective',
    traces: opts.traces ?? 1500,
    seed: opts.seed ?? 42,
  });
  await server.seedFromSyncDir(gen.dir, { projectName: 'support-agent' });
  const btEnv = { ...server.btEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), PATH: process.env.PATH ?? '' };
  const activities = createActivities({ btEnv, appUrl: server.appUrl });
  const worker = await makeTestWorker({ activities });
  const { BtClient } = await import('../../src/bt/client.js');
  const bt = new BtClient({ env: btEnv, cwd: home });
  return {
    home,
    server,
    worker,
    activities,
    input: (overrides = {}) => ({
      project: 'support-agent',
      goal: 'general health check',
      mode: 'autonomous',
      modeReason: 'test',
      agentDir: EXAMPLE_DIR,
      workOnCopy: true,
      changeCommand: CHANGE_AGENT,
      labeler: LABELER,
      outDir: join(home, 'out'),
      runsDir: join(home, 'runs'),
      ...overrides,
    }),
    sql: async (query) => (await bt.sql(query)).data as Record<string, unknown>[],
    async teardown() {
      await worker.teardown();
      await server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
