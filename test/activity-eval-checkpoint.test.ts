/**
 * Idempotent evals (real bt, the example's eval, the local server): when reading an experiment's rows fails after
 * `bt eval` finished, the retry of the same activity execution reads the rows of the experiment it already made —
 * one experiment, one eval run — while a different execution (a reset, a new run) runs the eval again.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BtClient } from '../src/bt/client.js';
import { BtError } from '../src/bt/errors.js';
import { runEval } from '../src/activities/evals.js';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import type { OrientContext } from '../src/workflows/types.js';
import { EXAMPLE_DIR, makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';

let env: FlywheelEnv;
let ctx: OrientContext;
beforeAll(async () => {
  env = await makeFlywheelEnv({ traces: 400 });
  const config = flywheelInputSchema.parse({ project: 'support-agent', agentDir: EXAMPLE_DIR, workOnCopy: true, outDir: join(env.home, 'out'), runsDir: join(env.home, 'runs') });
  ctx = await env.activities.orient(config, 'checkpoint-test', 'run-1');
}, 300_000);
afterAll(async () => {
  await env?.teardown();
});

/** The env's bt, counting `bt eval` runs; the first row read fails with a retryable error when `failFirstRead`. */
function countingBt(failFirstRead: boolean) {
  const real = new BtClient({ env: { ...env.server.btEnv(), HOME: env.home, PATH: `${join(EXAMPLE_DIR, '..', '..', 'node_modules', '.bin')}:${process.env.PATH ?? ''}` }, cwd: ctx.agentDir });
  let evals = 0;
  let reads = 0;
  const bt = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'eval') return (...args: Parameters<BtClient['eval']>) => (evals++, target.eval(...args));
      if (prop === 'sqlPages') {
        return (...args: Parameters<BtClient['sqlPages']>) => {
          if (failFirstRead && reads++ === 0) throw new BtError({ kind: 'network', what: 'bt sql', cause: 'connection reset (injected)', command: ['bt', 'sql'] });
          return target.sqlPages(...args);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { bt, evals: () => evals };
}

it('a retry after the rows failed to load reuses the finished eval; another execution runs it again', async () => {
  const dir = join(env.home, 'verify');
  const params = { ctx, cwd: ctx.agentDir, split: 'all' as const, runMode: 'smoke' as const, experimentName: 'checkpoint-smoke', dir, useDataset: false, checkpointKey: 'run-1/activity-7' };
  const first = countingBt(true);
  await expect(runEval(first.bt, params)).rejects.toThrow(/connection reset \(injected\)/);
  expect(first.evals()).toBe(1);
  // The retry of the same execution: no eval, the rows of the experiment the first attempt made.
  const retry = countingBt(false);
  const result = await runEval(retry.bt, params);
  expect(retry.evals()).toBe(0);
  expect(result.rowCount).toBeGreaterThan(0);
  // A different execution (say, after a reset) is a new eval.
  const other = countingBt(false);
  const again = await runEval(other.bt, { ...params, checkpointKey: 'run-2/activity-7' });
  expect(other.evals()).toBe(1);
  expect(again.experimentId).not.toBe(result.experimentId);
});
