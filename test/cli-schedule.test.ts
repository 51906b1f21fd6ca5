/**
 * `flywheel schedule …` through the BUILT CLI against the shared dev server: create → list → trigger → the
 * run appears in `flywheel list` and finishes on a stub worker → delete; bad input is one clear line. A scheduled run
 * carries the `braintrust` memo, so `flywheel run` of the same project on the same Braintrust joins it.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cronError } from '../src/cli/schedule.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { ensureCliBuilt, eventually, makeCli, oneLineError, stubActivities, type Cli } from './support/cli-flywheel.js';
import { describeTemporal, makeTestWorker, temporalAddress, type TestWorker } from './support/temporal-harness.js';

describe('cron validation (pure)', () => {
  it.each([
    ['0 3 * * *', null],
    ['*/15 9-17 * * MON-FRI', null],
    ['0 0 1 JAN,JUL ?', null],
    ['@daily', null],
    ['61 * * * *', /minute field '61': '61' is outside 0-59/],
    ['* * *', /expected 5 fields/],
    ['0 25 * * *', /hour field '25'/],
    ['0 3 * * 8', /day of week field '8'/],
    ['0 3 * FOO *', /month field 'FOO'/],
    ['0 17-9 * * *', /range is backwards/],
    ['*/0 * * * *', /step must be at least 1/],
    ['@sometimes', /unknown macro/],
    ['', /empty/],
  ])('%s', (expr, want) => {
    const err = cronError(expr);
    if (want === null) expect(err).toBeNull();
    else expect(err).toMatch(want);
  });
});

describeTemporal('flywheel schedule (built CLI, shared dev server)', () => {
  const tag = randomUUID().slice(0, 8);
  const project = `sched-${tag}`;
  const scheduleId = `nightly-${tag}`;
  let dir: string;
  let cli: Cli;
  let t: TestWorker;
  let stopWorker: () => void = () => undefined;

  let server: LocalServerHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flywheel-cli-schedule-'));
    const built = ensureCliBuilt();
    // One Braintrust for every command (a schedule records which one its runs' projects live on).
    server = await startLocalServer({ port: 0, dataFile: join(dir, 'bt.duckdb') });
    const plain = makeCli(temporalAddress!, join(dir, 'home'), dir);
    cli = (args, opts = {}) => plain(args, { ...opts, env: { ...server.btEnv(), ...opts.env } });
    t = await makeTestWorker({ activities: stubActivities({ dir }) });
    void t.runUntil(new Promise<void>((resolve) => (stopWorker = resolve)));
    await built;
  });

  afterAll(async () => {
    await t?.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    stopWorker();
    await t?.teardown();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const runOptions = () => ['--project', project, '--goal', 'nightly check', '--agent-dir', dir, '--out', join(dir, 'out'), '--task-queue', t.taskQueue];

  it('create → list → trigger → the run is listed and finishes autonomous → delete', async () => {
    const created = await cli(['schedule', 'create', scheduleId, '--cron', '0 3 * * *', ...runOptions(), '--json']);
    expect(created.stderr).toBe('');
    expect(created.exitCode).toBe(0);
    const doc = JSON.parse(created.stdout);
    expect(doc).toMatchObject({ scheduleId, spec: 'cron "0 3 * * *"', taskQueue: t.taskQueue, input: { project, mode: 'autonomous', goal: 'nightly check' } });
    expect(doc.input.modeReason).toContain(scheduleId);
    expect(doc).toMatchObject({ jitterMs: 600_000, pauseOnFailure: true, input: { handoffPerRun: true } });
    expect(Date.parse(doc.nextRun)).toBeGreaterThan(Date.now());

    const again = await cli(['schedule', 'create', scheduleId, '--every', '1h', ...runOptions()]);
    expect(again.exitCode).toBe(1);
    expect(oneLineError(again)).toMatch(/already exists/);

    const listed = JSON.parse((await cli(['schedule', 'list', '--json'])).stdout) as { scheduleId: string; spec: string; project: string }[];
    expect(listed.find((s) => s.scheduleId === scheduleId)).toMatchObject({ spec: 'cron "0 3 * * *"', project });
    const table = await cli(['schedule', 'list']);
    expect(table.stdout).toMatch(new RegExp(`${scheduleId}\\s+cron "0 3 \\* \\* \\*"\\s+${project}`));

    const triggered = await cli(['schedule', 'trigger', scheduleId, '--json']);
    expect(triggered.exitCode).toBe(0);
    const started = JSON.parse(triggered.stdout).started as { workflowId: string; runId: string };
    expect(started.workflowId.startsWith(`${scheduleId}-`)).toBe(true);

    const row = await eventually(async () => {
      const rows = JSON.parse((await cli(['list', '--project', project, '--json'])).stdout) as { workflowId: string; mode: string | null }[];
      return rows.find((r) => r.workflowId === started.workflowId);
    }, 20_000, 'the scheduled run in list');
    expect(row).toMatchObject({ mode: 'autonomous', goal: 'nightly check' });

    const watched = await cli(['watch', started.workflowId, '--interval', '200ms']);
    expect(watched.exitCode).toBe(0);
    expect(watched.stdout).toMatch(/COMPLETED: outcome healthy/);
    // Each scheduled run keeps its own handoff directory.
    expect(existsSync(join(dir, 'out', started.workflowId, `${started.workflowId}-summary.json`))).toBe(true);

    const paused = await cli(['schedule', 'pause', scheduleId, '--note', 'maintenance']);
    expect(paused.exitCode, paused.stderr).toBe(0);
    expect(JSON.parse((await cli(['schedule', 'list', '--json'])).stdout).find((r: { scheduleId: string }) => r.scheduleId === scheduleId)).toMatchObject({ paused: true, note: 'maintenance' });
    expect((await cli(['schedule', 'unpause', scheduleId])).exitCode).toBe(0);
    const updated = await cli(['schedule', 'update', scheduleId, '--every', '2h', '--jitter', '1m', '--no-pause-on-failure', '--json']);
    expect(updated.exitCode, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ spec: 'every 2h', jitterMs: 60_000, pauseOnFailure: false });
    const afterUpdate = await t.client.schedule.getHandle(scheduleId).describe();
    expect(afterUpdate.state.paused).toBe(false);
    expect(afterUpdate.spec.intervals?.[0]?.every).toBe(7_200_000);
    expect((await cli(['schedule', 'update', scheduleId])).exitCode).toBe(2);
    const badJitter = await cli(['schedule', 'update', scheduleId, '--every', '1h', '--jitter', '2h']);
    expect(oneLineError(badJitter)).toMatch(/--jitter 2h must be shorter than the interval/);

    // Backfill: the two times "every 2h" fired in a past 4-hour window run, one after another.
    const backfill = await cli(['schedule', 'backfill', scheduleId, '--from', '2026-11-20T00:00:00Z', '--to', '2026-11-20T03:59:00Z']);
    expect(backfill.exitCode, backfill.stderr).toBe(0);
    const backfilled = await eventually(async () => {
      const rows = JSON.parse((await cli(['list', '--project', project, '--json'])).stdout) as { workflowId: string; outcome: string | null }[];
      const mine = rows.filter((r) => r.workflowId.startsWith(`${scheduleId}-2026-11-20T`) && r.outcome);
      return mine.length >= 2 ? mine : undefined;
    }, 60_000, 'two backfilled runs to finish');
    expect(backfilled.map((r) => r.outcome)).toEqual(['healthy', 'healthy']);
    expect((await cli(['schedule', 'backfill', scheduleId, '--from', 'yesterday', '--to', 'now'])).exitCode).toBe(2);

    const deleted = await cli(['schedule', 'delete', scheduleId]);
    expect(deleted.exitCode).toBe(0);
    const gone = await cli(['schedule', 'delete', scheduleId]);
    expect(gone.exitCode).toBe(1);
    expect(oneLineError(gone)).toBe(`flywheel: no schedule "${scheduleId}" (see \`flywheel schedule list\`)`);
  });

  it('a scheduled run carries the braintrust memo: `flywheel run` of its project joins it instead of starting a second', async () => {
    const joinProject = `sched-join-${tag}`;
    const joinSchedule = `join-${tag}`;
    const idleQueue = `idle-${tag}`; // no worker: the scheduled run stays running
    const res = await fetch(`${server.apiUrl}/v1/project`, { method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: joinProject }) });
    expect(res.ok).toBe(true);
    const opts = ['--project', joinProject, '--goal', 'nightly check', '--agent-dir', dir, '--out', join(dir, 'out-join'), '--task-queue', idleQueue];
    let scheduled: string | undefined;
    try {
      expect((await cli(['schedule', 'create', joinSchedule, '--every', '1h', ...opts])).exitCode).toBe(0);
      const triggered = await cli(['schedule', 'trigger', joinSchedule, '--json']);
      expect(triggered.exitCode, triggered.stderr).toBe(0);
      scheduled = (JSON.parse(triggered.stdout).started as { workflowId: string }).workflowId;
      expect((await t.client.workflow.getHandle(scheduled).describe()).memo).toEqual({ braintrust: server.appUrl });

      const run = await cli(['run', ...opts, '--no-worker', '--mode', 'autonomous', '--detach']);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe(scheduled);
      expect(run.stderr).toContain(`project ${joinProject} already has run ${scheduled} in progress: joining it`);
    } finally {
      if (scheduled) await t.client.workflow.getHandle(scheduled).terminate('test done').catch(() => undefined);
      await t.client.schedule.getHandle(joinSchedule).delete().catch(() => undefined);
    }
  });

  it('bad input: one clear line, non-zero exit, nothing created', async () => {
    const cases: { args: string[]; code: number; msg: RegExp }[] = [
      { args: ['--cron', '61 * * * *'], code: 2, msg: /invalid --cron "61 \* \* \* \*": minute field '61'/ },
      { args: ['--cron', '* * *'], code: 2, msg: /expected 5 fields/ },
      { args: [], code: 2, msg: /exactly one of --cron .* or --every/ },
      { args: ['--cron', '@daily', '--every', '1h'], code: 2, msg: /exactly one of/ },
      { args: ['--every', 'soon'], code: 2, msg: /invalid --every 'soon'/ },
      { args: ['--every', '30s'], code: 2, msg: /too often/ },
      { args: ['--every', '1h', '--mode', 'interactive'], code: 2, msg: /always autonomous/ },
      { args: ['--every', '1h', '--agent-dir', join(dir, 'missing')], code: 2, msg: /does not exist/ },
    ];
    for (const c of cases) {
      const r = await cli(['schedule', 'create', `bad-${tag}`, ...runOptions(), ...c.args]);
      expect(r.exitCode, c.args.join(' ')).toBe(c.code);
      expect(oneLineError(r)).toMatch(c.msg);
    }
    const trigger = await cli(['schedule', 'trigger', `bad-${tag}`]);
    expect(trigger.exitCode).toBe(1);
    expect(oneLineError(trigger)).toMatch(/no schedule "bad-/);
    const listed = JSON.parse((await cli(['schedule', 'list', '--json'])).stdout) as { scheduleId: string }[];
    expect(listed.some((s) => s.scheduleId === `bad-${tag}`)).toBe(false);
  });
});
