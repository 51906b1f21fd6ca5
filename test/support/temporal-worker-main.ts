/** Child-process entry for the worker shutdown test: a production worker with no activities. */
import { runWorkerMain } from '../../src/worker.js';

await runWorkerMain({ activities: {} });
