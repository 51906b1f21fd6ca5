/**
 * Worker wiring only: connection + task queue + workflow code + injected activities.
 * Activities are built by the caller (`createActivities(deps)` in src/activities/) and passed in.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { flywheelHome } from './paths.js';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from './shared.js';
import { connectWorkerConnection, describeTarget, resolveTemporalTarget, type TemporalFlags } from './temporal/connection.js';

/** The workflow barrel: the compiled `.js` next to this file when built, else the `.ts` source (tsx, vitest). */
export const workflowsPath: string = (() => {
  const js = fileURLToPath(new URL('./workflows/index.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('./workflows/index.ts', import.meta.url));
})();

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** The activity implementations (from `createActivities(deps)`, or test stubs). */
  activities: object;
  /** A pre-built bundle (`bundleWorkflowCode`); default: bundle `workflowsPath` at start. */
  workflowBundle?: WorkflowBundleOption;
  identity?: string;
  /** How long in-flight activities get to finish on shutdown before they are cancelled (default 10 s). */
  shutdownGraceTime?: string | number;
}

export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? DEFAULT_NAMESPACE,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    activities: opts.activities,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    ...(opts.identity ? { identity: opts.identity } : {}),
    shutdownGraceTime: opts.shutdownGraceTime ?? '10s',
  });
}

/**
 * Runs `worker` until it stops. The first SIGINT / SIGTERM starts a graceful shutdown (stop polling,
 * let in-flight tasks finish within the grace time); a second one is re-raised with the default
 * handling, i.e. the process exits at once. The handlers are removed afterwards.
 */
export async function runWorker(worker: Worker, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<void> {
  const onSignal = (signal: NodeJS.Signals) => {
    // The SDK runtime listens for the same signals on the first one; whoever comes first shuts down.
    if (worker.getState() === 'RUNNING') {
      worker.shutdown();
      return;
    }
    removeHandlers();
    process.kill(process.pid, signal);
  };
  const removeHandlers = () => {
    for (const s of signals) process.off(s, onSignal);
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    await worker.run();
  } finally {
    removeHandlers();
  }
}

export interface RunWorkerMainOptions {
  activities: object;
  env?: NodeJS.ProcessEnv;
  flags?: TemporalFlags;
  taskQueue?: string;
  /** Progress lines (never secrets); default stderr. */
  log?: (message: string) => void;
}

/**
 * The long-running production worker (`flywheel worker`): resolves the cluster (or the embedded
 * dev server), polls the task queue until SIGINT/SIGTERM, then closes the connection.
 */
export async function runWorkerMain(opts: RunWorkerMainOptions): Promise<void> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const target = await resolveTemporalTarget({ home: flywheelHome(env), env, flags: opts.flags ?? {}, devServer: { log } });
  const connection = await connectWorkerConnection(target);
  try {
    const taskQueue = opts.taskQueue ?? TASK_QUEUE;
    const worker = await createWorker({ connection, namespace: target.namespace, taskQueue, activities: opts.activities });
    log(`worker polling task queue "${taskQueue}" on ${describeTarget(target)}`);
    await runWorker(worker);
    log('worker stopped');
  } finally {
    await connection.close();
  }
}
