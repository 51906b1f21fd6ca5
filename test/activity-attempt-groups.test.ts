/**
 * A new attempt first ends the previous attempt's process groups (src/activities/attempt-groups.ts), on the real
 * parts: real detached process groups, the shared Temporal dev server carrying the heartbeat details from one
 * attempt to the next, the production activity wrapper.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, describe, expect, it } from 'vitest';
import { keepAlive } from '../src/activities/index.js';
import { runSubprocess } from '../src/activities/subprocess.js';
import { endGroupIfAlive, isLiveHere, killGroup, liveMembers, markGroup } from '../src/process-group.js';
import { runResult } from '../src/run-result.js';
import { WORKFLOW_TYPE } from '../src/shared.js';
import type { OrientContext } from '../src/workflows/types.js';
import { flywheelInput, stubActivities } from './support/cli-flywheel.js';
import { describeTemporal, makeTestWorker } from './support/temporal-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'attempt-groups-'));
const leftovers: number[] = [];
afterAll(() => {
  for (const pgid of leftovers) killGroup(pgid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
/** Running (a zombie — dead, waiting for init to reap it — is not). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

describe('a group mark (real processes)', () => {
  it('ends only a group of this host whose leader is the one marked', async () => {
    const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const pid = child.pid!;
    leftovers.push(pid);
    const mark = markGroup(pid);
    expect(mark.start).not.toBeNull();
    // Another host, or a leader that started at another time (the number reused): not ours, left alone.
    for (const other of [{ ...mark, host: `${mark.host}-elsewhere` }, { ...mark, start: mark.start! + 1 }, { ...mark, boot: 'another-boot' }]) {
      expect(isLiveHere(other)).toBe(false);
      expect(await endGroupIfAlive(other)).toBe(false);
    }
    expect(liveMembers(pid)).toEqual([pid]);
    expect(await endGroupIfAlive(mark)).toBe(true);
    await new Promise((r) => child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r));
    expect(liveMembers(pid)).toEqual([]);
    expect(await endGroupIfAlive(mark)).toBe(false);
  });
});

describeTemporal('a retried activity (shared dev server)', () => {
  it('attempt 2 first ends the group attempt 1 left running (read from its heartbeat details): one child at a time', async () => {
    const stubs = stubActivities({ dir });
    let oldPid = 0;
    let oldAliveAfterAttempt1 = false;
    const attempts: { attempt: number; oldAliveAtStart: boolean }[] = [];
    // Orient stands in for any long activity: attempt 1 runs a command whose leader exits but leaves a member of its
    // group running (as a change agent that backgrounds a helper does), then fails retryably (as a scorer push that
    // hits a 503 would). Attempt 2 records whether that member was still alive when its own code began.
    const orient = async (config: Parameters<NonNullable<typeof stubs.orient>>[0], workflowId: string): Promise<OrientContext> => {
      const attempt = Context.current().info.attempt;
      if (attempt === 1) {
        const r = await runSubprocess({ argv: ['sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!'], cwd: dir, timeoutMs: 20_000 });
        oldPid = Number(r.stdout.trim());
        leftovers.push(oldPid);
        oldAliveAfterAttempt1 = alive(oldPid);
        throw ApplicationFailure.retryable('the push after the change agent failed (test)', 'Transient');
      }
      attempts.push({ attempt, oldAliveAtStart: alive(oldPid) });
      return stubs.orient!(config, workflowId);
    };
    const t = await makeTestWorker({ activities: keepAlive({ ...stubs, orient } as Record<string, (...a: never[]) => Promise<unknown>>, 10_000) });
    try {
      const handle = await t.client.workflow.start(WORKFLOW_TYPE, { taskQueue: t.taskQueue, workflowId: t.workflowId('attempt-groups'), args: [flywheelInput(dir, { project: 'p' })] });
      await t.runUntil(runResult(handle));
      expect(oldPid).toBeGreaterThan(1);
      expect(oldAliveAfterAttempt1).toBe(true);
      expect(attempts).toEqual([{ attempt: 2, oldAliveAtStart: false }]);
      expect(alive(oldPid)).toBe(false);
      // The server ran it as one activity, retried: attempt 2 started after attempt 1's failure.
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'orient')!;
      const started = events.find((e) => e.activityTaskStartedEventAttributes && Number(e.activityTaskStartedEventAttributes.scheduledEventId) === Number(scheduled.eventId));
      expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(2);
      expect(started?.activityTaskStartedEventAttributes?.lastFailure?.message).toBe('the push after the change agent failed (test)');
    } finally {
      await t.teardown();
    }
  });
});
