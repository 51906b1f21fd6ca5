/**
 * Interactive approval gates: state + `condition(pred, timeout)`. One gate is open at a time; signals for
 * another gate id are ignored so a stale approval never leaks into a later decision.
 */
import { condition, setHandler } from '@temporalio/workflow';
import {
  appliedSignal,
  approveSignal,
  overrideSignal,
  rejectSignal,
  skipSignal,
  stopSignal,
  type GateKind,
  type GateRecord,
  type PendingGate,
} from './definitions.js';

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
  private counter = 0;

  constructor(
    private readonly interactive: boolean,
    private readonly timeoutMs: number,
  ) {
    const accept = (gateId: string | undefined, a: GateAnswer) => {
      if (!this.pending || this.answer) return;
      if (gateId && gateId !== this.pending.id) return;
      this.answer = a;
    };
    setHandler(approveSignal, (a) => accept(a.gateId, { kind: 'approved', by: a.by, subset: a.subset, note: a.note }));
    setHandler(rejectSignal, (a) => accept(a.gateId, { kind: 'rejected', by: a.by, note: a.note }));
    setHandler(overrideSignal, (a) => accept(a.gateId, { kind: 'overridden', by: a.by, route: a.route, note: a.note }));
    setHandler(skipSignal, (a) => accept(a.gateId, { kind: 'skipped', by: a.by, step: a.step, note: a.note }));
    setHandler(appliedSignal, (a) => accept(a.gateId, { kind: 'applied', by: a.by, files: a.files, note: a.note }));
    setHandler(stopSignal, (a) => {
      this.stopRequested = { by: a.by, note: a.note };
      accept(a.gateId, { kind: 'stopped', by: a.by, note: a.note });
    });
  }

  /**
   * Opens a gate and waits for a person (interactive) or passes at once (autonomous, recorded as `auto`).
   * `apply` gates wait even in autonomous mode only when the caller asks for them (it does not).
   */
  async ask(kind: GateKind, title: string, detail: string, options: string[] = []): Promise<GateAnswer> {
    const id = `${kind}-${++this.counter}`;
    const now = new Date();
    // A stop request is honoured at the next gate in either mode (autonomous runs pass gates otherwise).
    if (this.stopRequested) {
      this.records.push({ id, kind, decision: 'stopped', by: this.stopRequested.by, at: now.toISOString(), detail: title, ...(this.stopRequested.note ? { note: this.stopRequested.note } : {}) });
      return { kind: 'stopped', by: this.stopRequested.by, note: this.stopRequested.note };
    }
    if (!this.interactive) {
      this.records.push({ id, kind, decision: 'auto', by: 'autonomous mode', at: now.toISOString(), detail: title });
      return { kind: 'auto' };
    }
    this.answer = null;
    this.pending = {
      id,
      kind,
      title,
      detail,
      options,
      openedAt: now.toISOString(),
      timeoutAt: new Date(now.getTime() + this.timeoutMs).toISOString(),
    };
    const answered = await condition(() => this.answer !== null, this.timeoutMs);
    // Re-widen: TypeScript narrows handler-mutated state to null across the await.
    const got = this.answer as GateAnswer | null;
    const answer: GateAnswer = answered && got ? got : { kind: 'timed_out' };
    this.pending = null;
    this.answer = null;
    const at = new Date().toISOString();
    if (answer.kind === 'timed_out' || answer.kind === 'auto') {
      this.records.push({ id, kind, decision: answer.kind, by: answer.kind === 'timed_out' ? 'nobody (timeout)' : 'autonomous mode', at, detail: title });
    } else {
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
      this.records.push({ id, kind, decision: answer.kind, by: answer.by, at, detail: title + extra, ...(answer.note ? { note: answer.note } : {}) });
    }
    return answer;
  }
}
