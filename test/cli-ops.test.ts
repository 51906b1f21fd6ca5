/**
 * The operating commands of the BUILT CLI (status, list, watch, gate answers, history, replay, reset),
 * run as subprocesses against the shared dev server on real flywheel runs executed by a stub worker.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateAnswer } from '../src/cli/gates.js';
import { chooseResetPoint, type ResetEvent } from '../src/cli/history.js';
import { listQuery } from '../src/cli/report.js';
import { runResult } from '../src/run-result.js';
import { WORKFLOW_TYPE } from '../src/shared.js';
import { approveUpdate, type FlywheelStatus } from '../src/workflows/definitions.js';
import { ensureCliBuilt, eventually, flywheelInput, makeCli, oneLineError, PLAN_STEPS, stubActivities, type Cli } from './support/cli-flywheel.js';
import { describeTemporal, makeTestWorker, temporalAddress, type TestWorker } from './support/temporal-harness.js';

describe('reset point (pure)', () => {
  const wftc = (id: number): ResetEvent => ({ eventId: id, workflowTaskCompletedEventAttributes: {} });
  const scheduled = (id: number, name: string): ResetEvent => ({ eventId: id, activityTaskScheduledEventAttributes: { activityType: { name } } });
  // 1 started, 2-4 first task, 5 orient scheduled … 10 discover scheduled, 12 discover failed, 16 handoff …
  const events: ResetEvent[] = [{ eventId: 1 }, wftc(4), scheduled(5, 'orient'), { eventId: 7 }, wftc(9), scheduled(10, 'discover'), { eventId: 11 }, { eventId: 12, activityTaskFailedEventAttributes: { scheduledEventId: 10 } }, wftc(15), scheduled(16, 'writeHandoff'), wftc(20)];
  it.each([
    { name: 'last-good: the completed task that scheduled the failed activity', choice: {}, eventId: 9, reason: /before discover failed/ },
    { name: 'first', choice: { to: 'first' as const }, eventId: 4, reason: /first/ },
    { name: 'last', choice: { to: 'last' as const }, eventId: 20, reason: /last/ },
    { name: 'an explicit completed task', choice: { eventId: 15 }, eventId: 15, reason: /given/ },
  ])('$name', ({ choice, eventId, reason }) => {
    const p = chooseResetPoint(events, choice);
    expect(p.eventId).toBe(eventId);
    expect(p.reason).toMatch(reason);
  });
  it('without a failed activity, last-good is the last completed task', () => {
    expect(chooseResetPoint([wftc(4), scheduled(5, 'orient'), wftc(9)], {}).eventId).toBe(9);
  });
  it('a timed-out activity counts as failed', () => {
    expect(chooseResetPoint([wftc(4), scheduled(5, 'orient'), wftc(8), scheduled(9, 'discover'), { eventId: 11, activityTaskTimedOutEventAttributes: { scheduledEventId: 9 } }, wftc(14)], {}).eventId).toBe(8);
  });
  it('refuses an event that is not a completed workflow task, naming the nearest ones', () => {
    expect(() => chooseResetPoint(events, { eventId: 10 })).toThrow(/event 10 is not a WorkflowTaskCompleted event; the nearest are 9 or 15/);
  });
});

describe('gate answer validation (pure)', () => {
  const status = (over: Partial<FlywheelStatus> = {}): FlywheelStatus => ({
    workflowId: 'w',
    project: 'p',
    goal: 'g',
    mode: 'interactive',
    phase: 'diagnose',
    iteration: 1,
    activity: 'building the plan',
    pendingGate: { id: 'plan-1', kind: 'plan', title: 'Plan', detail: '', options: PLAN_STEPS, openedAt: '', timeoutAt: '' },
    findings: [],
    gates: [],
    outcome: null,
    summaryPath: null,
    ...over,
  });
  it.each([
    { cmd: 'approve' as const, opts: {}, ok: 'plan-1' },
    { cmd: 'approve' as const, opts: { subset: 'agent:tool:search' }, ok: 'plan-1' },
    { cmd: 'approve' as const, opts: { subset: 'nope' }, err: /unknown plan step\(s\) nope/ },
    { cmd: 'approve' as const, opts: { gate: 'route-3' }, err: /gate route-3 is not pending on run w: the pending gate is plan-1/ },
    { cmd: 'skip' as const, opts: { step: 'agent:tool:search' }, ok: 'plan-1' },
    { cmd: 'skip' as const, opts: {}, err: /skip needs a step: one of instrumentation:root_io, agent:tool:search/ },
    { cmd: 'override' as const, opts: { route: 'dataset' }, ok: 'plan-1' },
    { cmd: 'override' as const, opts: { route: 'magic' }, err: /route 'magic' is not an option at plan-1/ },
    { cmd: 'applied' as const, opts: {}, err: /plan gate, which `applied` does not answer/ },
  ])('$cmd $opts', ({ cmd, opts, ok, err }) => {
    if (err) expect(() => validateAnswer(cmd, opts, 'w', status())).toThrow(err);
    else expect(validateAnswer(cmd, opts, 'w', status())).toBe(ok);
  });
  it('no pending gate: a clear refusal (stop is still fine)', () => {
    expect(() => validateAnswer('approve', {}, 'w', status({ pendingGate: null, mode: 'autonomous' }))).toThrow(/no pending gate: it runs in autonomous mode/);
    expect(validateAnswer('stop', {}, 'w', status({ pendingGate: null }))).toBeUndefined();
  });
  it('list query quotes values and maps statuses', () => {
    expect(listQuery({ project: "o'neil", status: 'running' })).toBe(`WorkflowType = '${WORKFLOW_TYPE}' AND FlywheelProject = 'o\\'neil' AND ExecutionStatus = 'Running'`);
    expect(() => listQuery({ status: 'sleeping' })).toThrow(/unknown --status 'sleeping'/);
  });
});

describeTemporal('flywheel ops commands (built CLI, shared dev server)', () => {
  const tag = randomUUID().slice(0, 8);
  const project = `ops-${tag}`;
  const gateProject = `ops-gate-${tag}`;
  let dir: string;
  let cli: Cli;
  let t: TestWorker;
  let stopWorker: () => void = () => undefined;
  const ids = { healthy: `ops-healthy-${tag}`, gate: `ops-gate-${tag}`, reset: `ops-reset-${tag}`, idle: `ops-idle-${tag}` };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flywheel-cli-ops-'));
    const built = ensureCliBuilt();
    cli = makeCli(temporalAddress!, join(dir, 'home'), dir);
    writeFileSync(join(dir, `fail-${ids.reset}`), '1');
    t = await makeTestWorker({
      activities: stubActivities({
        dir,
        evidenceFor: (p) => (p === gateProject ? 'plan' : 'healthy'),
        failOnceFlag: (wf) => join(dir, `fail-${wf}`),
      }),
    });
    void t.runUntil(new Promise<void>((resolve) => (stopWorker = resolve)));
    const start = (workflowId: string, input: Parameters<typeof flywheelInput>[1], taskQueue = t.taskQueue) =>
      t.client.workflow.start(WORKFLOW_TYPE, { taskQueue, workflowId, args: [flywheelInput(dir, input)] });
    await Promise.all([
      start(ids.healthy, { project, goal: 'keep it healthy' }),
      start(ids.gate, { project: gateProject, mode: 'interactive' }),
      start(ids.reset, { project, goal: 'recover after a reset' }),
      // Nobody polls this queue: the run cannot be queried.
      start(ids.idle, { project, mode: 'interactive' }, `nobody-${tag}`),
    ]);
    await built;
  });

  afterAll(async () => {
    await t?.client.workflow.getHandle(ids.idle).terminate('test over').catch(() => undefined);
    stopWorker();
    await t?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('status of a finished run shows its outcome and handoff; --json has the result', async () => {
    await t.client.workflow.getHandle(ids.healthy).result();
    const human = await cli(['status', ids.healthy]);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toContain(`${ids.healthy}  COMPLETED`);
    expect(human.stdout).toMatch(/outcome:\s+healthy/);
    expect(human.stdout).toMatch(new RegExp(`project:\\s+${project}`));
    const json = await cli(['status', ids.healthy, '--json']);
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({ workflowId: ids.healthy, status: 'COMPLETED', closed: true, outcome: 'healthy', searchAttributes: { project, mode: 'autonomous', outcome: 'healthy', phase: 'done' } });
    expect(doc.summaryPath).toContain(ids.healthy);
    expect(doc.live.phase).toBe('done');
  });

  it('list filters by project and status; a table for people, an array with --json', async () => {
    const rows = await eventually(async () => {
      const r = await cli(['list', '--project', project, '--status', 'completed', '--json']);
      const arr = JSON.parse(r.stdout) as { workflowId: string }[];
      return arr.some((x) => x.workflowId === ids.healthy) ? arr : undefined;
    }, 20_000, 'the healthy run in list');
    expect(rows.find((x) => x.workflowId === ids.healthy)).toMatchObject({ project, mode: 'autonomous', outcome: 'healthy', status: 'COMPLETED', goal: 'keep it healthy' });
    expect(rows.every((x) => (x as unknown as { project: string }).project === project)).toBe(true);
    const table = await cli(['list', '--project', project, '--limit', '5']);
    expect(table.exitCode).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^PROJECT\s+GOAL\s+MODE\s+PHASE\/OUTCOME\s+STARTED\s+STATUS\s+WORKFLOW ID$/);
    expect(table.stdout).toContain(ids.healthy);
    const bad = await cli(['list', '--limit', 'zero']);
    expect(bad.exitCode).toBe(2);
    expect(oneLineError(bad)).toMatch(/--limit must be a positive whole number/);
  });

  it('answers an interactive run from another process: refuses wrong answers, approves a subset, records applied', async () => {
    const pending = await eventually(async () => {
      const s = JSON.parse((await cli(['status', ids.gate, '--json'])).stdout);
      return s.live?.pendingGate?.id === 'plan-1' ? s : undefined;
    }, 30_000, 'the plan gate');
    expect(pending.live.pendingGate).toMatchObject({ kind: 'plan', options: PLAN_STEPS });
    const human = await cli(['status', ids.gate]);
    expect(human.stdout).toMatch(/pending gate: plan-1 \(plan\)/);
    // The gate's detail: the plan, and the baseline it would be judged against (this project has none).
    expect(human.stdout).toMatch(/\| 1\. \*\*instrumentation\*\* `instrumentation:root_io`/);
    expect(human.stdout).toMatch(/\| \*\*Judged against:\*\* no baseline experiment/);
    expect(pending.live.pendingGate.shown).toBe('baseline: none');
    expect(human.stdout).toContain(`flywheel approve ${ids.gate} --gate plan-1`);

    const wrongGate = await cli(['approve', ids.gate, '--gate', 'route-9']);
    expect(wrongGate.exitCode).toBe(1);
    expect(oneLineError(wrongGate)).toMatch(/gate route-9 is not pending .* the pending gate is plan-1/);
    const wrongKind = await cli(['applied', ids.gate]);
    expect(wrongKind.exitCode).toBe(2);
    expect(oneLineError(wrongKind)).toMatch(/plan gate, which `applied` does not answer/);
    const badRoute = await cli(['override', ids.gate, '--route', 'magic']);
    expect(badRoute.exitCode).toBe(2);
    expect(oneLineError(badRoute)).toMatch(/route 'magic' is not an option at plan-1/);
    const noRoute = await cli(['override', ids.gate]);
    expect(noRoute.exitCode).toBe(2);
    expect(noRoute.stderr).toMatch(/required option '--route <route>' not specified/);
    expect(noRoute.stderr).not.toMatch(/\n\s+at /);

    const ok = await cli(['approve', ids.gate, '--gate', 'plan-1', '--subset', 'agent:tool:search', '--by', 'alice', '--note', 'tools first', '--json']);
    expect(ok.exitCode).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      signal: 'approve', via: 'update', gateId: 'plan-1', by: 'alice', verified: true, accepted: true,
      record: { id: 'plan-1', decision: 'approved', by: 'alice', note: 'tools first' },
    });
    // A second approver of the same gate (racing past the CLI's own check) is refused by the workflow, with a
    // reason, and nothing of it enters history.
    const handle = t.client.workflow.getHandle(ids.gate);
    const refusal = await handle.executeUpdate(approveUpdate, { args: [{ by: 'mallory', gateId: 'plan-1' }] }).catch((e: Error & { cause?: Error }) => e.cause?.message ?? e.message);
    expect(refusal).toMatch(/gate plan-1 is not open \(it was approved by alice\)/);
    const updates = ((await handle.fetchHistory()).events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    expect(updates.map((e) => e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest?.input?.name)).toEqual(['approve']);

    const apply = await eventually(async () => {
      const s = JSON.parse((await cli(['status', ids.gate, '--json'])).stdout);
      return s.live?.pendingGate?.kind === 'apply' ? s.live.pendingGate : undefined;
    }, 20_000, 'the apply gate');
    const applied = await cli(['applied', ids.gate, '--files', 'src/tools.ts', '--by', 'bob']);
    expect(applied.exitCode).toBe(0);
    expect(applied.stdout).toContain(`applied sent to gate ${apply.id} of ${ids.gate} as bob — accepted`);

    // No eval files to verify with → needs_work; watch exits like `run` (11).
    const watched = await cli(['watch', ids.gate, '--interval', '200ms']);
    expect(watched.stdout).toMatch(/COMPLETED: outcome needs_work/);
    expect(watched.exitCode).toBe(11);
    const done = JSON.parse((await cli(['status', ids.gate, '--json'])).stdout);
    expect(done.live.gates).toEqual([
      expect.objectContaining({ id: 'plan-1', decision: 'approved', by: 'alice', note: 'tools first', shown: 'baseline: none' }),
      expect.objectContaining({ id: apply.id, decision: 'applied', by: 'bob' }),
    ]);
    const late = await cli(['approve', ids.gate]);
    expect(late.exitCode).toBe(1);
    expect(oneLineError(late)).toMatch(/is completed: there is no gate to answer/);
  });

  it('a run nobody can query: status says why; an answer is sent anyway with a warning', async () => {
    const s = await cli(['status', ids.idle]);
    expect(s.exitCode).toBe(0);
    expect(s.stdout).toMatch(/live status:\s+unavailable: no worker is polling task queue "nobody-/);
    const a = await cli(['approve', ids.idle, '--gate', 'plan-1', '--by', 'carol', '--json']);
    expect(a.exitCode).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ verified: false, gateId: 'plan-1', by: 'carol' });
    expect(a.stderr).toMatch(/could not check the pending gate .*sent anyway/);
    const hist = await t.client.workflow.getHandle(ids.idle).fetchHistory();
    const signals = (hist.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes);
    expect(signals.map((e) => e.workflowExecutionSignaledEventAttributes!.signalName)).toEqual(['approve']);
  });

  it('history exports JSON that replays; a tampered history fails; a malformed file is one clear line', async () => {
    await t.client.workflow.getHandle(ids.healthy).result();
    const file = join(dir, 'healthy.history.json');
    const h = await cli(['history', ids.healthy, '--out', file]);
    expect(h.exitCode).toBe(0);
    expect(h.stdout).toMatch(/wrote \d+ events/);
    const history = JSON.parse(readFileSync(file, 'utf8'));
    expect(history.events[0].eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    expect(typeof history.events[0].eventId).toBe('string');

    const fromFile = await cli(['replay', '--file', file]);
    expect(fromFile.stderr).toBe('');
    expect(fromFile.exitCode).toBe(0);
    expect(fromFile.stdout).toMatch(/^determinism OK: history file .* \(\d+ events\) replays against the current workflow code/);
    const fromServer = await cli(['replay', ids.healthy, '--json']);
    expect(fromServer.exitCode).toBe(0);
    expect(JSON.parse(fromServer.stdout)).toMatchObject({ ok: true });

    const scheduled = history.events.find((e: { eventType: string }) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED');
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'somethingElse';
    const tampered = join(dir, 'tampered.history.json');
    writeFileSync(tampered, JSON.stringify(history));
    const bad = await cli(['replay', '--file', tampered]);
    expect(bad.exitCode).toBe(1);
    expect(oneLineError(bad)).toMatch(/determinism violation: .* diverges from the current workflow code: .*somethingElse/);

    const junk = join(dir, 'junk.json');
    writeFileSync(junk, '{ not json');
    const malformed = await cli(['replay', '--file', junk]);
    expect(malformed.exitCode).toBe(2);
    expect(oneLineError(malformed)).toMatch(/is not valid JSON/);
    writeFileSync(junk, '{"hello": "world"}');
    const notHistory = await cli(['replay', '--file', junk]);
    expect(notHistory.exitCode).toBe(2);
    expect(oneLineError(notHistory)).toMatch(/is not a Temporal history/);
    const both = await cli(['replay', ids.healthy, '--file', junk]);
    expect(both.exitCode).toBe(2);
    expect(oneLineError(both)).toMatch(/either a workflow id or --file/);
  });

  it('reset restarts a run at the last good point; the failed activity runs again and the run finishes', async () => {
    // It gave up: a Failed execution (schedules and alerts see it) whose failure carries the blocked result.
    const first = await runResult(t.client.workflow.getHandle(ids.reset));
    expect(first).toMatchObject({ outcome: 'blocked' });
    expect((await t.client.workflow.getHandle(ids.reset).describe()).status.name).toBe('FAILED');
    const shown = JSON.parse((await cli(['status', ids.reset, '--json'])).stdout);
    expect(JSON.stringify(shown)).toContain('"outcome":"blocked"');
    expect((first as { error: string }).error).toMatch(/evidence plane is down/);

    const badEvent = await cli(['reset', ids.reset, '--event-id', '1']);
    expect(badEvent.exitCode).toBe(2);
    expect(oneLineError(badEvent)).toMatch(/event 1 is not a WorkflowTaskCompleted event; the nearest are \d+/);

    const r = await cli(['reset', ids.reset, '--reason', 'evidence plane is back', '--json']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.point).toMatch(/before discover failed/);
    expect(doc.runId).not.toBe(doc.previousRunId);

    const watched = await cli(['watch', ids.reset, '--json', '--interval', '200ms']);
    expect(watched.exitCode).toBe(0);
    const final = JSON.parse(watched.stdout);
    expect(final).toMatchObject({ runId: doc.runId, status: 'COMPLETED', outcome: 'healthy', exitCode: 0 });
  });

  it('unknown ids get one clear line and a non-zero exit, for every command', async () => {
    const missing = `no-such-run-${tag}`;
    for (const args of [['status', missing], ['watch', missing], ['approve', missing], ['stop', missing], ['history', missing], ['replay', missing], ['reset', missing]]) {
      const r = await cli(args);
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(oneLineError(r)).toBe(`flywheel: no flywheel run with id "${missing}" in namespace "default". List runs with \`flywheel list\`.`);
    }
  });
});
