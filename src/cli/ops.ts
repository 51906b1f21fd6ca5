/**
 * Operating flywheel runs: `status`, `list`, `watch`, the gate answers (`approve`, `reject`, `override`, `skip`,
 * `applied`, `stop`), and recovery (`history`, `replay`, `reset`). Each command talks to Temporal through
 * `withClient`, sends the typed messages of definitions.ts, and prints one line (or one JSON document).
 */
import { termSafe } from '../untrusted.js';
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  defaultPayloadConverter,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import { Command, Option } from 'commander';
import Long from 'long';
import { durationMs } from '../../schemas/flywheel-input.js';
import { TASK_QUEUE, WORKFLOW_TYPE } from '../shared.js';
import {
  appliedSignal,
  appliedUpdate,
  approveSignal,
  approveUpdate,
  FlywheelGoalKey,
  FlywheelModeKey,
  FlywheelOutcomeKey,
  FlywheelPhaseKey,
  FlywheelProjectKey,
  overrideSignal,
  overrideUpdate,
  rejectSignal,
  rejectUpdate,
  skipSignal,
  skipUpdate,
  statusQuery,
  stopSignal,
  type ApproveArgs,
  type FlywheelStatus,
  type GateKind,
  type GateRecord,
  type PendingGate,
} from '../workflows/definitions.js';
import { answerProblem, ARTIFACT_ROUTES, type AnswerArgs } from '../workflows/logic/gate-answers.js';
import type { FlywheelResult } from '../workflows/flywheel.js';
import { actorName, CliError, EXIT_CODES, globalsOf, output, withClient, type GlobalOptions } from './common.js';
import { exitCodeFor } from './run.js';
import { blockedResultOf } from '../run-result.js';

/** How long a status query may take before the run counts as "not queryable" (no worker polling). */
const QUERY_TIMEOUT_MS = 5_000;

// ─── reading a run ────────────────────────────────────────────────────────────────────────────────

interface SearchAttrs {
  project: string | null;
  goal: string | null;
  mode: string | null;
  phase: string | null;
  outcome: string | null;
}

interface PendingActivity {
  activityType: string;
  attempt: number;
  heartbeat: unknown;
  lastHeartbeatAt: string | null;
  lastFailure: string | null;
  /** When a failed activity is tried again (it is waiting out a failure, e.g. Braintrust unreachable). */
  nextAttemptAt: string | null;
}

type QueryResult = { ok: true; status: FlywheelStatus } | { ok: false; reason: string };

/** What `status` and `watch` know about a run: describe + status query (+ the result once closed). */
export interface RunReport {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  status: string;
  closed: boolean;
  startTime: string;
  closeTime: string | null;
  searchAttributes: SearchAttrs;
  live: FlywheelStatus | null;
  /** Why the status query gave nothing (no worker polling, query timeout). */
  liveUnavailable: string | null;
  pendingActivities: PendingActivity[];
  result: FlywheelResult | null;
  failure: string | null;
  outcome: string | null;
  summaryPath: string | null;
}

async function describeRun(client: Client, workflowId: string, runId?: string): Promise<{ handle: WorkflowHandle; desc: WorkflowExecutionDescription }> {
  const handle = client.workflow.getHandle(workflowId, runId);
  try {
    return { handle, desc: await handle.describe() };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError') {
      throw new CliError(
        `no flywheel run with id "${workflowId}"${runId ? ` and run id ${runId}` : ''} in namespace "${client.options.namespace}". List runs with \`flywheel list\`.`,
      );
    }
    throw err;
  }
}

/** How to get a worker for a run's queue: a `flywheel run`'s private queue is resumed by that run's command. */
export function workerHint(taskQueue: string): string {
  if (taskQueue === TASK_QUEUE) return 'start one with `flywheel worker`';
  if (taskQueue.startsWith(`${TASK_QUEUE}.run-`)) return 'it was started by `flywheel run` with a worker in that process: run the same command again (same --home and --workflow-id) to resume it';
  return `start one with \`flywheel worker --task-queue ${taskQueue}\``;
}

/** Whether any worker polls the run's workflow task queue (null: the server would not say). */
async function hasWorker(client: Client, taskQueue: string, type: 'workflow' | 'activity' = 'workflow'): Promise<boolean | null> {
  try {
    const res = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue, kind: 1 /* TASK_QUEUE_KIND_NORMAL */ },
      taskQueueType: type === 'workflow' ? 1 /* TASK_QUEUE_TYPE_WORKFLOW */ : 2 /* TASK_QUEUE_TYPE_ACTIVITY */,
    });
    return (res.pollers ?? []).length > 0;
  } catch {
    return null;
  }
}

/** Whether a worker polls `taskQueue` for activities (a host queue) right now. */
export async function queueHasPollers(client: Client, taskQueue: string): Promise<boolean> {
  return (await hasWorker(client, taskQueue, 'activity')) === true;
}

/**
 * The status query, or why it cannot be answered. Without a worker polling the task queue a query would
 * only wait for its deadline, so that case is answered at once.
 */
async function queryStatus(client: Client, handle: WorkflowHandle, taskQueue: string | null, timeoutMs = QUERY_TIMEOUT_MS): Promise<QueryResult> {
  if (taskQueue && (await hasWorker(client, taskQueue)) === false) {
    return { ok: false, reason: `no worker is polling task queue "${taskQueue}" (${workerHint(taskQueue)})` };
  }
  try {
    const status = await client.withDeadline(Date.now() + timeoutMs, () => handle.query(statusQuery));
    return { ok: true, status };
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: { message?: string; code?: number } };
    if (e.name === 'WorkflowNotFoundError') throw err;
    const detail = [e.message, e.cause?.message].filter(Boolean).join(': ');
    if (e.cause?.code === 4 || /deadline/i.test(detail)) return { ok: false, reason: `no answer within ${timeoutMs / 1000}s (is a worker for task queue "${taskQueue}" running?)` };
    return { ok: false, reason: detail.split('\n')[0] || 'unknown error' };
  }
}

function searchAttrs(desc: WorkflowExecutionDescription | { typedSearchAttributes: WorkflowExecutionDescription['typedSearchAttributes'] }): SearchAttrs {
  const sa = desc.typedSearchAttributes;
  const get = (v: unknown) => (typeof v === 'string' && v ? v : null);
  return {
    project: get(sa.get(FlywheelProjectKey)),
    goal: get(sa.get(FlywheelGoalKey)),
    mode: get(sa.get(FlywheelModeKey)),
    phase: get(sa.get(FlywheelPhaseKey)),
    outcome: get(sa.get(FlywheelOutcomeKey)),
  };
}

function decodePayloads(payloads: unknown): unknown {
  const list = (payloads as { payloads?: unknown[] } | null | undefined)?.payloads ?? [];
  if (!list.length) return null;
  try {
    const values = list.map((p) => defaultPayloadConverter.fromPayload(p as Parameters<typeof defaultPayloadConverter.fromPayload>[0]));
    return values.length === 1 ? values[0] : values;
  } catch {
    return '(undecodable heartbeat details)';
  }
}

function timeOf(t: unknown): string | null {
  const ts = t as { seconds?: Long | number | null; nanos?: number | null } | null | undefined;
  if (!ts?.seconds) return null;
  return new Date(num(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

export function pendingActivities(desc: WorkflowExecutionDescription): PendingActivity[] {
  return (desc.raw.pendingActivities ?? []).map((a) => ({
    activityType: a.activityType?.name ?? '(unknown)',
    attempt: a.attempt ?? 1,
    heartbeat: decodePayloads(a.heartbeatDetails),
    lastHeartbeatAt: timeOf(a.lastHeartbeatTime),
    lastFailure: a.lastFailure?.message ?? null,
    nextAttemptAt: a.lastFailure ? timeOf(a.nextAttemptScheduleTime) : null,
  }));
}

/** The run's result once closed: the flywheel's own result, or the failure that ended it. */
async function closedResult(handle: WorkflowHandle): Promise<{ result: FlywheelResult | null; failure: string | null }> {
  try {
    return { result: (await handle.result()) as FlywheelResult, failure: null };
  } catch (err) {
    const blocked = blockedResultOf(err);
    if (blocked) return { result: blocked, failure: null };
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause as { message?: string } | undefined;
      return { result: null, failure: cause?.message ? `${err.message}: ${cause.message}` : err.message };
    }
    return { result: null, failure: (err as Error).message };
  }
}

export async function report(client: Client, workflowId: string, runId?: string, opts: { query?: boolean } = {}): Promise<RunReport> {
  const { desc } = await describeRun(client, workflowId, runId);
  const closed = desc.status.name !== 'RUNNING';
  const q: QueryResult = opts.query === false ? { ok: false, reason: 'not asked' } : await queryStatus(client, client.workflow.getHandle(workflowId, desc.runId), desc.taskQueue);
  const { result, failure } = closed ? await closedResult(client.workflow.getHandle(workflowId, desc.runId)) : { result: null, failure: null };
  const attrs = searchAttrs(desc);
  return {
    workflowId,
    runId: desc.runId,
    workflowType: desc.type,
    taskQueue: desc.taskQueue,
    status: desc.status.name,
    closed,
    startTime: desc.startTime.toISOString(),
    closeTime: desc.closeTime ? desc.closeTime.toISOString() : null,
    searchAttributes: attrs,
    live: q.ok ? q.status : null,
    liveUnavailable: q.ok ? null : q.reason,
    pendingActivities: pendingActivities(desc),
    result,
    failure,
    outcome: result?.outcome ?? (q.ok ? q.status.outcome : null) ?? attrs.outcome,
    summaryPath: result?.summaryPath ?? (q.ok ? q.status.summaryPath : null),
  };
}

// ─── formatting ───────────────────────────────────────────────────────────────────────────────────

function ago(iso: string, now = Date.now()): string {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const text = a < 90 ? `${a}s` : a < 5400 ? `${Math.round(a / 60)}m` : a < 172_800 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86_400)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

/** The commands that answer a gate of this kind (what the workflow does with each answer). */
export function answerHints(workflowId: string, gate: Pick<PendingGate, 'id' | 'kind' | 'options'>): string[] {
  const base = `flywheel %s ${workflowId} --gate ${gate.id}`;
  const cmd = (name: string, extra = '') => base.replace('%s', name) + extra;
  const steps = gate.options.length ? `<${gate.options.join('|')}>` : '<step>';
  const byKind: Record<GateKind, string[]> = {
    plan: [cmd('approve', gate.options.length ? ` [--subset ${gate.options.join(',')}]` : ''), cmd('skip', ` --step ${steps}`), cmd('override', ` --route <${ARTIFACT_ROUTES.join('|')}|route id>`), cmd('reject')],
    write: [cmd('approve'), cmd('skip'), cmd('reject')],
    apply: [cmd('applied', ' [--files a,b]'), cmd('approve', '   (go on without recording a change)'), cmd('reject')],
    route: [cmd('approve'), cmd('override', ` --route <${(gate.options.length ? gate.options : ARTIFACT_ROUTES).join('|')}>`), cmd('reject')],
  };
  return [...byKind[gate.kind], cmd('stop')];
}

function formatReport(r: RunReport): string {
  const a = r.searchAttributes;
  const live = r.live;
  const lines = [`${r.workflowId}  ${r.status}  (run ${r.runId})`];
  const row = (k: string, v: string | null | undefined) => {
    if (v) lines.push(`  ${(k + ':').padEnd(14)}${v}`);
  };
  row('project', live?.project ?? a.project);
  row('goal', live?.goal ?? a.goal);
  row('mode', live?.mode ?? a.mode);
  row('started', `${r.startTime} (${ago(r.startTime)})`);
  if (r.closeTime) row('closed', `${r.closeTime} (${ago(r.closeTime)})`);
  if (live) {
    row('phase', `${live.phase}${live.iteration ? ` · iteration ${live.iteration}` : ''}`);
    if (!r.closed) row('activity', live.activity);
  } else {
    row('phase', a.phase);
    if (!r.closed && r.liveUnavailable) row('live status', `unavailable: ${r.liveUnavailable}`);
  }
  for (const p of r.pendingActivities) {
    const hb = p.heartbeat !== null ? `, heartbeat ${JSON.stringify(p.heartbeat)}${p.lastHeartbeatAt ? ` (${ago(p.lastHeartbeatAt)})` : ''}` : '';
    row('in flight', `${p.activityType} (attempt ${p.attempt}${hb}${p.lastFailure ? `, last failure: ${termSafe(p.lastFailure, 300)}` : ''}${p.nextAttemptAt ? `, retrying at ${p.nextAttemptAt}` : ''})`);
  }
  const gate = live?.pendingGate;
  if (gate) {
    lines.push(`  pending gate: ${gate.id} (${gate.kind}) "${gate.title}"`);
    lines.push(`    opened ${gate.openedAt}; times out ${gate.timeoutAt} (${ago(gate.timeoutAt)}); then the run ends blocked`);
    const detail = gate.detail.split('\n');
    lines.push(...detail.slice(0, 15).map((l) => `    | ${l}`), ...(detail.length > 15 ? [`    | … (${detail.length - 15} more lines: \`flywheel status --json\`)`] : []));
    if (gate.options.length) lines.push(`    options: ${gate.options.join(', ')}`);
    lines.push('    answer with one of:', ...answerHints(r.workflowId, gate).map((h) => `      ${h}`));
  } else if (live && !r.closed && live.mode === 'autonomous') {
    row('gates', 'none (autonomous mode)');
  }
  if (live?.findings.length) {
    lines.push('  findings:', ...live.findings.map((f) => `    - ${f}`));
  }
  if (live?.gates.length) {
    lines.push('  decisions:', ...live.gates.map((g) => `    - ${g.id} ${g.decision} by ${g.by}${g.note ? ` (${g.note})` : ''}`));
  }
  if (r.closed) {
    row('outcome', r.outcome ?? '(none recorded)');
    if (r.result) row('iterations', String(r.result.iterations));
    if (r.result?.error) row('error', r.result.error);
    if (r.failure) row('failure', r.failure);
    row('summary', r.summaryPath);
    if (r.result?.narrativePath) row('narrative', r.result.narrativePath);
  }
  return lines.join('\n');
}

// ─── status / list / watch ────────────────────────────────────────────────────────────────────────

export async function statusCommand(workflowId: string, opts: { runId?: string }, globals: GlobalOptions): Promise<void> {
  await withClient(globals, async (client) => {
    const r = await report(client, workflowId, opts.runId);
    output(globals, r, () => formatReport(r));
  });
}

const LIST_STATUSES: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  timed_out: 'TimedOut',
  continued_as_new: 'ContinuedAsNew',
};

/** The visibility query for `list` (values quoted for the SQL-like list filter). */
export function listQuery(opts: { project?: string; status?: string }): string {
  const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const clauses = [`WorkflowType = ${quote(WORKFLOW_TYPE)}`];
  if (opts.project) clauses.push(`FlywheelProject = ${quote(opts.project)}`);
  if (opts.status) {
    const s = LIST_STATUSES[opts.status.toLowerCase().replace(/-/g, '_')];
    if (!s) throw new CliError(`unknown --status '${opts.status}': use one of ${Object.keys(LIST_STATUSES).filter((k) => k !== 'cancelled').join(', ')}`, EXIT_CODES.usage);
    clauses.push(`ExecutionStatus = ${quote(s)}`);
  }
  return clauses.join(' AND ');
}

interface ListRow {
  workflowId: string;
  runId: string;
  status: string;
  project: string | null;
  goal: string | null;
  mode: string | null;
  phase: string | null;
  outcome: string | null;
  startTime: string;
  closeTime: string | null;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export async function listCommand(opts: { project?: string; limit?: number; status?: string }, globals: GlobalOptions): Promise<void> {
  const query = listQuery(opts);
  const limit = opts.limit ?? 20;
  await withClient(globals, async (client) => {
    const rows: ListRow[] = [];
    for await (const w of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      const a = searchAttrs(w);
      rows.push({
        workflowId: w.workflowId,
        runId: w.runId,
        status: w.status.name,
        ...a,
        startTime: w.startTime.toISOString(),
        closeTime: w.closeTime ? w.closeTime.toISOString() : null,
      });
      if (rows.length >= limit) break;
    }
    output(globals, rows, () => {
      if (!rows.length) return `no flywheel runs match (${query})`;
      const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
      return table([
        ['PROJECT', 'GOAL', 'MODE', 'PHASE/OUTCOME', 'STARTED', 'STATUS', 'WORKFLOW ID'],
        ...rows.map((r) => [
          r.project ?? '-',
          cut(r.goal ?? '-', 32),
          r.mode ?? '-',
          r.outcome ?? r.phase ?? '-',
          `${r.startTime.slice(0, 16).replace('T', ' ')} (${ago(r.startTime)})`,
          r.status,
          r.workflowId,
        ]),
      ]);
    });
  });
}

/** A short text of what a running activity reported last (discover's plane, the bt command, the subprocess). */
export function heartbeatText(p: PendingActivity): string | null {
  const hb = p.heartbeat as { what?: unknown; command?: unknown; elapsedMs?: unknown; lastStderrLine?: unknown } | string | null;
  if (hb === null || hb === undefined) return null;
  if (typeof hb === 'string') return hb;
  if (typeof hb.what === 'string') return hb.what;
  if (typeof hb.command === 'string') {
    const secs = typeof hb.elapsedMs === 'number' ? ` ${Math.round(hb.elapsedMs / 1000)}s` : '';
    const line = typeof hb.lastStderrLine === 'string' && hb.lastStderrLine ? `: ${hb.lastStderrLine.slice(0, 80)}` : '';
    return `${hb.command}${secs}${line}`;
  }
  return null;
}

/** One line describing where a live run is; changes of it are what `watch` and `run` print. */
export function progressLine(r: RunReport): string {
  const live = r.live;
  const parts: string[] = [];
  if (live) {
    parts.push(`[${live.phase}${live.iteration ? ` · iteration ${live.iteration}` : ''}] ${live.activity}`);
    if (live.pendingGate) parts.push(`waiting at ${live.pendingGate.kind} gate ${live.pendingGate.id}`);
  } else {
    parts.push(`[${r.searchAttributes.phase ?? 'starting'}] live status unavailable: ${r.liveUnavailable ?? 'unknown'}`);
  }
  for (const p of r.pendingActivities) {
    if (p.attempt > 1 || p.lastFailure) parts.push(`${p.activityType} attempt ${p.attempt}${p.lastFailure ? ` (waiting out: ${termSafe(p.lastFailure, 200)}${p.nextAttemptAt ? `; next try ${p.nextAttemptAt}` : ''})` : ''}`);
    else if (heartbeatText(p)) parts.push(`${p.activityType}: ${heartbeatText(p)}`);
  }
  return parts.join(' — ');
}

export async function watchCommand(workflowId: string, opts: { interval?: string }, globals: GlobalOptions): Promise<number> {
  const intervalMs = opts.interval ? parseDuration(opts.interval, '--interval') : 1000;
  const tty = process.stdout.isTTY === true && !globals.json;
  // With --json stdout carries only the final document; progress goes to stderr.
  const say = (line: string) => (globals.json ? process.stderr : process.stdout).write(`${termSafe(line)}\n`);
  return withClient(globals, async (client) => {
    const events: { at: string; line: string }[] = [];
    let last = '';
    let announcedGate = '';
    let final: RunReport;
    for (;;) {
      const r = await report(client, workflowId, undefined, {});
      if (r.closed) {
        final = r;
        break;
      }
      const line = progressLine(r);
      const gate = r.live?.pendingGate;
      if (line !== last) {
        events.push({ at: new Date().toISOString(), line });
        if (!tty) say(`${new Date().toISOString().slice(11, 19)} ${line}`);
        last = line;
      }
      if (gate && gate.id !== announcedGate) {
        announcedGate = gate.id;
        if (tty) process.stdout.write('\r\x1b[2K');
        say([`gate ${gate.id} (${gate.kind}): ${gate.title} — times out ${gate.timeoutAt}`, ...answerHints(workflowId, gate).map((h) => `  ${h}`)].join('\n'));
      }
      // On a terminal the bottom line is redrawn in place, with the time since the run started.
      if (tty) process.stdout.write(`\r\x1b[2K${termSafe(line, 400)} (${ago(r.startTime).replace(/ ago$/, '')})`);
      await new Promise((res) => setTimeout(res, intervalMs));
    }
    if (tty) process.stdout.write('\r\x1b[2K');
    const code = final.outcome ? exitCodeFor(final.outcome) : EXIT_CODES.error;
    output(globals, { ...final, events, exitCode: code }, () =>
      [
        `${workflowId} ${final.status}: outcome ${final.outcome ?? '(none)'}${final.result ? ` after ${final.result.iterations} iteration(s)` : ''}`,
        ...(final.failure ? [`failure: ${final.failure}`] : []),
        ...(final.result?.error ? [`error: ${final.result.error}`] : []),
        ...(final.summaryPath ? [`summary: ${final.summaryPath}`] : []),
      ].join('\n'),
    );
    return code;
  });
}

function parseDuration(text: string, flag: string): number {
  try {
    return /^\d+$/.test(text) ? Number(text) : durationMs(text);
  } catch {
    throw new CliError(`${flag} '${text}' is not a duration (use e.g. 500ms, 2s, 1m)`, EXIT_CODES.usage);
  }
}

// ─── gate answers ─────────────────────────────────────────────────────────────────────────────────

export type GateCommand = 'approve' | 'reject' | 'override' | 'skip' | 'applied' | 'stop';

export interface GateOptions {
  gate?: string;
  by?: string;
  note?: string;
  subset?: string;
  route?: string;
  step?: string;
  files?: string;
  cancel?: boolean;
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Checks an answer against the pending gate before anything is sent (the workflow's Update validator applies the
 * same rule, src/workflows/logic/gate-answers.ts, and has the last word); returns the gate id to send, so a stale
 * answer never lands on a later gate. Throws a CliError that says what to do instead.
 */
export function validateAnswer(command: GateCommand, opts: GateOptions, workflowId: string, status: FlywheelStatus): string | undefined {
  const gate = status.pendingGate;
  if (!gate) {
    if (command === 'stop') return opts.gate;
    const why = status.mode === 'autonomous' ? 'it runs in autonomous mode, where gates pass by themselves' : `it is in ${status.phase} (${status.activity})`;
    throw new CliError(`run ${workflowId} has no pending gate: ${why}. \`flywheel watch ${workflowId}\` shows when one opens.`);
  }
  if (opts.gate && opts.gate !== gate.id) {
    throw new CliError(`gate ${opts.gate} is not pending on run ${workflowId}: the pending gate is ${gate.id} (${gate.kind}: "${gate.title}")`);
  }
  if (command === 'stop') return gate.id;
  const problem = answerProblem(command, answerArgs(command, opts, 'cli', gate.id), gate, null);
  if (problem) throw new CliError(problem, EXIT_CODES.usage);
  return gate.id;
}

/** The Update's argument for a CLI answer. */
function answerArgs(command: Exclude<GateCommand, 'stop'>, opts: GateOptions, by: string, gateId: string | undefined): AnswerArgs & { by: string } {
  const actor = { by, ...(opts.note ? { note: opts.note } : {}), ...(gateId ? { gateId } : {}) };
  switch (command) {
    case 'approve':
      return { ...actor, ...(opts.subset ? { subset: list(opts.subset) } : {}) };
    case 'override':
      return { ...actor, route: opts.route };
    case 'skip':
      return { ...actor, ...(opts.step ? { step: opts.step } : {}) };
    case 'applied':
      return { ...actor, ...(opts.files ? { files: list(opts.files) } : {}) };
    default:
      return actor;
  }
}

const UPDATES = { approve: approveUpdate, reject: rejectUpdate, override: overrideUpdate, skip: skipUpdate, applied: appliedUpdate } as const;
const SIGNALS = { approve: approveSignal, reject: rejectSignal, override: overrideSignal, skip: skipSignal, applied: appliedSignal } as const;

/**
 * Answers a gate with its Update and returns the gate record the workflow accepted; a refusal becomes a CliError
 * with the workflow's reason. A worker that predates the Updates does not know them: the signal is sent instead
 * (null: accepted unconfirmed).
 */
export async function answerGate(handle: WorkflowHandle, command: Exclude<GateCommand, 'stop'>, args: AnswerArgs & { by: string }): Promise<GateRecord | null> {
  try {
    return (await handle.executeUpdate(UPDATES[command] as typeof approveUpdate, { args: [args as ApproveArgs] })) as GateRecord;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const reason = (err.cause as Error | undefined)?.message ?? err.message;
      if (/no handler|not (found|registered)|unknown update/i.test(reason)) {
        await handle.signal(SIGNALS[command] as typeof approveSignal, args as ApproveArgs);
        return null;
      }
      throw new CliError(`the run refused the answer: ${reason}`);
    }
    throw err;
  }
}

export async function gateCommand(command: GateCommand, workflowId: string, opts: GateOptions, globals: GlobalOptions): Promise<void> {
  const by = actorName(opts.by);
  await withClient(globals, async (client) => {
    const { desc } = await describeRun(client, workflowId);
    if (desc.status.name !== 'RUNNING') {
      throw new CliError(`run ${workflowId} is ${desc.status.name.toLowerCase()}: there is no gate to answer. \`flywheel status ${workflowId}\` shows how it ended.`);
    }
    const handle = client.workflow.getHandle(workflowId, desc.runId);
    if (command === 'stop' && opts.cancel) {
      await handle.cancel();
      output(globals, { workflowId, runId: desc.runId, cancelled: true, by }, `cancel requested for ${workflowId}: the run stops and writes its handoff (outcome blocked)`);
      return;
    }
    const q = await queryStatus(client, handle, desc.taskQueue);
    let gateId: string | undefined;
    let warning: string | null = null;
    if (q.ok) {
      gateId = validateAnswer(command, opts, workflowId, q.status);
    } else {
      if (command === 'skip' && !opts.step && !opts.gate) throw new CliError(`cannot see the pending gate (${q.reason}): pass --step (and --gate) explicitly`, EXIT_CODES.usage);
      gateId = opts.gate;
      warning = `could not check the pending gate (${q.reason}); sent anyway: the run applies it when a worker picks it up${gateId ? ` if ${gateId} is still pending` : ' at whatever gate is open then'}`;
    }
    let record: GateRecord | null = null;
    let accepted: boolean | null = null;
    if (command === 'stop') {
      await handle.signal(stopSignal, { by, ...(opts.note ? { note: opts.note } : {}), ...(gateId ? { gateId } : {}) });
    } else if (q.ok) {
      // A worker answers: the Update is accepted (its record comes back) or refused with the workflow's reason.
      record = await answerGate(handle, command, answerArgs(command, opts, by, gateId));
      accepted = record !== null;
    } else {
      // Nobody could validate it now (no worker): an Update would wait for one, so the answer goes as a signal.
      await handle.signal(SIGNALS[command] as typeof approveSignal, { ...answerArgs(command, opts, by, gateId), ...(command === 'skip' && !opts.step ? { step: gateId ?? 'gate' } : {}) } as ApproveArgs);
    }
    const stopNote =
      command === 'stop' && q.ok && !q.status.pendingGate
        ? q.status.mode === 'autonomous'
          ? 'autonomous runs have no gates to stop at; use `flywheel stop --cancel` to end it now'
          : 'the run stops at its next gate'
        : null;
    const via = command === 'stop' || !q.ok || record === null ? 'signal' : 'update';
    const doc = { workflowId, runId: desc.runId, signal: command, via, gateId: gateId ?? null, by, verified: q.ok, accepted, record, warning, note: stopNote };
    if (warning) process.stderr.write(`flywheel: ${warning}\n`);
    output(globals, doc, () => {
      const target = gateId ? `gate ${gateId}` : 'the run';
      const state = record ? ` — accepted: ${record.decision}${record.detail ? ` (${termSafe(record.detail, 200)})` : ''}` : accepted === false ? ' — sent; the run has not confirmed it' : '';
      return `${command} sent to ${target} of ${workflowId} as ${by}${state}${stopNote ? `\n${stopNote}` : ''}`;
    });
  });
}

// ─── history / replay / reset ─────────────────────────────────────────────────────────────────────

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new CliError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

export async function historyCommand(workflowId: string, opts: { out?: string; runId?: string }, globals: GlobalOptions): Promise<void> {
  const { historyToJSON } = await import('@temporalio/common/lib/proto-utils.js');
  await withClient(globals, async (client) => {
    const { desc } = await describeRun(client, workflowId, opts.runId);
    const history = await client.workflow.getHandle(workflowId, desc.runId).fetchHistory();
    const json = historyToJSON(history);
    const events = history.events?.length ?? 0;
    if (!opts.out) {
      process.stdout.write(json.endsWith('\n') ? json : `${json}\n`);
      return;
    }
    const path = resolve(opts.out);
    await writeAtomic(path, json.endsWith('\n') ? json : `${json}\n`);
    output(globals, { workflowId, runId: desc.runId, events, path }, `wrote ${events} events of ${workflowId} (run ${desc.runId}) to ${path}`);
  });
}

/** Reads a history file written by `flywheel history` or `temporal workflow show --output json`. */
async function readHistoryFile(file: string): Promise<History> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read history file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, EXIT_CODES.usage);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CliError(`history file ${path} is not valid JSON: ${(err as Error).message}`, EXIT_CODES.usage);
  }
  const events = (raw as { events?: unknown } | null)?.events;
  if (!Array.isArray(events) || !events.length) {
    throw new CliError(`history file ${path} is not a Temporal history: expected {"events": [...]} as written by \`flywheel history --out\``, EXIT_CODES.usage);
  }
  const { historyFromJSON } = await import('@temporalio/common/lib/proto-utils.js');
  try {
    return historyFromJSON(raw);
  } catch (err) {
    throw new CliError(`history file ${path} is not a valid Temporal history: ${(err as Error).message.split('\n')[0]}`, EXIT_CODES.usage);
  }
}

export async function replayCommand(workflowId: string | undefined, opts: { file?: string; runId?: string }, globals: GlobalOptions): Promise<void> {
  if (!workflowId === !opts.file) throw new CliError('replay needs either a workflow id or --file <history.json> (not both)', EXIT_CODES.usage);
  let history: History;
  let label: string;
  if (opts.file) {
    history = await readHistoryFile(opts.file);
    label = `history file ${resolve(opts.file)}`;
  } else {
    history = await withClient(globals, async (client) => {
      const { desc } = await describeRun(client, workflowId!, opts.runId);
      return client.workflow.getHandle(workflowId!, desc.runId).fetchHistory();
    });
    label = `run ${workflowId}`;
  }
  const events = history.events?.length ?? 0;
  const [{ Worker, Runtime, DefaultLogger }, { workflowsPath }] = await Promise.all([import('@temporalio/worker'), import('../worker.js')]);
  // The replay worker logs every step; keep the CLI to its one line unless --verbose.
  Runtime.install({ logger: new DefaultLogger(globals.verbose ? 'INFO' : 'ERROR', (entry) => {
    if (globals.verbose) process.stderr.write(`[replay] ${entry.level} ${entry.message}\n`);
  }) });
  try {
    await Worker.runReplayHistory({ workflowsPath }, history, workflowId ?? `replay-${basename(opts.file!)}`);
  } catch (err) {
    const e = err as Error;
    const message = e.message.split('\n')[0];
    if (e.name === 'DeterminismViolationError') {
      throw new CliError(`determinism violation: ${label} diverges from the current workflow code: ${message}`);
    }
    throw new CliError(`replay of ${label} failed (${e.name}): ${message}`);
  }
  output(globals, { ok: true, source: label, events, workflowsPath }, `determinism OK: ${label} (${events} events) replays against the current workflow code`);
}

/** The slice of a history event `reset` reads (proto objects from fetchHistory or decoded JSON). */
export interface ResetEvent {
  eventId?: Long | number | string | null;
  workflowTaskCompletedEventAttributes?: object | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskFailedEventAttributes?: { scheduledEventId?: Long | number | string | null; failure?: { message?: string | null } | null } | null;
  activityTaskTimedOutEventAttributes?: { scheduledEventId?: Long | number | string | null } | null;
}

export type ResetTarget = 'last-good' | 'first' | 'last';

function num(v: Long | number | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v.toString());
}

/**
 * Where to reset a run: a WorkflowTaskCompleted event id and why. `last-good` = the last completed workflow
 * task before the first failed / timed-out activity was scheduled (so that activity runs again), else the
 * last completed workflow task; `first` = the first one. An explicit `eventId` must be a completed workflow task.
 */
export function chooseResetPoint(events: readonly ResetEvent[], choice: { eventId?: number; to?: ResetTarget }): { eventId: number; reason: string } {
  const completed = events.filter((e) => e.workflowTaskCompletedEventAttributes).map((e) => num(e.eventId));
  if (!completed.length) throw new CliError('the run has no completed workflow task to reset to (it never started running workflow code)');
  if (choice.eventId !== undefined) {
    if (!completed.includes(choice.eventId)) {
      const before = completed.filter((id) => id < choice.eventId!).pop();
      const after = completed.find((id) => id > choice.eventId!);
      const near = [before, after].filter((x) => x !== undefined).join(' or ');
      throw new CliError(`event ${choice.eventId} is not a WorkflowTaskCompleted event${near ? `; the nearest are ${near}` : ''}`, EXIT_CODES.usage);
    }
    return { eventId: choice.eventId, reason: `event ${choice.eventId} (given)` };
  }
  const to = choice.to ?? 'last-good';
  if (to === 'first') return { eventId: completed[0]!, reason: 'the first completed workflow task' };
  const last = completed[completed.length - 1]!;
  if (to === 'last') return { eventId: last, reason: 'the last completed workflow task' };
  const failed = events.find((e) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes);
  if (!failed) return { eventId: last, reason: 'no activity failed: the last completed workflow task' };
  const scheduledId = num(failed.activityTaskFailedEventAttributes?.scheduledEventId ?? failed.activityTaskTimedOutEventAttributes?.scheduledEventId);
  const scheduled = events.find((e) => num(e.eventId) === scheduledId);
  const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'an activity';
  const how = failed.activityTaskFailedEventAttributes ? 'failed' : 'timed out';
  const point = completed.filter((id) => id < scheduledId).pop();
  if (point === undefined) return { eventId: completed[0]!, reason: `${name} ${how}; resetting to the first completed workflow task` };
  return { eventId: point, reason: `last good point before ${name} ${how} (event ${num(failed.eventId)})` };
}

export async function resetCommand(workflowId: string, opts: { eventId?: string; to?: ResetTarget; reason?: string; runId?: string; by?: string }, globals: GlobalOptions): Promise<void> {
  if (opts.eventId !== undefined && opts.to !== undefined) throw new CliError('use either --event-id or --to, not both', EXIT_CODES.usage);
  const eventId = opts.eventId !== undefined ? Number(opts.eventId) : undefined;
  if (eventId !== undefined && (!Number.isInteger(eventId) || eventId < 1)) throw new CliError(`--event-id must be a positive event number (got '${opts.eventId}')`, EXIT_CODES.usage);
  await withClient(globals, async (client) => {
    const { desc } = await describeRun(client, workflowId, opts.runId);
    const history = await client.workflow.getHandle(workflowId, desc.runId).fetchHistory();
    const point = chooseResetPoint((history.events ?? []) as ResetEvent[], { ...(eventId !== undefined ? { eventId } : {}), ...(opts.to ? { to: opts.to } : {}) });
    const reason = opts.reason ?? `flywheel reset by ${actorName(opts.by)}: ${point.reason}`;
    const res = await client.workflowService.resetWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId, runId: desc.runId },
      workflowTaskFinishEventId: Long.fromNumber(point.eventId),
      reason,
      requestId: randomUUID(),
      // Gate answers sent after the reset point (Updates, and signals from older clients) are applied again: no
      // exclusions, and not the deprecated reset_reapply_type, whose SIGNAL value would leave the Updates out.
      resetReapplyExcludeTypes: [],
    });
    output(
      globals,
      { workflowId, previousRunId: desc.runId, previousStatus: desc.status.name, eventId: point.eventId, point: point.reason, reason, runId: res.runId },
      `reset ${workflowId} at event ${point.eventId} (${point.reason})\nnew run: ${res.runId}\nfollow it with: flywheel watch ${workflowId}`,
    );
  });
}

// ─── registration ─────────────────────────────────────────────────────────────────────────────────

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive whole number (got '${v}')`, EXIT_CODES.usage);
    return n;
  };
}

function gateCmd(program: Command, name: GateCommand, description: string): Command {
  return program
    .command(name)
    .description(description)
    .argument('<workflowId>', 'the run (see `flywheel list`)')
    .option('--gate <id>', 'the gate you mean (e.g. plan-1); refused when another gate is pending')
    .option('--by <name>', 'who decides (default FLYWHEEL_ACTOR, else $USER); recorded in the handoff')
    .option('--note <text>', 'a note recorded with the decision');
}

export function registerOpsCommands(program: Command): Command {
  const act =
    <A extends unknown[]>(fn: (...args: [...A, GlobalOptions]) => Promise<void | number>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const code = await fn(...(args.slice(0, -1) as A), globalsOf(cmd));
      if (typeof code === 'number') process.exitCode = code;
    };

  program
    .command('status')
    .description(
      'Show where a run is: phase, iteration, current activity (with heartbeat details), the pending gate and how to ' +
        'answer it, findings so far; for a closed run the outcome, error and handoff paths.',
    )
    .argument('<workflowId>', 'the run (see `flywheel list`)')
    .option('--run-id <id>', 'a specific run of that workflow id (default: the latest)')
    .action(act<[string, { runId?: string }]>(statusCommand));

  program
    .command('list')
    .description('List recent flywheel runs (newest first) with project, goal, mode, phase or outcome, start time and status.')
    .option('--project <name>', 'only runs of this Braintrust project')
    .option('--status <status>', `only runs in this state: ${Object.keys(LIST_STATUSES).filter((k) => k !== 'cancelled').join(', ')}`)
    .option('--limit <n>', 'at most this many runs (default 20)', positiveInt('--limit'))
    .action(act<[{ project?: string; limit?: number; status?: string }]>(listCommand));

  program
    .command('watch')
    .description(
      'Follow a run until it closes, printing phase / iteration / activity / gate changes (a redrawn status line on a ' +
        'terminal, log lines otherwise). Exits like `run`: healthy 0, improved 10, needs_work 11, blocked 12, ' +
        'no_convergence 13, error 1.',
    )
    .argument('<workflowId>', 'the run (see `flywheel list`)')
    .option('--interval <duration>', 'poll interval (default 1s)')
    .action(act<[string, { interval?: string }]>(watchCommand));

  const gate =
    (name: GateCommand) =>
    (id: string, opts: GateOptions, globals: GlobalOptions): Promise<void> =>
      gateCommand(name, id, opts, globals);

  gateCmd(program, 'approve', 'Approve the pending gate (a plan: all steps, or --subset of them).')
    .option('--subset <steps>', 'plan gates: approve only these plan steps (comma-separated route ids)')
    .action(act<[string, GateOptions]>(gate('approve')));
  gateCmd(program, 'reject', 'Reject the pending gate: nothing more is written and the run ends needs_work.').action(act<[string, GateOptions]>(gate('reject')));
  gateCmd(program, 'override', 'Plan or routing gates: run this route instead of the proposed one.')
    .requiredOption('--route <route>', `an artifact (${ARTIFACT_ROUTES.join(', ')}) or, at a plan gate, a plan step id`)
    .action(act<[string, GateOptions]>(gate('override')));
  gateCmd(program, 'skip', 'Plan gates: drop one step from the plan. Write gates: skip this write and go on.')
    .option('--step <step>', 'the plan step (route id) to skip; required at plan gates')
    .action(act<[string, GateOptions]>(gate('skip')));
  gateCmd(program, 'applied', 'Apply gates: you made the change from the brief yourself; the run verifies it.')
    .option('--files <files>', 'files you changed (comma-separated), recorded in the handoff')
    .action(act<[string, GateOptions]>(gate('applied')));
  gateCmd(program, 'stop', 'Stop the run at the pending (or next) gate; it writes its handoff and ends needs_work.')
    .option('--cancel', 'cancel the run now instead (also for autonomous runs); the handoff is still written, outcome blocked')
    .action(act<[string, GateOptions]>(gate('stop')));

  program
    .command('history')
    .description('Export a run\'s event history as JSON that `flywheel replay --file` and Temporal SDK replayers accept.')
    .argument('<workflowId>', 'the run (see `flywheel list`)')
    .option('--out <file>', 'write to this file (atomically) instead of stdout')
    .option('--run-id <id>', 'a specific run of that workflow id (default: the latest)')
    .action(act<[string, { out?: string; runId?: string }]>(historyCommand));

  program
    .command('replay')
    .description(
      'Replay a run\'s history against the CURRENT workflow code: prints "determinism OK" or the diverging event ' +
        'and exits 1. Use it before deploying workflow changes while runs are open (see `history --out`).',
    )
    .argument('[workflowId]', 'replay this run from the server')
    .option('--file <history.json>', 'replay a saved history instead')
    .option('--run-id <id>', 'a specific run of that workflow id (default: the latest)')
    .action(act<[string | undefined, { file?: string; runId?: string }]>(replayCommand));

  program
    .command('reset')
    .description(
      'Restart a failed or stuck run from its history as a new run of the same workflow id, with the current code. ' +
        'Default point: the last completed workflow task before the first failed or timed-out activity (that activity ' +
        'runs again); without one, the last completed workflow task. Gate answers after the point are re-applied.',
    )
    .argument('<workflowId>', 'the run (see `flywheel list`)')
    .option('--event-id <n>', 'reset to this WorkflowTaskCompleted event (see `flywheel history`)')
    .addOption(new Option('--to <point>', 'last-good (default), first or last completed workflow task').choices(['last-good', 'first', 'last']))
    .option('--reason <text>', 'recorded on the reset (default names you and the point)')
    .option('--by <name>', 'who resets (default FLYWHEEL_ACTOR, else $USER)')
    .option('--run-id <id>', 'the run to reset (default: the latest)')
    .action(act<[string, { eventId?: string; to?: ResetTarget; reason?: string; runId?: string; by?: string }]>(resetCommand));

  return program;
}
