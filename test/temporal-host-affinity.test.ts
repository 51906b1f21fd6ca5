/**
 * Host affinity on the real parts: two `flywheel worker` processes (the built CLI) from two "checkouts" — two
 * homes — poll one task queue on the shared dev server and talk to one local Braintrust server. Runs started with
 * `flywheel run --no-worker` from checkout A execute every activity on A's worker, shown from the worker
 * identities Temporal records in each run's history; a run whose starter has no worker of its own is claimed by
 * one worker, which then executes all of it.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FlywheelResult } from '../src/workflows/flywheel.js';
import { ensureCliBuilt, repoRoot } from './support/cli-flywheel.js';
import { EXAMPLE_DIR, makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

const bin = join(repoRoot, 'bin', 'flywheel.js');

/** Worker identity of every started activity in a run's history, with its activity type. */
async function activityWorkers(env: FlywheelEnv, workflowId: string): Promise<{ type: string; identity: string }[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const types = new Map<number, string>();
  const out: { type: string; identity: string }[] = [];
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes) types.set(Number(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) out.push({ type: types.get(Number(started.scheduledEventId)) ?? '?', identity: started.identity ?? '' });
  }
  return out;
}

describeTemporal('host-affine activities (two flywheel worker processes, one queue)', () => {
  let env: FlywheelEnv;
  let agentDir: string;
  const queue = `affinity-${randomUUID().slice(0, 8)}`;
  const workers: { name: string; child: ResultPromise; identity: string }[] = [];

  /** Environment of every process here: the env's local Braintrust server as "the service", no Temporal defaults. */
  const procEnv = () => ({ ...env.server.btEnv(), PATH: process.env.PATH, HOME: env.home, TEMPORAL_ADDRESS: undefined, CI: undefined, FLYWHEEL_AUTONOMOUS: undefined });

  async function startWorker(name: string): Promise<void> {
    const child = execa(process.execPath, [bin, '--home', join(env.home, name), '--address', temporalAddress!, 'worker', '--task-queue', queue], {
      cwd: env.home, env: procEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 600_000,
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('worker polling task queue')) resolve();
      });
      void child.then(() => reject(new Error(`worker ${name} exited early:\n${stderr}`)));
    });
    workers.push({ name, child, identity: `${child.pid}@` });
  }

  async function startRun(home: string, workflowId: string) {
    const r = await execa(
      process.execPath,
      [bin, '--home', home, '--address', temporalAddress!, '--json', 'run', '--no-worker', '--detach', '--task-queue', queue,
        '--project', 'affinity-agent', '--allow-concurrent', '--agent-dir', agentDir, '--mode', 'autonomous', '--no-change-agent', '--out', join(env.home, `out-${workflowId}`), '--workflow-id', workflowId],
      { cwd: env.home, env: procEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 },
    );
    expect(r.exitCode, String(r.stderr)).toBe(0);
    return env.client.workflow.getHandle(workflowId);
  }

  beforeAll(async () => {
    await ensureCliBuilt();
    // Its own project name: CLI runs of one project join each other, and other test files run `support-agent`.
    env = await makeFlywheelEnv({ traces: 600, projectName: 'affinity-agent' });
    // The agent's repository, outside the shared example directory (bt writes `.bt/` into its cwd).
    agentDir = join(repoRoot, 'test', `.tmp-affinity-agent-${process.pid}`);
    cpSync(EXAMPLE_DIR, agentDir, { recursive: true, filter: (src) => !/[\\/](\.bt|node_modules)([\\/]|$)/.test(src) });
    mkdirSync(join(env.home, 'A'), { recursive: true });
    await startWorker('A');
    await startWorker('B');
  }, 300_000);

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) await w.child;
    if (agentDir) rmSync(agentDir, { recursive: true, force: true });
    await env?.teardown();
  });

  it('three runs started from checkout A execute every activity on A’s worker, with B polling the same queue', async () => {
    const ids = [1, 2, 3].map((i) => `affinity-a-${i}-${randomUUID().slice(0, 8)}`);
    const handles = [];
    for (const id of ids) handles.push(await startRun(join(env.home, 'A'), id));
    const results = (await Promise.all(handles.map((h) => h.result()))) as FlywheelResult[];
    expect(results.map((r) => r.outcome)).toEqual(['needs_work', 'needs_work', 'needs_work']);
    const a = workers.find((w) => w.name === 'A')!.identity;
    for (const id of ids) {
      const started = await activityWorkers(env, id);
      expect(started.map((s) => s.type)).toEqual(expect.arrayContaining(['orient', 'discover', 'writeHandoff']));
      expect(started.filter((s) => !s.identity.startsWith(a)), id).toEqual([]);
      expect(started.map((s) => s.type)).not.toContain('claimHost'); // pinned by the starter
    }
  });

  it('a run started where no worker of that home polls is claimed by one worker, which executes all of it', async () => {
    const ids = [1, 2].map((i) => `affinity-claim-${i}-${randomUUID().slice(0, 8)}`);
    const handles = [];
    for (const id of ids) handles.push(await startRun(join(env.home, 'C'), id));
    await Promise.all(handles.map((h) => h.result()));
    const identities = workers.map((w) => w.identity);
    for (const id of ids) {
      const started = await activityWorkers(env, id);
      expect(started[0]?.type).toBe('claimHost');
      const owner = identities.find((i) => started[0]!.identity.startsWith(i));
      expect(owner, started[0]!.identity).toBeDefined();
      expect(started.filter((s) => !s.identity.startsWith(owner!)), id).toEqual([]);
    }
  });
});
