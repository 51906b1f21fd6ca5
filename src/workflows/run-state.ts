/**
 * The state of one flywheel run inside the workflow: what the status query shows, what the handoff reports,
 * and how gate answers end a run. Deterministic: no I/O, no clock but the workflow's.
 */
import { upsertSearchAttributes, type WorkflowInfo } from '@temporalio/workflow';
import type { HandoffInput } from '../handoff/build.js';
import type { FlywheelConfig } from '../../schemas/flywheel-input.js';
import { FlywheelPhaseKey, type FlywheelStatus, type Phase } from './definitions.js';
import type { GateAnswer, Gates } from './gates.js';
import type { Decision, Outcome } from './logic/decide.js';
import type { ChangeRecord, EvalResult } from './logic/evidence.js';
import type { LabelRequest } from './logic/measurement.js';
import type { ShownChange } from './gate-text.js';
import type { ActivityProxies } from './proxies.js';

export class FlywheelRun {
  readonly phasesRun: Phase[] = [];
  readonly evals: (EvalResult & { iteration?: number })[] = [];
  readonly changes: ChangeRecord[] = [];
  readonly decisions: { iteration: number; decision: Decision }[] = [];
  readonly briefs: NonNullable<HandoffInput['briefs']> = [];
  readonly history: { iteration: number; improved: boolean }[] = [];
  /** Scorers that need human labels before they can be fixed (each becomes a label_data next step). */
  readonly labelRequests: LabelRequest[] = [];
  /** The outcome a gate answer, a decision or a failure settled on (the handoff builder honours it). */
  forced: { outcome: Outcome; reason: string } | null = null;
  /** The curated dataset, once it exists. */
  datasetId: string | null = null;
  /**
   * Diff excerpts of the changes, by change id, as their change agent reported them: shown at the routing gate and in
   * status. Workflow memory only (the records carry the diff file's reference).
   */
  readonly diffs = new Map<string, { excerpt: string; truncated: boolean; path: string }>();
  /** This run's activity proxies, bound to its host's task queues. */
  io!: ActivityProxies;
  readonly status: FlywheelStatus;

  constructor(
    readonly cfg: FlywheelConfig,
    readonly info: WorkflowInfo,
    readonly gates: Gates,
  ) {
    this.status = {
      workflowId: info.workflowId,
      project: cfg.project ?? '(resolving)',
      goal: cfg.goal,
      mode: cfg.mode,
      phase: 'orient',
      iteration: 0,
      activity: 'starting',
      pendingGate: null,
      findings: [],
      gates: gates.records,
      outcome: null,
      summaryPath: null,
    };
  }

  /** The status query's answer. */
  snapshot(): FlywheelStatus {
    return { ...this.status, pendingGate: this.gates.pending, gates: this.gates.records };
  }

  enter(phase: Phase, activity: string): void {
    this.status.phase = phase;
    this.status.activity = activity;
    if (!this.phasesRun.includes(phase)) this.phasesRun.push(phase);
    upsertSearchAttributes([{ key: FlywheelPhaseKey, value: phase }]);
  }

  /** The changes of the current iteration, with their diffs, for status (and the routing gate). */
  showChanges(changes: readonly ChangeRecord[]): ShownChange[] {
    const shown = changes.filter((c) => c.artifact !== 'dataset').map((c) => ({ change: c, diff: this.diffs.get(c.id) ?? null }));
    this.status.changes = shown.map(({ change: c, diff }) => ({
      id: c.id,
      artifact: c.artifact,
      description: c.description,
      files: c.files,
      ...(c.diffStat ? { diffStat: c.diffStat } : {}),
      ...(c.functions?.length ? { pushedScorers: c.functions.map((f) => f.slug) } : {}),
      ...(diff ? { diff } : {}),
    }));
    return shown;
  }

  doing(activity: string): void {
    this.status.activity = activity;
  }

  end(outcome: Outcome, reason: string): void {
    this.forced = { outcome, reason };
  }

  /** Ends the run at a gate answer that is not "go on"; returns true when the run must stop. */
  stopAt(answer: GateAnswer, what: string): boolean {
    if (answer.kind === 'timed_out') {
      this.end('blocked', `nobody answered the ${what} gate within ${this.cfg.gateTimeout}; nothing was written after it`);
      return true;
    }
    if (answer.kind === 'stopped' || answer.kind === 'rejected') {
      this.end('needs_work', `${answer.by} ${answer.kind === 'stopped' ? 'stopped the run' : 'rejected'} at the ${what} gate${answer.note ? `: ${answer.note}` : ''}`);
      return true;
    }
    return false;
  }
}
