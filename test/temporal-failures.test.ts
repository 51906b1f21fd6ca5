/**
 * Bugs fail loudly, give-ups fail the execution (on the shared dev server, with stub activities):
 * - a TypeError inside the workflow (diagnose() fed evidence it cannot read) is not turned into an outcome: the
 *   workflow task fails and Temporal retries it, the run stays Running, no handoff is written;
 * - an activity that gives up ends the run `blocked` with its handoff written, as a Failed execution whose failure
 *   carries the result (what `run`, `status` and `watch` read back).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, expect, it } from 'vitest';
import { runResult } from '../src/run-result.js';
import { WORKFLOW_TYPE } from '../src/shared.js';
import type { DiscoverEvidence } from '../src/workflows/logic/evidence.js';
import { eventually, flywheelInput, stubActivities } from './support/cli-flywheel.js';
import { describeTemporal, makeTestWorker } from './support/temporal-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'flywheel-failures-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeTemporal('workflow failures', () => {
  it('a TypeError in the workflow fails the workflow task (retried), not the run: no outcome, no handoff', async () => {
    let handoffs = 0;
    const stubs = stubActivities({ dir });
    const t = await makeTestWorker({
      activities: {
        ...stubs,
        // Evidence whose planes are missing: diagnose() reads them and throws a TypeError.
        async discover() {
          return { window: { days: 7 } } as unknown as DiscoverEvidence;
        },
        async writeHandoff(p: Parameters<NonNullable<typeof stubs.writeHandoff>>[0]) {
          handoffs++;
          return stubs.writeHandoff!(p);
        },
      },
    });
    try {
      const workflowId = t.workflowId('bug');
      const handle = await t.client.workflow.start(WORKFLOW_TYPE, { taskQueue: t.taskQueue, workflowId, args: [flywheelInput(dir, { project: 'p' })] });
      const failedTask = await t.runUntil(
        eventually(async () => {
          const events = (await handle.fetchHistory()).events ?? [];
          return events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
        }, 30_000, 'a failed workflow task'),
      );
      expect(failedTask?.failure?.message).toMatch(/TypeError|Cannot read properties|undefined/);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(handoffs).toBe(0);
      await handle.terminate('test done');
    } finally {
      await t.teardown();
    }
  });

  it('an activity that gives up: outcome blocked with the handoff written, and the execution is Failed', async () => {
    const stubs = stubActivities({ dir });
    const t = await makeTestWorker({
      activities: {
        ...stubs,
        async discover() {
          throw ApplicationFailure.nonRetryable('the evidence plane is down (test)', 'ProjectNotFound');
        },
      },
    });
    try {
      const workflowId = t.workflowId('gave-up');
      const handle = await t.client.workflow.start(WORKFLOW_TYPE, { taskQueue: t.taskQueue, workflowId, args: [flywheelInput(dir, { project: 'p' })] });
      const result = await t.runUntil(runResult(handle));
      expect(result).toMatchObject({ outcome: 'blocked', error: 'the evidence plane is down (test)' });
      expect(result.summaryPath).toBeTruthy();
      const desc = await handle.describe();
      expect(desc.status.name).toBe('FAILED');
    } finally {
      await t.teardown();
    }
  });
});
