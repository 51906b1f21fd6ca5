/**
 * Saved histories of real example runs (healthy, improved, no_convergence, interactive approve, gate
 * timeout) replay against the current workflow code; a tampered history must fail with a determinism error.
 * Fixtures are append-only, one set per release (`<name>@<version>.json`; the unsuffixed ones are 0.1.0): every
 * release must replay them all. See docs/versioning.md and test/support/histories.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { HISTORIES_DIR } from './support/histories.js';

const codePath = inject('workflowBundlePath');
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort();

interface HistoryEvent {
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
}

describe.skipIf(!codePath)('replay of saved histories', () => {
  it('has the histories the issue asks for', () => {
    expect(files).toEqual(expect.arrayContaining(['healthy.json', 'improved.json', 'no_convergence.json', 'interactive_approve.json', 'gate_timeout.json']));
  });

  for (const file of files) {
    it(`${file} replays deterministically`, async () => {
      const history = JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: { codePath: codePath! }, replayName: file }, history);
    });
  }

  it('a tampered history (an activity swapped for another) fails to replay', async () => {
    const history = JSON.parse(readFileSync(join(HISTORIES_DIR, 'improved.json'), 'utf8')) as { events: HistoryEvent[] };
    const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'discover');
    expect(scheduled).toBeDefined();
    scheduled!.activityTaskScheduledEventAttributes!.activityType!.name = 'curateDataset';
    await expect(Worker.runReplayHistory({ workflowBundle: { codePath: codePath! } }, history)).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
