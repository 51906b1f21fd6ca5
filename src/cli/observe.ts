/**
 * Watching flywheel runs: `status` (one run in full), `list` (recent runs) and `watch` (follow one until it closes).
 */
import { termSafe } from '../untrusted.js';
import type { Command } from 'commander';
import { durationMs } from '../../schemas/flywheel-input.js';
import { act, CliError, EXIT_CODES, exitCodeFor, output, withClient, type GlobalOptions } from './common.js';
import { answerHints } from './gates.js';
import { LIST_STATUSES, listQuery, progressLine, report, searchAttrs, type RunReport } from './report.js';

// ─── formatting ───────────────────────────────────────────────────────────────────────────────────

function ago(iso: string, now = Date.now()): string {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const text = a < 90 ? `${a}s` : a < 5400 ? `${Math.round(a / 60)}m` : a < 172_800 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86_400)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

/** Lines of a gate's detail the terminal shows (the rest: `flywheel status --json`). */
export const GATE_DETAIL_LINES = 60;
const DIFF_LINES = 40;

/** A gate's detail (or a diff) for the terminal: stripped of escape and control characters, at most `max` lines. */
export function gateDetailLines(detail: string, max = GATE_DETAIL_LINES): string[] {
  const lines = termSafe(detail, 20_000).split('\n');
  return [...lines.slice(0, max), ...(lines.length > max ? [`… (${lines.length - max} more lines: \`flywheel status --json\`)`] : [])];
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
    lines.push(`  pending gate: ${gate.id} (${gate.kind}) "${termSafe(gate.title, 400)}"`);
    lines.push(`    opened ${gate.openedAt}; times out ${gate.timeoutAt} (${ago(gate.timeoutAt)}); then the run ends blocked`);
    lines.push(...gateDetailLines(gate.detail).map((l) => `    | ${l}`));
    if (gate.options.length) lines.push(`    options: ${gate.options.join(', ')}`);
    lines.push('    answer with one of:', ...answerHints(r.workflowId, gate).map((h) => `      ${h}`));
  } else if (live && !r.closed && live.mode === 'autonomous') {
    row('gates', 'none (autonomous mode)');
  }
  if (live?.findings.length) {
    lines.push('  findings:', ...live.findings.map((f) => `    - ${f}`));
  }
  if (live?.changes?.length && !gate) {
    // The iteration's code changes and their diffs (while no gate shows them).
    lines.push('  changes:');
    for (const c of live.changes) {
      const stat = c.diffStat ? ` (${c.diffStat.files} file(s), +${c.diffStat.insertions} -${c.diffStat.deletions})` : '';
      lines.push(`    - ${c.id} ${c.artifact}: ${termSafe(c.description, 300)}${stat}${c.pushedScorers?.length ? `; pushed scorers: ${termSafe(c.pushedScorers.join(', '), 300)}` : ''}`);
      if (c.diff) lines.push(...gateDetailLines(c.diff.excerpt, DIFF_LINES).map((l) => `      | ${l}`), ...(c.diff.truncated ? [`      | (whole diff: ${termSafe(c.diff.path, 500)})`] : []));
    }
  }
  if (live?.gates.length) {
    lines.push('  decisions:', ...live.gates.map((g) => `    - ${g.id} ${g.decision} by ${g.by}${g.note ? ` (${termSafe(g.note, 300)})` : ''}${g.shown ? ` — shown: ${termSafe(g.shown, 300)}` : ''}`));
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
        // What the gate approves (counts and sample, baseline, diff) before how to answer it.
        say([`gate ${gate.id} (${gate.kind}): ${gate.title} — times out ${gate.timeoutAt}`, ...gateDetailLines(gate.detail).map((l) => `  | ${l}`), ...answerHints(workflowId, gate).map((h) => `  ${h}`)].join('\n'));
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

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive whole number (got '${v}')`, EXIT_CODES.usage);
    return n;
  };
}

// ─── registration ─────────────────────────────────────────────────────────────────────────────────

export function registerObserveCommands(program: Command): Command {
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

  return program;
}
