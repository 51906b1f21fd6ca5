/**
 * `flywheel worker`: the long-running production worker. It only wires: Braintrust settings → the activity
 * factory → `runWorkerMain` (which resolves the cluster, polls until SIGINT/SIGTERM and shuts down gracefully).
 */
import type { Command } from 'commander';
import { TASK_QUEUE } from '../shared.js';
import type { TemporalFlags } from '../temporal/connection.js';
import { braintrustEnv, CliError, EXIT_CODES, globalsOf, homeOf, loadConfigFile, type GlobalOptions } from './common.js';

export interface WorkerCommandOptions {
  taskQueue?: string;
}

export async function workerCommand(opts: WorkerCommandOptions, globals: GlobalOptions): Promise<void> {
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  if (!taskQueue.trim()) throw new CliError('--task-queue must not be empty', EXIT_CODES.usage);
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const bt = await braintrustEnv(globals);
  log(bt.embedded ? `Braintrust: local server at ${bt.appUrl}` : `Braintrust: ${bt.appUrl}`);
  // Loaded lazily: the worker pulls in the native Temporal core, which the other commands do not need.
  const [{ createActivities }, { runWorkerMain }] = await Promise.all([import('../activities/index.js'), import('../worker.js')]);
  await runWorkerMain({
    activities: createActivities({ btEnv: bt.btEnv, appUrl: bt.appUrl }),
    // runWorkerMain finds the embedded dev server under FLYWHEEL_HOME: honour --home.
    env: { ...process.env, FLYWHEEL_HOME: homeOf(globals) },
    flags: temporalFlags(globals),
    taskQueue,
    log,
  });
}

/** The same precedence as `temporalTarget` in common.ts: flags > TEMPORAL_* env > config file > profile. */
function temporalFlags(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): TemporalFlags {
  const cfg = loadConfigFile(globals, env);
  const address = globals.address ?? (env.TEMPORAL_ADDRESS ? undefined : cfg.temporal?.address);
  const namespace = globals.namespace ?? (env.TEMPORAL_NAMESPACE ? undefined : cfg.temporal?.namespace);
  const profile = globals.profile ?? cfg.temporal?.profile;
  return {
    ...(address ? { address } : {}),
    ...(namespace ? { namespace } : {}),
    ...(globals.apiKey ? { apiKey: globals.apiKey } : {}),
    ...(profile ? { profile } : {}),
  };
}

export function registerWorkerCommand(program: Command): Command {
  return program
    .command('worker')
    .description(
      'Run a long-lived worker that executes flywheel runs (started by `run --no-worker`, `run --detach` or a schedule). ' +
        'Braintrust: BRAINTRUST_API_KEY (and BRAINTRUST_APP_URL/API_URL) for the real service, else the embedded local server. ' +
        'Temporal: --address/--namespace/--api-key/--profile or TEMPORAL_* env, else the embedded dev server. ' +
        'Stops gracefully on SIGINT/SIGTERM (in-flight activities get 10 s to finish).',
    )
    .option('--task-queue <queue>', `task queue to poll (default "${TASK_QUEUE}")`)
    .action(async (opts: WorkerCommandOptions, cmd: Command) => {
      await workerCommand(opts, globalsOf(cmd));
    });
}
