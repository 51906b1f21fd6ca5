/**
 * Messages of the flywheel workflow, shared by the workflow, the starter CLI and the tests.
 * Always send them through these definitions, never by string name.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../shared.js';

export type Phase = 'orient' | 'discover' | 'diagnose' | 'improve' | 'verify' | 'handoff' | 'done';
export type GateKind = 'plan' | 'write' | 'apply' | 'route';

/** Who sent a gate decision, and an optional note. Recorded in the handoff. */
export interface Actor {
  by: string;
  note?: string;
  /** The gate the sender meant; a decision for another gate is ignored (stale approvals never leak). */
  gateId?: string;
}

export interface ApproveArgs extends Actor {
  /** Approve only these plan steps (route ids); default: all. */
  subset?: string[];
}
export interface OverrideArgs extends Actor {
  /** For a plan gate: the artifact route to run instead; for a routing gate: the next route. */
  route: string;
}
export interface SkipArgs extends Actor {
  /** The plan step (route id) to skip. */
  step: string;
}
export interface AppliedArgs extends Actor {
  /** Files the person changed, if they want them recorded. */
  files?: string[];
}

/**
 * Gate answers are Updates: the workflow's validator accepts or rejects each one with a reason the caller gets
 * back (a rejected answer never enters history), and an accepted one returns the gate's record. `stop` stays a
 * signal (it is honoured at the next gate or phase boundary, with or without an open gate). The signals of the
 * same names are still handled, for clients and histories from before the Updates.
 */
export const approveUpdate = defineUpdate<GateRecord, [ApproveArgs]>('approve');
export const rejectUpdate = defineUpdate<GateRecord, [Actor]>('reject');
export const overrideUpdate = defineUpdate<GateRecord, [OverrideArgs]>('override');
export const skipUpdate = defineUpdate<GateRecord, [SkipArgs]>('skip');
export const appliedUpdate = defineUpdate<GateRecord, [AppliedArgs]>('applied');

export const approveSignal = defineSignal<[ApproveArgs]>('approve');
export const rejectSignal = defineSignal<[Actor]>('reject');
export const overrideSignal = defineSignal<[OverrideArgs]>('override');
export const skipSignal = defineSignal<[SkipArgs]>('skip');
export const appliedSignal = defineSignal<[AppliedArgs]>('applied');
export const stopSignal = defineSignal<[Actor]>('stop');

export interface PendingGate {
  id: string;
  kind: GateKind;
  title: string;
  /** Markdown: the plan, the write, or the routing decision being asked about. */
  detail: string;
  /** Plan step ids a subset approval or skip may name. */
  options: string[];
  openedAt: string;
  timeoutAt: string;
  /** One line of what the gate shows (counts and target, baseline, diff size), kept in its record. */
  shown?: string;
}

export interface GateRecord {
  id: string;
  kind: GateKind;
  decision: 'approved' | 'rejected' | 'overridden' | 'skipped' | 'applied' | 'stopped' | 'timed_out' | 'auto';
  by: string;
  at: string;
  note?: string;
  detail?: string;
  /** What the gate showed when it was answered, in one line (absent for gates that showed nothing more than the title). */
  shown?: string;
}

export interface FlywheelStatus {
  workflowId: string;
  project: string;
  goal: string;
  mode: 'autonomous' | 'interactive';
  phase: Phase;
  iteration: number;
  /** What the run is doing right now, in a few words ("querying quality plane", "running smoke eval"). */
  activity: string;
  pendingGate: PendingGate | null;
  findings: string[];
  gates: GateRecord[];
  /**
   * The code changes of the current iteration with their diffs (bounded excerpts), once the change agent made them.
   * Absent from runs of versions before it existed.
   */
  changes?: StatusChange[];
  outcome: string | null;
  summaryPath: string | null;
}

export interface StatusChange {
  id: string;
  artifact: string;
  description: string;
  files: string[];
  diffStat?: { files: number; insertions: number; deletions: number };
  /** Scorer files pushed to Braintrust with the change. */
  pushedScorers?: string[];
  /** A unified diff excerpt (code from the agent's repository: untrusted), and where the whole diff is. */
  diff?: { excerpt: string; truncated: boolean; path: string };
}

export const statusQuery = defineQuery<FlywheelStatus>('status');

export const FlywheelProjectKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.project.name, SEARCH_ATTRIBUTES.project.type);
export const FlywheelGoalKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.goal.name, SEARCH_ATTRIBUTES.goal.type);
export const FlywheelModeKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.mode.name, SEARCH_ATTRIBUTES.mode.type);
export const FlywheelPhaseKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.phase.name, SEARCH_ATTRIBUTES.phase.type);
export const FlywheelOutcomeKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.outcome.name, SEARCH_ATTRIBUTES.outcome.type);
