/**
 * Worker wiring only: connection + task queue + workflow code + injected activities.
 * Activities are built by the caller (`createActivities(deps)` in src/activities/) and passed in.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { HostQueues } from '../schemas/flywheel-input.js';
import { flywheelHome } from './paths.js';
import { prebuiltBundle } from './workflow-bundle.js';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from './shared.js';
import { connectWorkerConnection, describeTarget, resolveTemporalTarget, type TemporalFlags } from './temporal/connection.js';

/** The workflow barrel: the compiled `.js` next to this file when built, else the `.ts` source (tsx, vitest). */
export const workflowsPath: string = (() => {
  const js = fileURLToPath(new URL('./workflows/index.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('./workflows/index.ts', import.meta.url));
})();

/** The given bundle, else the fresh pre-built one (dist/workflow-bundle.js), else the sources bundled at start. */
function workflowCode(given?: WorkflowBundleOption): { workflowBundle: WorkflowBundleOption } | { workflowsPath: string } {
  if (given) return { workflowBundle: given };
  const prebuilt = prebuiltBundle(workflowsPath);
  return prebuilt ? { workflowBundle: prebuilt } : { workflowsPath };
}

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
  /**
   * The queues this worker's host serves, which `claimHost` names to a run that has no host yet. Default: this
   * worker's own task queue for both (a worker that runs workflows and activities on one private queue).
   */
  hostQueues?: HostQueues;
  /** false: an activity-only worker (a host or heavy queue of `flywheel worker`). Default true. */
  workflows?: boolean;
  /** Concurrent activity executions (evals and change agents are subprocesses: keep this small on heavy queues). */
  maxConcurrentActivities?: number;
}

/**
 * The task queues of one host: activities of the runs it holds files for go there and nowhere else. Stable for a
 * machine and flywheel home, so a restarted `flywheel worker` picks up the runs its predecessor held.
 */
export function hostQueuesFor(base: string, home: string, host: string = hostname()): HostQueues {
  const name = host.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60) || 'host';
  const id = createHash('sha256').update(`${host}\0${home}`).digest('hex').slice(0, 10);
  const queue = `${base}@${name}-${id}`;
  return { host: queue, heavy: `${queue}.heavy` };
}

/**
 * The private task queue of one `flywheel run` invocation's in-process worker (workflow and activities): no
 * other process polls it, so no other invocation executes its run; the same home and workflow id on the same
 * machine (a resumed `run`) find it again.
 */
export function runQueueFor(home: string, workflowId: string, host: string = hostname()): string {
  const id = createHash('sha256').update(`${host}\0${home}\0${workflowId}`).digest('hex').slice(0, 16);
  return `${TASK_QUEUE}.run-${id}`;
}

export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const queues = opts.hostQueues ?? { host: taskQueue, heavy: taskQueue };
  const identity = opts.identity ?? `${process.pid}@${hostname()}`;
  const claimHost = async () => ({ ...queues, identity });
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? DEFAULT_NAMESPACE,
    taskQueue,
    activities: { ...opts.activities, claimHost },
    ...(opts.workflows === false ? {} : { ...workflowCode(opts.workflowBundle) }),
    identity,
    shutdownGraceTime: opts.shutdownGraceTime ?? '10s',
    ...(opts.maxConcurrentActivities ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities } : {}),
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

/** Runs several workers of one process as one: a signal shuts them all down, and one failing stops the others. */
export async function runWorkers(workers: Worker[], signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<void> {
  const stopAll = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  const results = await Promise.allSettled(workers.map((w) => runWorker(w, signals).catch((err: unknown) => (stopAll(), Promise.reject(err)))));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Concurrent evals / change agents per `flywheel worker` (each is a subprocess tree); FLYWHEEL_HEAVY_SLOTS overrides. */
export const DEFAULT_HEAVY_SLOTS = 4;

export interface RunWorkerMainOptions {
  activities: object;
  env?: NodeJS.ProcessEnv;
  flags?: TemporalFlags;
  taskQueue?: string;
  /** Progress lines (never secrets); default stderr. */
  log?: (message: string) => void;
}

/**
 * The long-running production worker (`flywheel worker`): resolves the cluster (or the embedded dev server) and
 * polls until SIGINT/SIGTERM, then closes the connection. Three pollers: the shared task queue (workflow tasks,
 * and the `claimHost` answer that makes this worker a run's host), this host's queue (short activities) and its
 * heavy queue (evals, curation, the change agent — a few at a time, so they never starve the short ones).
 */
export async function runWorkerMain(opts: RunWorkerMainOptions): Promise<void> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const home = flywheelHome(env);
  const target = await resolveTemporalTarget({ home, env, flags: opts.flags ?? {}, devServer: { log } });
  const connection = await connectWorkerConnection(target);
  try {
    const taskQueue = opts.taskQueue ?? TASK_QUEUE;
    const hostQueues = hostQueuesFor(taskQueue, home);
    const heavySlots = Number(env.FLYWHEEL_HEAVY_SLOTS) > 0 ? Math.floor(Number(env.FLYWHEEL_HEAVY_SLOTS)) : DEFAULT_HEAVY_SLOTS;
    const common = { connection, namespace: target.namespace, activities: opts.activities, hostQueues };
    const workers = [
      await createWorker({ ...common, taskQueue }),
      await createWorker({ ...common, taskQueue: hostQueues.host, workflows: false }),
      await createWorker({ ...common, taskQueue: hostQueues.heavy, workflows: false, maxConcurrentActivities: heavySlots }),
    ];
    log(`worker polling task queue "${taskQueue}" on ${describeTarget(target)}; this host's runs use "${hostQueues.host}" and "${hostQueues.heavy}" (${heavySlots} at a time)`);
    await runWorkers(workers);
    log('worker stopped');
  } finally {
    await connection.close();
  }
}
