/**
 * `flywheel schedule create|list|delete|trigger|pause|unpause|update|backfill`: recurring flywheel runs as Temporal Schedules. A scheduled run
 * has nobody watching it, so it is always autonomous; overlapping runs are skipped.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleSummary,
} from '@temporalio/client';
import { Command, Option } from 'commander';
import { durationMs } from '../../schemas/flywheel-input.js';
import { TASK_QUEUE, WORKFLOW_TYPE } from '../shared.js';
import { FlywheelGoalKey, FlywheelModeKey, FlywheelProjectKey } from '../workflows/definitions.js';
import { braintrustEnv, CliError, EXIT_CODES, globalsOf, output, withClient, type GlobalOptions } from './common.js';
import { termSafe } from '../untrusted.js';
import { buildRunRequest, checkEvalEnv, collect, type RunOptions } from './run.js';

// ─── cron validation (before the server sees it, so the user gets one clear line) ─────────────────

const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const CRON_FIELDS: { name: string; min: number; max: number; names?: string[]; question?: boolean }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, question: true },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day of week', min: 0, max: 7, names: DAY_NAMES, question: true },
];

/** Why a cron expression is invalid, or null when it is a 5-field expression or a macro such as @daily. */
export function cronError(expr: string): string | null {
  const text = expr.trim();
  if (!text) return 'the cron expression is empty';
  if (text.startsWith('@')) return CRON_MACROS.includes(text.toLowerCase()) ? null : `unknown macro '${text}' (use ${CRON_MACROS.join(', ')}, or --every for intervals)`;
  const fields = text.split(/\s+/);
  if (fields.length !== 5) return `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  for (const [i, field] of fields.entries()) {
    const spec = CRON_FIELDS[i]!;
    const value = (v: string): number | null => {
      if (/^\d+$/.test(v)) return Number(v);
      const idx = spec.names?.indexOf(v.toUpperCase()) ?? -1;
      return idx >= 0 ? idx + (spec.name === 'month' ? 1 : 0) : null;
    };
    for (const item of field.split(',')) {
      if (spec.question && item === '?') continue;
      const m = /^(\*|([^-/]+)(?:-([^-/]+))?)(?:\/(\d+))?$/.exec(item);
      if (!m) return `${spec.name} field '${field}' is not valid cron syntax`;
      if (m[4] !== undefined && Number(m[4]) < 1) return `${spec.name} field '${field}': the step must be at least 1`;
      for (const part of [m[2], m[3]]) {
        if (part === undefined) continue;
        const n = value(part);
        if (n === null || n < spec.min || n > spec.max) return `${spec.name} field '${field}': '${part}' is outside ${spec.min}-${spec.max}`;
      }
      if (m[3] !== undefined && value(m[2]!)! > value(m[3])!) return `${spec.name} field '${field}': the range is backwards`;
    }
  }
  return null;
}

// ─── commands ─────────────────────────────────────────────────────────────────────────────────────

export interface ScheduleCreateOptions extends RunOptions {
  cron?: string;
  every?: string;
  timezone?: string;
  taskQueue?: string;
  note?: string;
  paused?: boolean;
  jitter?: string;
  pauseOnFailure?: boolean;
}

/** Default jitter: spread runs over up to 10 minutes (a tenth of a short interval), so 100 projects scheduled at
 * 03:00 do not hit Braintrust in the same second. */
export function defaultJitterMs(everyMs: number | undefined): number {
  const TEN_MIN = 10 * 60_000;
  return everyMs === undefined ? TEN_MIN : Math.min(TEN_MIN, Math.floor(everyMs / 10));
}

function parseJitter(text: string | undefined, everyMs: number | undefined): number {
  if (text === undefined) return defaultJitterMs(everyMs);
  let ms: number;
  try {
    ms = durationMs(text);
  } catch {
    throw new CliError(`invalid --jitter '${text}': use a duration such as 0s, 90s or 10m`, EXIT_CODES.usage);
  }
  if (everyMs !== undefined && ms >= everyMs) throw new CliError(`--jitter ${text} must be shorter than the interval (--every)`, EXIT_CODES.usage);
  return ms;
}

/** The schedule's spec, described for people (also stored in the schedule memo: the server rewrites cron into calendars). */
function specText(opts: { cron?: string; every?: string; timezone?: string }): string {
  const base = opts.cron ? `cron "${opts.cron}"` : `every ${opts.every}`;
  return opts.timezone ? `${base} (${opts.timezone})` : base;
}

/** Checks --cron / --every before the server sees them; returns the interval in ms for --every. */
function checkSpec(opts: { cron?: string; every?: string }): number | undefined {
  if (opts.cron) {
    const err = cronError(opts.cron);
    if (err) throw new CliError(`invalid --cron "${opts.cron}": ${err}`, EXIT_CODES.usage);
  }
  if (!opts.every) return undefined;
  let everyMs: number;
  try {
    everyMs = durationMs(opts.every);
  } catch {
    throw new CliError(`invalid --every '${opts.every}': use a duration such as 30m, 6h or 1d`, EXIT_CODES.usage);
  }
  if (everyMs < 60_000) throw new CliError(`--every ${opts.every} is too often: a flywheel run needs at least a minute`, EXIT_CODES.usage);
  return everyMs;
}

export async function scheduleCreate(scheduleId: string, opts: ScheduleCreateOptions, globals: GlobalOptions): Promise<void> {
  if (!opts.cron === !opts.every) throw new CliError('schedule create needs exactly one of --cron "<expr>" or --every <duration>', EXIT_CODES.usage);
  if (!/^[A-Za-z0-9._-]+$/.test(scheduleId)) throw new CliError(`schedule id '${scheduleId}' may only use letters, digits, '.', '_' and '-'`, EXIT_CODES.usage);
  const everyMs = checkSpec(opts);
  if (opts.mode && opts.mode !== 'autonomous') {
    throw new CliError('scheduled runs are always autonomous (nobody is there to answer a gate); drop --mode', EXIT_CODES.usage);
  }
  const jitterMs = parseJitter(opts.jitter, everyMs);
  const { input } = await buildRunRequest({ ...opts, mode: 'autonomous' }, globals);
  // Each scheduled run keeps its own handoff: <out>/<workflow id>/bt-flywheel-summary.json.
  input.handoffPerRun = true;
  // The files must exist and parse now; --eval-env names are checked by each run on its worker (Orient).
  checkEvalEnv(input, false);
  input.mode = 'autonomous';
  input.modeReason = `scheduled run (schedule ${scheduleId})`;
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const spec = specText(opts);
  // Which Braintrust the project lives on, as `flywheel run` records it: each scheduled run carries it in its memo, so
  // the one-run-per-project guard sees scheduled runs (one run per project per Braintrust).
  const { appUrl } = await braintrustEnv(globals);

  await withClient(globals, async (client) => {
    try {
      await client.schedule.create({
        scheduleId,
        spec: {
          ...(opts.cron ? { cronExpressions: [opts.cron] } : { intervals: [{ every: everyMs! }] }),
          ...(opts.timezone ? { timezone: opts.timezone } : {}),
          jitter: jitterMs,
        },
        action: {
          type: 'startWorkflow',
          workflowType: WORKFLOW_TYPE,
          taskQueue,
          args: [input],
          // Temporal appends the scheduled time: <scheduleId>-<timestamp>.
          workflowId: scheduleId,
          memo: { braintrust: appUrl },
          // So `flywheel list --project` finds a scheduled run before its first workflow task upserts them.
          typedSearchAttributes: [
            ...(input.project ? [{ key: FlywheelProjectKey, value: input.project }] : []),
            { key: FlywheelGoalKey, value: input.goal ?? 'general health check' },
            { key: FlywheelModeKey, value: 'autonomous' },
          ],
        },
        // A run that gives up fails (see the workflow): pause then, so a broken key or project does not fail every night.
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour', pauseOnFailure: opts.pauseOnFailure !== false },
        memo: { flywheelSpec: spec, project: input.project ?? null, goal: input.goal ?? null },
        state: { paused: opts.paused === true, ...(opts.note ? { note: opts.note } : {}) },
      });
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) {
        throw new CliError(`a schedule "${scheduleId}" already exists: delete it first (\`flywheel schedule delete ${scheduleId}\`) or pick another id`);
      }
      const msg = (err as Error).message ?? String(err);
      if (/invalid|cron|spec/i.test(msg)) throw new CliError(`Temporal rejected the schedule: ${msg}`, EXIT_CODES.usage);
      throw err;
    }
    const next = (await client.schedule.getHandle(scheduleId).describe()).info.nextActionTimes[0];
    output(
      globals,
      { scheduleId, spec, taskQueue, paused: opts.paused === true, jitterMs, pauseOnFailure: opts.pauseOnFailure !== false, nextRun: next?.toISOString() ?? null, input },
      [
        `schedule ${scheduleId} created: ${spec}, autonomous, overlapping runs skipped${opts.paused ? ' (paused)' : ''}`,
        `  next run: ${next ? next.toISOString() : '(none)'} (each run starts up to ${Math.round(jitterMs / 1000)}s later: jitter)`,
        `  project:  ${input.project ?? '(resolved by each run)'}   goal: ${input.goal}`,
        `  handoff:  ${input.outDir}/<run id>/${opts.pauseOnFailure !== false ? '   (the schedule pauses when a run fails)' : ''}`,
        `  runs need a worker on task queue "${taskQueue}" (\`flywheel worker${taskQueue === TASK_QUEUE ? '' : ` --task-queue ${taskQueue}`}\`)`,
      ].join('\n'),
    );
  });
}

interface ScheduleRow {
  scheduleId: string;
  spec: string;
  paused: boolean;
  note: string | null;
  project: string | null;
  nextRun: string | null;
  lastRun: { workflowId: string; runId: string; at: string } | null;
}

function rowOf(s: ScheduleSummary): ScheduleRow {
  const memo = (s.memo ?? {}) as { flywheelSpec?: string; project?: string | null };
  const last = s.info.recentActions[s.info.recentActions.length - 1];
  const interval = s.spec?.intervals?.[0];
  const fallback = interval ? `every ${Math.round(Number(interval.every) / 1000)}s` : s.spec?.calendars?.length ? 'calendar' : '?';
  return {
    scheduleId: s.scheduleId,
    spec: memo.flywheelSpec ?? fallback,
    paused: s.state.paused,
    note: s.state.note ?? null,
    project: memo.project ?? null,
    nextRun: s.info.nextActionTimes[0]?.toISOString() ?? null,
    lastRun: last ? { workflowId: last.action.workflow.workflowId, runId: last.action.workflow.firstExecutionRunId, at: last.takenAt.toISOString() } : null,
  };
}

export async function scheduleList(globals: GlobalOptions): Promise<void> {
  await withClient(globals, async (client) => {
    const rows: ScheduleRow[] = [];
    for await (const s of client.schedule.list()) {
      if (s.action?.workflowType === WORKFLOW_TYPE) rows.push(rowOf(s));
    }
    rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
    output(globals, rows, () => {
      if (!rows.length) return 'no flywheel schedules (create one with `flywheel schedule create`)';
      const table = [
        ['SCHEDULE', 'SPEC', 'PROJECT', 'NEXT RUN', 'LAST RUN', 'NOTE'],
        ...rows.map((r) => [r.scheduleId + (r.paused ? ' (paused)' : ''), r.spec, r.project ?? '-', r.nextRun ?? '-', r.lastRun ? `${r.lastRun.workflowId}` : '-', termSafe(r.note ?? '', 120)]),
      ];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
      return table.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
    });
  });
}

async function describeSchedule(client: Client, scheduleId: string): Promise<ScheduleDescription> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new CliError(`no schedule "${scheduleId}" (see \`flywheel schedule list\`)`);
    throw err;
  }
}

export async function scheduleDelete(scheduleId: string, globals: GlobalOptions): Promise<void> {
  await withClient(globals, async (client) => {
    await describeSchedule(client, scheduleId);
    await client.schedule.getHandle(scheduleId).delete();
    output(globals, { scheduleId, deleted: true }, `schedule ${scheduleId} deleted (runs it already started keep going)`);
  });
}

export async function scheduleTrigger(scheduleId: string, opts: { allowOverlap?: boolean }, globals: GlobalOptions): Promise<void> {
  await withClient(globals, async (client) => {
    const before = await describeSchedule(client, scheduleId);
    const seen = new Set(before.info.recentActions.map((a) => a.action.workflow.firstExecutionRunId));
    const handle = client.schedule.getHandle(scheduleId);
    await handle.trigger(opts.allowOverlap ? ScheduleOverlapPolicy.ALLOW_ALL : ScheduleOverlapPolicy.SKIP);
    // The server takes the action asynchronously: wait a little to name the run it started.
    let started: { workflowId: string; runId: string } | null = null;
    const deadline = Date.now() + 10_000;
    while (!started && Date.now() < deadline) {
      const now = await handle.describe();
      const fresh = now.info.recentActions.find((a) => !seen.has(a.action.workflow.firstExecutionRunId));
      if (fresh) started = { workflowId: fresh.action.workflow.workflowId, runId: fresh.action.workflow.firstExecutionRunId };
      else await new Promise((r) => setTimeout(r, 250));
    }
    const running = before.info.runningActions.length > 0;
    output(
      globals,
      { scheduleId, triggered: true, started },
      started
        ? `schedule ${scheduleId} triggered: run ${started.workflowId} started (follow it with \`flywheel watch ${started.workflowId}\`)`
        : running && !opts.allowOverlap
          ? `schedule ${scheduleId} triggered, but a run is still in progress and overlapping runs are skipped (use --allow-overlap)`
          : `schedule ${scheduleId} triggered; the run has not appeared yet (see \`flywheel list\`)`,
    );
  });
}

export async function schedulePause(scheduleId: string, pause: boolean, opts: { note?: string }, globals: GlobalOptions): Promise<void> {
  await withClient(globals, async (client) => {
    await describeSchedule(client, scheduleId);
    const handle = client.schedule.getHandle(scheduleId);
    const note = opts.note ?? `${pause ? 'paused' : 'unpaused'} with flywheel schedule ${pause ? 'pause' : 'unpause'}`;
    if (pause) await handle.pause(note);
    else await handle.unpause(note);
    output(globals, { scheduleId, paused: pause, note }, `schedule ${scheduleId} ${pause ? 'paused: no runs start until `flywheel schedule unpause ' + scheduleId + '`' : 'unpaused'}`);
  });
}

export interface ScheduleUpdateOptions {
  cron?: string;
  every?: string;
  timezone?: string;
  jitter?: string;
  note?: string;
  pauseOnFailure?: boolean;
}

/** Changes when a schedule fires (and its jitter, note, pause-on-failure); the run options stay as created. */
export async function scheduleUpdate(scheduleId: string, opts: ScheduleUpdateOptions, globals: GlobalOptions): Promise<void> {
  if (opts.cron && opts.every) throw new CliError('use either --cron or --every, not both', EXIT_CODES.usage);
  const everyMs = checkSpec(opts);
  if (!opts.cron && !opts.every && opts.timezone === undefined && opts.jitter === undefined && opts.note === undefined && opts.pauseOnFailure === undefined) {
    throw new CliError('nothing to update: pass --cron, --every, --timezone, --jitter, --note or --[no-]pause-on-failure', EXIT_CODES.usage);
  }
  const jitterMs = opts.jitter !== undefined ? parseJitter(opts.jitter, everyMs) : undefined;
  await withClient(globals, async (client) => {
    const before = await describeSchedule(client, scheduleId);
    const memo = (before.memo ?? {}) as Record<string, unknown>;
    const newSpec = opts.cron || opts.every ? specText({ ...(opts.cron ? { cron: opts.cron } : { every: opts.every }), ...(opts.timezone ? { timezone: opts.timezone } : {}) }) : null;
    await client.schedule.getHandle(scheduleId).update((prev) => {
      const spec = opts.cron || opts.every
        ? { ...(opts.cron ? { cronExpressions: [opts.cron] } : { intervals: [{ every: everyMs! }] }), ...(opts.timezone ?? prev.spec.timezone ? { timezone: opts.timezone ?? prev.spec.timezone } : {}), jitter: jitterMs ?? prev.spec.jitter ?? defaultJitterMs(everyMs) }
        : { ...prev.spec, ...(opts.timezone !== undefined ? { timezone: opts.timezone } : {}), ...(jitterMs !== undefined ? { jitter: jitterMs } : {}) };
      return {
        ...prev,
        spec,
        policies: { ...prev.policies, ...(opts.pauseOnFailure !== undefined ? { pauseOnFailure: opts.pauseOnFailure } : {}) },
        // The memo keeps the spec as created (the server rewrites cron into calendars and an update cannot change
        // the memo): a new spec is recorded in the note, which `schedule list` shows.
        state: { ...prev.state, ...(opts.note !== undefined ? { note: opts.note } : newSpec ? { note: `spec updated to ${newSpec}` } : {}) },
      } as typeof prev;
    });
    const after = await client.schedule.getHandle(scheduleId).describe();
    output(
      globals,
      { scheduleId, spec: newSpec ?? memo.flywheelSpec ?? null, jitterMs: after.spec.jitter ?? null, pauseOnFailure: after.policies.pauseOnFailure, nextRun: after.info.nextActionTimes[0]?.toISOString() ?? null },
      `schedule ${scheduleId} updated${newSpec ? `: ${newSpec}` : ''}; next run ${after.info.nextActionTimes[0]?.toISOString() ?? '(none)'}`,
    );
  });
}

/**
 * Runs a schedule for the times it would have fired between `from` and `to` (each as its own run, one after
 * another: the project's runs never overlap).
 */
export async function scheduleBackfill(scheduleId: string, opts: { from: string; to: string }, globals: GlobalOptions): Promise<void> {
  const start = new Date(opts.from);
  const end = new Date(opts.to);
  if (Number.isNaN(start.getTime())) throw new CliError(`--from '${opts.from}' is not a date/time (ISO 8601, e.g. 2026-11-20T03:00:00Z)`, EXIT_CODES.usage);
  if (Number.isNaN(end.getTime())) throw new CliError(`--to '${opts.to}' is not a date/time (ISO 8601, e.g. 2026-11-27T03:00:00Z)`, EXIT_CODES.usage);
  if (end <= start) throw new CliError('--to must be after --from', EXIT_CODES.usage);
  if (end.getTime() - start.getTime() > 90 * 86_400_000) throw new CliError('a backfill covers at most 90 days', EXIT_CODES.usage);
  await withClient(globals, async (client) => {
    await describeSchedule(client, scheduleId);
    await client.schedule.getHandle(scheduleId).backfill([{ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL }]);
    output(globals, { scheduleId, backfill: { from: start.toISOString(), to: end.toISOString() } }, `schedule ${scheduleId}: backfill ${start.toISOString()} → ${end.toISOString()} requested (runs start one after another; see \`flywheel list\`)`);
  });
}

// ─── registration ─────────────────────────────────────────────────────────────────────────────────

export function registerScheduleCommands(program: Command): Command {
  const schedule = program
    .command('schedule')
    .description('Recurring autonomous flywheel runs (Temporal Schedules). Runs need a worker: `flywheel worker`.');

  schedule
    .command('create')
    .description(
      'Create a schedule that starts an autonomous flywheel run on a cron expression or an interval. ' +
        'Takes the run options of `flywheel run`, resolved now (paths become absolute on this machine). ' +
        'Overlapping runs are skipped; each run gets the id <scheduleId>-<scheduled time>.',
    )
    .argument('<scheduleId>', 'a name for the schedule (letters, digits, . _ -)')
    .option('--cron <expr>', '5-field cron expression, e.g. "0 3 * * *" (03:00 daily), or @daily / @hourly / …')
    .option('--every <duration>', 'interval instead of cron, e.g. 6h or 1d')
    .option('--timezone <tz>', 'IANA time zone for --cron (default UTC)')
    .option('--task-queue <queue>', `task queue of the worker that runs them (default "${TASK_QUEUE}")`)
    .option('--note <text>', 'a note stored on the schedule')
    .option('--paused', 'create it paused')
    .option('--jitter <duration>', 'start each run up to this much later, at random (default 10m, or a tenth of a shorter --every)')
    .option('--no-pause-on-failure', 'keep firing after a run fails (default: the schedule pauses when a run gives up)')
    .option('--project <name>', 'Braintrust project name (else resolved by each run)')
    .option('--goal <text>', 'what to improve (default "general health check")')
    .addOption(new Option('--mode <mode>', 'scheduled runs are always autonomous').choices(['autonomous', 'interactive']))
    .option('--baseline <experiment>', 'baseline experiment id or name (default: the newest one the flywheel did not create)')
    .option('--window <days>', 'discover window in days (default 7)')
    .option('--eval-file <path...>', 'eval files relative to the agent directory')
    .option('--agent-dir <dir>', "the agent's repository (default: the current directory)")
    .option('--change-command <cmd>', 'change agent command, run in the agent directory with the brief on stdin')
    .option('--no-change-agent', 'no change agent (code routes end as briefs)')
    .option('--labeler <cmd>', 'labeler command: rows as JSON on stdin → [{id, expected}]')
    .option('--out <dir>', 'where each run writes bt-flywheel-summary.json (default: the current directory)')
    .option('--dataset <name>', 'dataset the flywheel curates into')
    .option('--max-iterations <n>', 'loop limit (default 3)')
    .option('--eval-concurrency <n>', 'paired evals run at once (1-4, default 2; 1 for tight LLM rate limits)')
    .option('--env-file <path>', 'a .env-format file loaded for `bt eval` (repeatable; default: .env in the agent directory)', collect)
    .option('--eval-env <name>', "pass this variable of the worker's environment to `bt eval` (repeatable)", collect)
    .option('--no-dotenv', "do not load the agent directory's .env for `bt eval`")
    .action(async (scheduleId: string, opts: ScheduleCreateOptions, cmd: Command) => {
      await scheduleCreate(scheduleId, opts, globalsOf(cmd));
    });

  schedule
    .command('list')
    .description('List flywheel schedules with their spec, project, next run and last started run.')
    .action(async (_opts: unknown, cmd: Command) => {
      await scheduleList(globalsOf(cmd));
    });

  schedule
    .command('delete')
    .description('Delete a schedule (runs it already started are not affected).')
    .argument('<scheduleId>', 'the schedule')
    .action(async (scheduleId: string, _opts: unknown, cmd: Command) => {
      await scheduleDelete(scheduleId, globalsOf(cmd));
    });

  schedule
    .command('pause')
    .description('Pause a schedule: no runs start until it is unpaused (runs in progress go on).')
    .argument('<scheduleId>', 'the schedule')
    .option('--note <text>', 'why (stored on the schedule)')
    .action(async (scheduleId: string, opts: { note?: string }, cmd: Command) => {
      await schedulePause(scheduleId, true, opts, globalsOf(cmd));
    });

  schedule
    .command('unpause')
    .description('Unpause a schedule (also after it paused itself because a run failed).')
    .argument('<scheduleId>', 'the schedule')
    .option('--note <text>', 'why (stored on the schedule)')
    .action(async (scheduleId: string, opts: { note?: string }, cmd: Command) => {
      await schedulePause(scheduleId, false, opts, globalsOf(cmd));
    });

  schedule
    .command('update')
    .description('Change when a schedule fires (--cron or --every, --timezone, --jitter), its note or pause-on-failure. Run options stay as created (delete and create to change them).')
    .argument('<scheduleId>', 'the schedule')
    .option('--cron <expr>', '5-field cron expression or @daily / @hourly / …')
    .option('--every <duration>', 'interval instead of cron, e.g. 6h')
    .option('--timezone <tz>', 'IANA time zone for --cron')
    .option('--jitter <duration>', 'start each run up to this much later, at random')
    .option('--note <text>', 'a note stored on the schedule')
    .option('--pause-on-failure', 'pause when a run fails')
    .option('--no-pause-on-failure', 'keep firing after a run fails')
    .action(async (scheduleId: string, opts: ScheduleUpdateOptions, cmd: Command) => {
      await scheduleUpdate(scheduleId, opts, globalsOf(cmd));
    });

  schedule
    .command('backfill')
    .description('Run the schedule for the times it would have fired between --from and --to (one run after another).')
    .argument('<scheduleId>', 'the schedule')
    .requiredOption('--from <time>', 'start, ISO 8601 (e.g. 2026-11-20T00:00:00Z)')
    .requiredOption('--to <time>', 'end, ISO 8601')
    .action(async (scheduleId: string, opts: { from: string; to: string }, cmd: Command) => {
      await scheduleBackfill(scheduleId, opts, globalsOf(cmd));
    });

  schedule
    .command('trigger')
    .description('Start one run of a schedule now and print its workflow id (skipped while a run is in progress).')
    .argument('<scheduleId>', 'the schedule')
    .option('--allow-overlap', 'start even when a run of this schedule is still in progress')
    .action(async (scheduleId: string, opts: { allowOverlap?: boolean }, cmd: Command) => {
      await scheduleTrigger(scheduleId, opts, globalsOf(cmd));
    });

  for (const c of schedule.commands) c.exitOverride();
  schedule.exitOverride();
  return schedule;
}
