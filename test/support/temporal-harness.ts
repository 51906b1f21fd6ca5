/**
 * Workflow-test harness: a worker on the shared dev server (see global-setup.ts) running the
 * pre-built workflow bundle, with a unique task queue per test.
 *
 *   describeTemporal('my workflow', () => {
 *     it('works', async () => {
 *       const t = await makeTestWorker({ activities: { ...stubs } });
 *       try {
 *         const result = await t.runUntil(t.client.workflow.execute(flywheelWorkflow, { taskQueue: t.taskQueue, workflowId: t.workflowId(), args: [] }));
 *       } finally { await t.teardown(); }
 *     });
 *   });
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { describe, inject } from 'vitest';
import { DEFAULT_NAMESPACE } from '../../src/shared.js';
import { createWorker } from '../../src/worker.js';

/** The shared dev server's address, or null when no Temporal CLI is installed. */
export const temporalAddress: string | null = inject('temporalAddress');
export const hasTemporal = temporalAddress !== null;
/** `describe` that skips when no Temporal server is available. */
export const describeTemporal = describe.skipIf(!hasTemporal);

export interface TestWorkerOptions {
  /** Activity implementations (stubs); default none. */
  activities?: object;
  /** Default: a unique queue per call. */
  taskQueue?: string;
}

export interface TestWorker {
  worker: Worker;
  /** A client bound to the same namespace. */
  client: Client;
  taskQueue: string;
  namespace: string;
  address: string;
  /** Runs the worker until `work` settles (then shuts it down), returning its result. */
  runUntil<R>(work: Promise<R> | (() => Promise<R>)): Promise<R>;
  /** A fresh, unique workflow id. */
  workflowId(prefix?: string): string;
  /** Shuts the worker down (if running) and closes both connections. Always await it. */
  teardown(): Promise<void>;
}

export async function makeTestWorker(opts: TestWorkerOptions = {}): Promise<TestWorker> {
  const address = temporalAddress;
  if (address === null) throw new Error('No Temporal server for this test run (no Temporal CLI found); use describeTemporal to skip.');
  const codePath = inject('workflowBundlePath');
  if (codePath === null) throw new Error(`No workflow bundle: ${inject('workflowBundleError') ?? 'unknown error'}`);

  const namespace = DEFAULT_NAMESPACE;
  const taskQueue = opts.taskQueue ?? `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address });
    const worker = await createWorker({
      connection: nativeConnection,
      namespace,
      taskQueue,
      activities: opts.activities ?? {},
      workflowBundle: { codePath },
      shutdownGraceTime: '1s',
    });
    const client = new Client({ connection, namespace });
    let running: Promise<unknown> | undefined;
    const clientConnection = connection;
    return {
      worker,
      client,
      taskQueue,
      namespace,
      address,
      async runUntil<R>(work: Promise<R> | (() => Promise<R>)): Promise<R> {
        const promise = worker.runUntil(work);
        running = promise.catch(() => undefined);
        return promise;
      },
      workflowId(prefix = 'wf') {
        return `${prefix}-${randomUUID()}`;
      },
      async teardown() {
        // A never-run worker still holds the native connection: run and stop it so it lets go.
        if (worker.getState() === 'INITIALIZED') await worker.runUntil(Promise.resolve());
        else if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
        await clientConnection.close();
        await nativeConnection.close();
      },
    };
  } catch (err) {
    await connection?.close();
    await nativeConnection.close();
    throw err;
  }
}
