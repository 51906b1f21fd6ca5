/**
 * Interactive approval gates: state + `condition(pred, timeout)`. One gate is open at a time.
 *
 * Answers arrive as Updates (approve, reject, override, skip, applied): the validator refuses an answer for a gate
 * that is not open, an answer the gate does not take, unknown steps or routes, and a second answer — the caller
 * hears why — and the accepted answer returns the gate's record. `stop` is a signal. The signals named like the
 * Updates are still handled (old clients, histories recorded before the Updates); an answer they carry for
 * another gate is ignored, so a stale approval never leaks into a later decision.
 */
import { condition, setHandler } from '@temporalio/workflow';
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
  type GateKind,
  type GateRecord,
  type PendingGate,
} from './definitions.js';
import { answerProblem, type AnswerArgs, type AnswerKind } from './logic/gate-answers.js';

export type GateAnswer =
  | { kind: 'approved'; by: string; subset?: string[]; note?: string }
  | { kind: 'rejected'; by: string; note?: string }
  | { kind: 'overridden'; by: string; route: string; note?: string }
  | { kind: 'skipped'; by: string; step: string; note?: string }
  | { kind: 'applied'; by: string; files?: string[]; note?: string }
  | { kind: 'stopped'; by: string; note?: string }
  | { kind: 'timed_out' }
  | { kind: 'auto' };

export class Gates {
  pending: PendingGate | null = null;
  readonly records: GateRecord[] = [];
  /** A stop request outlives the gate it was sent to: the run stops at the next gate or phase boundary. */
  stopRequested: { by: string; note?: string } | null = null;
  private answer: GateAnswer | null = null;
  /** The record of the answer taken for the open gate (built when the answer arrives). */
  private answerRecord: GateRecord | null = null;
  private counter = 0;

  constructor(
    private readonly interactive: boolean,
    private readonly timeoutMs: number,
  ) {
    const accept = (gateId: string | undefined, a: GateAnswer): GateRecord | null => {
      if (!this.pending || this.answer) return null;
      if (gateId && gateId !== this.pending.id) return null;
      this.answer = a;
      this.answerRecord = recordOf(this.pending, a, new Date().toISOString());
      return this.answerRecord;
    };
    setHandler(approveSignal, (a) => void accept(a.gateId, { kind: 'approved', by: a.by, subset: a.subset, note: a.note }));
    setHandler(rejectSignal, (a) => void accept(a.gateId, { kind: 'rejected', by: a.by, note: a.note }));
    setHandler(overrideSignal, (a) => void accept(a.gateId, { kind: 'overridden', by: a.by, route: a.route, note: a.note }));
    setHandler(skipSignal, (a) => void accept(a.gateId, { kind: 'skipped', by: a.by, step: a.step, note: a.note }));
    setHandler(appliedSignal, (a) => void accept(a.gateId, { kind: 'applied', by: a.by, files: a.files, note: a.note }));
    setHandler(stopSignal, (a) => {
      this.stopRequested = { by: a.by, note: a.note };
      accept(a.gateId, { kind: 'stopped', by: a.by, note: a.note });
    });

    /** An Update answer: validated (nothing recorded when refused), taken, and its gate record returned. */
    const update = <A extends AnswerArgs & { by: string; gateId?: string }>(kind: AnswerKind, toAnswer: (a: A) => GateAnswer) => ({
      handler: (a: A): GateRecord => {
        const record = accept(a.gateId, toAnswer(a));
        // The validator ran in this same activation, so the gate is still open and unanswered.
        if (!record) throw new Error(`the gate closed before the ${kind} answer was taken`);
        return record;
      },
      validator: (a: A): void => {
        const problem = this.problemWith(kind, a);
        if (problem) throw new Error(problem);
      },
    });
    const approve = update('approve', (a: { by: string; subset?: string[]; note?: string }) => ({ kind: 'approved', by: a.by, subset: a.subset, note: a.note }));
    setHandler(approveUpdate, approve.handler, { validator: approve.validator, description: 'approve the open gate (optionally a subset of plan steps)' });
    const reject = update('reject', (a: { by: string; note?: string }) => ({ kind: 'rejected', by: a.by, note: a.note }));
    setHandler(rejectUpdate, reject.handler, { validator: reject.validator, description: 'reject the open gate (the run ends needs_work)' });
    const override = update('override', (a: { by: string; route: string; note?: string }) => ({ kind: 'overridden', by: a.by, route: a.route, note: a.note }));
    setHandler(overrideUpdate, override.handler, { validator: override.validator, description: 'route to another artifact at a plan or routing gate' });
    const skip = update('skip', (a: { by: string; step: string; note?: string }) => ({ kind: 'skipped', by: a.by, step: a.step, note: a.note }));
    setHandler(skipUpdate, skip.handler, { validator: skip.validator, description: 'skip one plan step' });
    const applied = update('applied', (a: { by: string; files?: string[]; note?: string }) => ({ kind: 'applied', by: a.by, files: a.files, note: a.note }));
    setHandler(appliedUpdate, applied.handler, { validator: applied.validator, description: 'report a change applied by hand at an apply gate' });
  }

  /** Why an answer cannot be taken now (null: it can). */
  private problemWith(kind: AnswerKind, args: AnswerArgs): string | null {
    if (this.pending && this.answerRecord) {
      return `gate ${this.pending.id} is already answered (${this.answerRecord.decision} by ${this.answerRecord.by})`;
    }
    const last = this.records[this.records.length - 1];
    return answerProblem(kind, args, this.pending, last ? { id: last.id, by: last.by, decision: last.decision } : null);
  }

  /**
   * Opens a gate and waits for a person (interactive) or passes at once (autonomous, recorded as `auto`).
   * `apply` gates wait even in autonomous mode only when the caller asks for them (it does not).
   */
  async ask(kind: GateKind, title: string, detail: string, options: string[] = [], shown?: string): Promise<GateAnswer> {
    const id = `${kind}-${++this.counter}`;
    const now = new Date();
    // What the gate showed, in one line, goes into its record (the handoff says what was approved).
    const seen = shown ? { shown } : {};
    // A stop request is honoured at the next gate in either mode (autonomous runs pass gates otherwise).
    if (this.stopRequested) {
      this.records.push({ id, kind, decision: 'stopped', by: this.stopRequested.by, at: now.toISOString(), detail: title, ...(this.stopRequested.note ? { note: this.stopRequested.note } : {}), ...seen });
      return { kind: 'stopped', by: this.stopRequested.by, note: this.stopRequested.note };
    }
    if (!this.interactive) {
      this.records.push({ id, kind, decision: 'auto', by: 'autonomous mode', at: now.toISOString(), detail: title, ...seen });
      return { kind: 'auto' };
    }
    this.answer = null;
    this.answerRecord = null;
    this.pending = {
      id,
      kind,
      title,
      detail,
      options,
      openedAt: now.toISOString(),
      timeoutAt: new Date(now.getTime() + this.timeoutMs).toISOString(),
      ...seen,
    };
    const answered = await condition(() => this.answer !== null, this.timeoutMs);
    // Re-widen: TypeScript narrows handler-mutated state to null across the await.
    const got = this.answer as GateAnswer | null;
    const record = this.answerRecord as GateRecord | null;
    const answer: GateAnswer = answered && got ? got : { kind: 'timed_out' };
    this.pending = null;
    this.answer = null;
    this.answerRecord = null;
    if (answer.kind === 'timed_out' || answer.kind === 'auto' || !record) {
      this.records.push({ id, kind, decision: answer.kind === 'auto' ? 'auto' : 'timed_out', by: answer.kind === 'auto' ? 'autonomous mode' : 'nobody (timeout)', at: new Date().toISOString(), detail: title, ...seen });
    } else {
      this.records.push(record);
    }
    return answer;
  }
}

/** The gate record of an answer to `gate`. */
function recordOf(gate: PendingGate, answer: GateAnswer, at: string): GateRecord {
  const seen = gate.shown ? { shown: gate.shown } : {};
  if (answer.kind === 'timed_out' || answer.kind === 'auto') return { id: gate.id, kind: gate.kind, decision: answer.kind, by: answer.kind === 'auto' ? 'autonomous mode' : 'nobody (timeout)', at, detail: gate.title, ...seen };
  const extra =
    answer.kind === 'approved' && answer.subset?.length
      ? ` (subset: ${answer.subset.join(', ')})`
      : answer.kind === 'overridden'
        ? ` (route: ${answer.route})`
        : answer.kind === 'skipped'
          ? ` (step: ${answer.step})`
          : answer.kind === 'applied' && answer.files?.length
            ? ` (files: ${answer.files.join(', ')})`
            : '';
  return { id: gate.id, kind: gate.kind, decision: answer.kind, by: answer.by, at, detail: gate.title + extra, ...(answer.note ? { note: answer.note } : {}), ...seen };
}
