/**
 * Child-process entry for the worker-kill tests: a worker with the real activities, pointed at the test's local
 * Braintrust server, on the test's task queue. Config as JSON in FLYWHEEL_TEST_WORKER; prints "ready" once polling.
 */
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { DEFAULT_NAMESPACE } from '../../src/shared.js';
import { createWorker } from '../../src/worker.js';

const cfg = JSON.parse(process.env.FLYWHEEL_TEST_WORKER ?? '{}') as { address: string; taskQueue: string; codePath: string; btEnv: Record<string, string>; appUrl: string };
const connection = await NativeConnection.connect({ address: cfg.address });
const worker = await createWorker({
  connection,
  namespace: DEFAULT_NAMESPACE,
  taskQueue: cfg.taskQueue,
  activities: createActivities({ btEnv: cfg.btEnv, appUrl: cfg.appUrl }),
  workflowBundle: { codePath: cfg.codePath },
});
const running = worker.run();
process.stdout.write('ready\n');
await running;
await connection.close();
