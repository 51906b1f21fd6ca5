/**
 * Answering a run's gates: `approve`, `reject`, `override`, `skip`, `applied` and `stop`. Each answer is checked
 * against the pending gate, sent as the typed Update of definitions.ts (a signal where no worker can check it),
 * and printed as one line (or one JSON document).
 */
import { termSafe } from '../untrusted.js';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import {
  appliedSignal,
  appliedUpdate,
  approveSignal,
  approveUpdate,
  overrideSignal,
  overrideUpdate,
  rejectSignal,
  rejectUpdate,
  skipSignal,
  skipUpdate,
  stopSignal,
  type ApproveArgs,
  type FlywheelStatus,
  type GateKind,
  type GateRecord,
  type PendingGate,
} from '../workflows/definitions.js';
import { answerProblem, ARTIFACT_ROUTES, type AnswerArgs } from '../workflows/logic/gate-answers.js';
import { act, actorName, CliError, EXIT_CODES, output, withClient, type GlobalOptions } from './common.js';
import { describeRun, queryStatus } from './report.js';

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

// ─── registration ─────────────────────────────────────────────────────────────────────────────────

function gateCmd(program: Command, name: GateCommand, description: string): Command {
  return program
    .command(name)
    .description(description)
    .argument('<workflowId>', 'the run (see `flywheel list`)')
    .option('--gate <id>', 'the gate you mean (e.g. plan-1); refused when another gate is pending')
    .option('--by <name>', 'who decides (default FLYWHEEL_ACTOR, else $USER); recorded in the handoff')
    .option('--note <text>', 'a note recorded with the decision');
}

export function registerGateCommands(program: Command): Command {
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

  return program;
}
