/**
 * Fault injection on the real parts (issue 9 item 10): the shared Temporal dev server, the local Braintrust server
 * with its fault switch, the real bt, the real activities. Each faulted run must end as the undisturbed reference
 * run does — same outcome and findings, no duplicate dataset row, a valid handoff, no process left behind — except
 * a 401, which must stop the run at once as `blocked`, naming the credentials.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Summary } from '../schemas/summary.js';
import type { FaultSpec } from '../src/local-server/index.js';
import { validateSummary } from '../src/handoff/index.js';
import { reaperPid } from '../src/process-reaper.js';
import { runResult } from '../src/run-result.js';
import { statusQuery } from '../src/workflows/definitions.js';
import { flywheelWorkflow, type FlywheelResult } from '../src/workflows/flywheel.js';
import { makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

const TRACES = 600;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------- processes

interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  cmd: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (rest[0] === 'Z') continue; // a zombie holds no resources; its parent reaps it
      out.push({ pid: Number(name), ppid: Number(rest[1]), pgid: Number(rest[2]), cmd });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Every live descendant of `root`. */
function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  let frontier = [root];
  while (frontier.length) {
    const kids = all.filter((p) => frontier.includes(p.ppid));
    found.push(...kids);
    frontier = kids.map((p) => p.pid);
  }
  return found;
}

/** Children of this test process other than the worker's reaper: there must be none once a run is over. */
function strayChildren(): Proc[] {
  const reaper = reaperPid();
  return descendants(process.pid).filter((p) => p.pid !== reaper && p.ppid !== reaper);
}

// ------------------------------------------------------------------------------------------- run checks

async function waitUntil(handle: WorkflowHandle, what: string, pred: () => Promise<boolean>, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred().catch(() => false)) return;
    if ((await handle.describe()).status.name !== 'RUNNING') throw new Error(`run ended before ${what}`);
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const inPhase = (handle: WorkflowHandle, phase: string) => async () => (await handle.query(statusQuery)).phase === phase;

async function pendingActivity(handle: WorkflowHandle): Promise<{ type: string; attempt: number; started: boolean } | null> {
  const p = (await handle.describe()).raw.pendingActivities?.[0];
  if (!p) return null;
  return { type: p.activityType?.name ?? '', attempt: p.attempt ?? 1, started: String(p.state) === '2' || String(p.state) === 'PENDING_ACTIVITY_STATE_STARTED' };
}

async function history(env: FlywheelEnv, workflowId: string) {
  return (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

interface Reference {
  outcome: string;
  findings: string[];
}

function readSummary(result: FlywheelResult): Summary {
  return JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
}

const findingIds = (s: Summary) => [...s.findings].sort();

/** Everything an undisturbed run guarantees: valid handoff, no duplicated dataset row, no process left behind. */
async function expectClean(env: FlywheelEnv, result: FlywheelResult): Promise<Summary> {
  expect(result.summaryPath).toBeTruthy();
  const summary = readSummary(result);
  expect(await validateSummary(summary)).toEqual([]);
  for (const c of summary.changes_detail.filter((x) => x.artifact === 'dataset' && x.dataset_rows?.dataset_id)) {
    const id = c.dataset_rows!.dataset_id;
    const [counts] = await env.sql(`SELECT COUNT(*) AS n, count_distinct(id) AS ids FROM dataset('${id}')`);
    expect(Number(counts!.n)).toBeGreaterThan(0);
    expect(Number(counts!.n)).toBe(Number(counts!.ids));
  }
  expect(strayChildren()).toEqual([]);
  return summary;
}

// ------------------------------------------------------------------------------------------- tests

describeTemporal('fault injection on the real parts', () => {
  let ref: Reference;
  const envs: FlywheelEnv[] = [];
  const newEnv = async () => {
    const env = await makeFlywheelEnv({ traces: TRACES });
    envs.push(env);
    return env;
  };
  const input = (env: FlywheelEnv, extra: Record<string, unknown> = {}) =>
    env.input({ changeCommand: undefined, retryWindow: '10m', datasetName: 'flywheel-faults', ...extra });

  beforeAll(async () => {
    const env = await newEnv();
    const result = await env.execute(`faults-reference-${Date.now()}`, input(env));
    const summary = await expectClean(env, result);
    ref = { outcome: result.outcome, findings: findingIds(summary) };
    expect(summary.changes_detail.some((c) => c.artifact === 'dataset')).toBe(true);
  });
  afterAll(async () => {
    for (const env of envs) await env.teardown();
  });

  /** Runs with `fault` switched on from the start of `phase` for `forMs`, and returns the result and history. */
  async function faulted(name: string, phase: string, fault: FaultSpec, forMs: number, extra: Record<string, unknown> = {}) {
    const env = await newEnv();
    const workflowId = `faults-${name}-${Date.now()}`;
    let faultedFor = 0;
    const result = await env.execute(workflowId, input(env, extra), async (w) => {
      const handle = w.client.workflow.getHandle(workflowId);
      await waitUntil(handle, phase, inPhase(handle, phase));
      env.server.faults.set(fault);
      const t0 = Date.now();
      const stop = Date.now() + forMs;
      while (Date.now() < stop && (await handle.describe()).status.name === 'RUNNING') await sleep(250);
      faultedFor = Date.now() - t0;
      env.server.faults.clear();
    });
    return { env, workflowId, result, events: await history(env, workflowId), hits: env.server.faults.hits.length, faultedFor };
  }

  /** The run rode the fault out: same outcome and findings, retried (attempt > 1), no activity failed for good. */
  async function expectRiddenOut(r: Awaited<ReturnType<typeof faulted>>, minHits: number) {
    expect(r.hits).toBeGreaterThanOrEqual(minHits);
    expect(r.result.outcome).toBe(ref.outcome);
    const summary = await expectClean(r.env, r.result);
    expect(findingIds(summary)).toEqual(ref.findings);
    expect(r.events.some((e) => e.activityTaskFailedEventAttributes)).toBe(false);
    return summary;
  }

  const maxAttempt = (events: Awaited<ReturnType<typeof history>>) =>
    Math.max(...events.flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : [])));

  it('429 burst for 25 s during Discover (every BTQL query): retried after the rate limit, same outcome', async () => {
    const r = await faulted('429', 'discover', { status: 429, routes: '/btql', retryAfterSeconds: 5 }, 25_000);
    await expectRiddenOut(r, 1);
    expect(maxAttempt(r.events)).toBeGreaterThan(1);
  });

  it('503 burst for 25 s during curation (every route): retried, same outcome, no duplicated row', async () => {
    const r = await faulted('503', 'improve', { status: 503 }, 25_000);
    await expectRiddenOut(r, 1);
    expect(maxAttempt(r.events)).toBeGreaterThan(1);
  });

  it('malformed (cut-off) JSON bodies for 20 s during Discover: a transport fault, retried, same outcome', async () => {
    const r = await faulted('malformed', 'discover', { malformed: true }, 20_000);
    await expectRiddenOut(r, 1);
    expect(maxAttempt(r.events)).toBeGreaterThan(1);
  });

  it('slow answers (3 s per request) for 30 s during Discover: no retry needed, same outcome', async () => {
    const r = await faulted('slow', 'discover', { slowMs: 3_000 }, 30_000);
    await expectRiddenOut(r, 3);
  });

  it('401 during Discover: stops at once (no retry), blocked naming the credentials, a Failed execution', async () => {
    const t0 = Date.now();
    const r = await faulted('401', 'discover', { status: 401 }, 60_000, { retryWindow: '2m' });
    expect(r.result.outcome).toBe('blocked');
    expect(r.result.error).toMatch(/credentials|BRAINTRUST_API_KEY/);
    expect(r.result.error).toMatch(/401/);
    // Permanent: the failing activity ran once and failed; nothing waited out a retry window.
    const failed = r.events.filter((e) => e.activityTaskFailedEventAttributes);
    expect(failed.length).toBe(1);
    expect(failed[0]!.activityTaskFailedEventAttributes!.failure?.applicationFailureInfo?.type).toBe('BtAuth');
    expect(failed[0]!.activityTaskFailedEventAttributes!.failure?.applicationFailureInfo?.nonRetryable).toBe(true);
    expect(maxAttempt(r.events)).toBe(1);
    expect(r.faultedFor).toBeLessThan(30_000);
    expect(Date.now() - t0).toBeLessThan(120_000);
    const desc = await r.env.client.workflow.getHandle(r.workflowId).describe();
    expect(desc.status.name).toBe('FAILED');
    const summary = await expectClean(r.env, r.result);
    expect(summary.outcome).toBe('blocked');
    expect(JSON.stringify(summary)).toMatch(/BRAINTRUST_API_KEY/);
  });

  // ------------------------------------------------------------------------------------------- worker killed

  const workerMain = fileURLToPath(new URL('./support/flywheel-worker-main.ts', import.meta.url));

  async function spawnWorker(env: FlywheelEnv): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', workerMain], {
      env: {
        ...process.env,
        FLYWHEEL_TEST_WORKER: JSON.stringify({ address: temporalAddress, taskQueue: env.taskQueue, codePath: inject('workflowBundlePath'), btEnv: env.btEnv, appUrl: env.server.appUrl }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('ready')) resolve();
      });
      child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', () => reject(new Error(`worker exited early:\n${out}`)));
    });
    return child;
  }

  it.each(['runEval', 'prepareCuration'])(
    'worker SIGKILLed during %s: retried on a new worker within 60 s, same outcome, no duplicated row, no orphaned process',
    async (activity) => {
      const env = await newEnv();
      const workflowId = `faults-kill-${activity}-${Date.now()}`;
      const child = await spawnWorker(env);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const handle = await env.client.workflow.start(flywheelWorkflow, { taskQueue: env.taskQueue, workflowId, args: [input(env)] });
      // Kill while the activity runs a child process (bt, bt eval's runner, the labeler): the worst moment.
      let victims: ReturnType<typeof descendants> = [];
      try {
        await waitUntil(handle, `${activity} with a child process`, async () => {
          const p = await pendingActivity(handle);
          if (!p || p.type !== activity || !p.started) return false;
          victims = descendants(child.pid!);
          return victims.some((v) => /\bbt\b|tsx|labeler|eval/.test(v.cmd) && v.pgid !== child.pid && v.pgid === v.pid);
        });
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      }
      child.kill('SIGKILL');
      const killedAt = Date.now();
      await exited;
      // The reaper ends the killed worker's process groups (and then itself) within seconds.
      // The process groups the worker started (bt, runners, labeler lead their own; the reaper too): no live
      // member is left, including any started after the snapshot (zombies waiting for init to reap them are dead).
      const groups = new Set(victims.filter((v) => v.pgid === v.pid).map((v) => v.pid));
      expect(groups.size).toBeGreaterThan(1);
      const left = () => processes().filter((p) => groups.has(p.pgid) || victims.some((v) => v.pid === p.pid));
      for (let i = 0; i < 100 && left().length > 0; i++) await sleep(100);
      expect(left()).toEqual([]);

      const second = await env.newWorker();
      const result = await second.runUntil(runResult(handle));
      expect(result.outcome).toBe(ref.outcome);
      const summary = await expectClean(env, result);
      expect(findingIds(summary)).toEqual(ref.findings);

      // The retry of the killed attempt started within 60 s of the kill (heartbeat timeout + first backoff).
      const events = await history(env, workflowId);
      const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType?.name]));
      const retried = events
        .filter((e) => e.activityTaskStartedEventAttributes && scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) === activity)
        .filter((e) => (e.activityTaskStartedEventAttributes!.attempt ?? 1) > 1);
      expect(retried.length).toBe(1);
      const startedAt = Number(retried[0]!.eventTime!.seconds) * 1000 + Math.floor((retried[0]!.eventTime!.nanos ?? 0) / 1e6);
      const delay = startedAt - killedAt;
      process.stderr.write(`[faults] ${activity}: kill → retry started ${(delay / 1000).toFixed(1)} s\n`);
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThan(60_000);
      // The killed attempt ended by heartbeat timeout, not by a failure of its own.
      expect(events.some((e) => e.activityTaskFailedEventAttributes)).toBe(false);
    },
  );
});
