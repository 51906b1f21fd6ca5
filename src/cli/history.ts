/**
 * Recovering flywheel runs: `history` (export a run's event history), `replay` (check it against the current
 * workflow code) and `reset` (restart a failed or stuck run from a point of its history).
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import { Option, type Command } from 'commander';
import Long from 'long';
import { act, actorName, CliError, EXIT_CODES, output, withClient, type GlobalOptions } from './common.js';
import { describeRun, num } from './report.js';

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
  const [{ Worker, Runtime, DefaultLogger }, { workflowsPath }, { prebuiltBundle }] = await Promise.all([import('@temporalio/worker'), import('../worker.js'), import('../workflow-bundle.js')]);
  // The pre-built bundle when it is fresh (no webpack run per replay), else the sources bundled now.
  const bundle = prebuiltBundle(workflowsPath);
  // The replay worker logs every step; keep the CLI to its one line unless --verbose.
  Runtime.install({ logger: new DefaultLogger(globals.verbose ? 'INFO' : 'ERROR', (entry) => {
    if (globals.verbose) process.stderr.write(`[replay] ${entry.level} ${entry.message}\n`);
  }) });
  try {
    await Worker.runReplayHistory(bundle ? { workflowBundle: bundle } : { workflowsPath }, history, workflowId ?? `replay-${basename(opts.file!)}`);
  } catch (err) {
    const e = err as Error;
    const message = e.message.split('\n')[0];
    if (e.name === 'DeterminismViolationError') {
      throw new CliError(`determinism violation: ${label} diverges from the current workflow code: ${message}`);
    }
    throw new CliError(`replay of ${label} failed (${e.name}): ${message}`);
  }
  output(globals, { ok: true, source: label, events, workflowsPath, bundle: bundle?.codePath ?? null }, `determinism OK: ${label} (${events} events) replays against the current workflow code`);
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

export function registerHistoryCommands(program: Command): Command {
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
