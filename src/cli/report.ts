/**
 * Reading a flywheel run, shared by the commands that show or answer it and by `run` while it follows one:
 * describe + status query (+ the result once closed) as one `RunReport`, the one-line progress text of it,
 * whether a worker polls a run's queue, and the visibility query that finds runs.
 */
import { termSafe } from '../untrusted.js';
import {
  defaultPayloadConverter,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import type Long from 'long';
import { TASK_QUEUE, WORKFLOW_TYPE } from '../shared.js';
import {
  FlywheelGoalKey,
  FlywheelModeKey,
  FlywheelOutcomeKey,
  FlywheelPhaseKey,
  FlywheelProjectKey,
  statusQuery,
  type FlywheelStatus,
} from '../workflows/definitions.js';
import type { FlywheelResult } from '../workflows/flywheel.js';
import { CliError, EXIT_CODES } from './common.js';
import { blockedResultOf } from '../run-result.js';

/** How long a status query may take before the run counts as "not queryable" (no worker polling). */
const QUERY_TIMEOUT_MS = 5_000;

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

export async function describeRun(client: Client, workflowId: string, runId?: string): Promise<{ handle: WorkflowHandle; desc: WorkflowExecutionDescription }> {
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
export async function queryStatus(client: Client, handle: WorkflowHandle, taskQueue: string | null, timeoutMs = QUERY_TIMEOUT_MS): Promise<QueryResult> {
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

export function searchAttrs(desc: WorkflowExecutionDescription | { typedSearchAttributes: WorkflowExecutionDescription['typedSearchAttributes'] }): SearchAttrs {
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

/** The run states `list --status` takes, by the name Temporal's visibility gives them. */
export const LIST_STATUSES: Record<string, string> = {
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

/** A number of the history or a description (a protobuf Long, a number, or its decimal text). */
export function num(v: Long | number | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v.toString());
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
