/**
 * A worker that shuts down mid-activity (a deploy) does not end the run: after the grace time the SDK cuts the
 * activity short with a retryable failure (not a cancellation of the run), and the next worker runs it again and
 * finishes the run. (Checked because a cancelled activity would end the run `blocked`.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { afterAll, expect, it } from 'vitest';
import { runResult } from '../src/run-result.js';
import { WORKFLOW_TYPE } from '../src/shared.js';
import { eventually, flywheelInput, stubActivities } from './support/cli-flywheel.js';
import { describeTemporal, makeTestWorker } from './support/temporal-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'flywheel-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeTemporal('worker shutdown', () => {
  it('an activity cut short by its worker\'s shutdown is retried on the next worker, and the run finishes', async () => {
    const stubs = stubActivities({ dir });
    let firstStarted = false;
    // Worker A: discover runs until the worker cancels it (as an eval would), honouring cancellation.
    const a = await makeTestWorker({
      activities: {
        ...stubs,
        async discover() {
          firstStarted = true;
          await Context.current().cancelled;
          throw new Error('unreachable');
        },
      },
    });
    const workflowId = a.workflowId('shutdown');
    const handle = await a.client.workflow.start(WORKFLOW_TYPE, { taskQueue: a.taskQueue, workflowId, args: [flywheelInput(dir, { project: 'p' })] });
    const aDone = a.runUntil(eventually(async () => (firstStarted ? true : undefined), 30_000, 'discover on worker A').then(() => undefined));
    await aDone; // runUntil shuts A down (grace 1 s) once discover is running
    await a.teardown();
    // Worker B (same queue, working stubs) picks the activity up again.
    const b = await makeTestWorker({ activities: stubs, taskQueue: a.taskQueue });
    try {
      const again = b.client.workflow.getHandle(workflowId);
      const result = await b.runUntil(runResult(again));
      expect(result.outcome).toBe('healthy');
      const events = (await again.fetchHistory()).events ?? [];
      const retried = events.map((e) => e.activityTaskStartedEventAttributes).find((s) => s && (s.attempt ?? 1) > 1);
      expect(retried?.lastFailure?.message).toMatch(/Worker is shutting down/);
      expect(retried?.lastFailure?.applicationFailureInfo?.nonRetryable ?? false).toBe(false);
    } finally {
      await b.teardown();
    }
  });
});
