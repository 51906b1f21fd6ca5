/**
 * End-to-end harness for flywheel runs on the real parts: the shared Temporal dev server (global setup),
 * a local Braintrust-compatible server seeded with generated example traces, the real `bt` binary, and
 * the real activities. Each call gets its own home directory, server and task queue.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActivities } from '../../src/activities/index.js';
import { startLocalServer, type LocalServerHandle } from '../../src/local-server/index.js';
import { packageRoot } from '../../src/paths.js';
import type { FlywheelInput } from '../../schemas/flywheel-input.js';
import { flywheelWorkflow, type FlywheelResult } from '../../src/workflows/flywheel.js';
import { generateExampleTraces, type TraceVariant } from '../../examples/support-agent/generate-traces.js';
import { makeTestWorker, temporalAddress, type TestWorker } from './temporal-harness.js';
import { Client, Connection } from '@temporalio/client';
import { DEFAULT_NAMESPACE } from '../../src/shared.js';
import { runResult } from '../../src/run-result.js';

export const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');
export const CHANGE_AGENT = [process.execPath, join(EXAMPLE_DIR, 'change-agent.mjs')];
export const LABELER = [join(packageRoot, 'node_modules', '.bin', 'tsx'), join(EXAMPLE_DIR, 'labeler.ts')];

export interface FlywheelEnv {
  home: string;
  server: LocalServerHandle;
  /** A client for signals, queries and histories. */
  client: Client;
  /** The task queue every worker of this env polls. */
  taskQueue: string;
  /** The environment the activities give bt (the local server's credentials, HOME…): for out-of-process workers. */
  btEnv: Record<string, string>;
  /** A worker for this env's queue (a worker runs until one `runUntil` settles, so one per run). */
  newWorker(): Promise<TestWorker>;
  /** Runs one workflow to its result on a fresh worker; `during` may drive it (signals) meanwhile. */
  execute(workflowId: string, input: FlywheelInput, during?: (w: TestWorker) => Promise<void>): Promise<FlywheelResult>;
  activities: ReturnType<typeof createActivities>;
  /** Input for a run on the example project, with overrides. */
  input(overrides?: Partial<FlywheelInput>): FlywheelInput;
  /** Braintrust SQL through the real bt binary against this env's server. */
  sql(query: string): Promise<Record<string, unknown>[]>;
  teardown(): Promise<void>;
}

export async function makeFlywheelEnv(
  opts: { variant?: TraceVariant; traces?: number; seed?: number; workerEnv?: Record<string, string | undefined>; projectName?: string } = {},
): Promise<FlywheelEnv> {
  const home = mkdtempSync(join(tmpdir(), 'flywheel-e2e-'));
  const server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  const gen = await generateExampleTraces({
    outDir: join(home, 'sync'),
    projectName: opts.projectName ?? 'support-agent',
    variant: opts.variant ?? 'defective',
    traces: opts.traces ?? 1500,
    seed: opts.seed ?? 42,
  });
  await server.seedFromSyncDir(gen.dir, { projectName: opts.projectName ?? 'support-agent' });
  const btEnv = { ...server.btEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), PATH: process.env.PATH ?? '' };
  const activities = createActivities({ btEnv, appUrl: server.appUrl, ...(opts.workerEnv ? { workerEnv: opts.workerEnv } : {}) });
  const taskQueue = `flywheel-e2e-${randomUUID()}`;
  const connection = await Connection.connect({ address: temporalAddress! });
  const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
  const workers: TestWorker[] = [];
  const newWorker = async () => {
    const w = await makeTestWorker({ activities, taskQueue });
    // Idempotent teardown: a test may stop a worker itself (restart tests) before the env does.
    let closed: Promise<void> | undefined;
    const teardown = w.teardown.bind(w);
    w.teardown = () => (closed ??= teardown());
    workers.push(w);
    return w;
  };
  const { BtClient } = await import('../../src/bt/client.js');
  const bt = new BtClient({ env: btEnv, cwd: home });
  return {
    home,
    server,
    client,
    taskQueue,
    btEnv,
    newWorker,
    activities,
    async execute(workflowId, input, during) {
      const w = await newWorker();
      try {
        const handle = await w.client.workflow.start(flywheelWorkflow, { taskQueue, workflowId, args: [input] });
        return await w.runUntil(async () => {
          if (during) await during(w);
          return runResult(handle);
        });
      } finally {
        await w.teardown();
      }
    },
    input: (overrides = {}) => ({
      project: opts.projectName ?? 'support-agent',
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
      for (const w of workers) await w.teardown();
      await connection.close();
      await server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * A project of its own on the env's server, seeded with the same defective example traffic as the env's default
 * project. Discover counts every dataset of a project for coverage, so a run that must not see the datasets earlier
 * runs of its file curated (they change its plan) runs on one of these.
 */
export async function seedOwnProject(env: FlywheelEnv, name: string): Promise<string> {
  const gen = await generateExampleTraces({ outDir: join(env.home, `sync-${name}`), projectName: name, variant: 'defective', traces: 1500, seed: 42 });
  await env.server.seedFromSyncDir(gen.dir, { projectName: name });
  return name;
}
