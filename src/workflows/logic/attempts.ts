/**
 * Iterations that build on each other: which changes a verdict rejects (and so are put back before the next
 * attempt), why, and each iteration's attempt in one record — what the next change brief and the handoff show.
 * Pure: derived from the decisions and change records the workflow already holds.
 */
import { DECIDE_OPTIONS, type Decision, type DecisionRule, type ScoreDelta, type Verdict } from './decide.js';
import type { ChangeArtifact, ChangeRecord, RowRegression } from './evidence.js';

/** Regressed rows an attempt record lists (all are counted). */
export const LISTED_REGRESSIONS = 5;

const round = (x: number): number => Math.round(x * 10000) / 10000;
const signed = (x: number | null): string => (x == null ? 'n/a' : `${x >= 0 ? '+' : ''}${round(x)}`);

/**
 * The code changes of one iteration a verdict does not accept, in the order to put them back (last made first, so
 * two changes touching one file restore the file as it was before both). Dataset rows are never taken back; a change
 * without a backup (applied by a person) cannot be. A measurement or instrumentation change the routing builds on
 * ("now that the failure is measured, change the agent") is kept.
 */
export function changesToRevert(decision: Pick<Decision, 'rule' | 'verdict'>, changes: readonly ChangeRecord[]): ChangeRecord[] {
  if (decision.verdict.acceptChange) return [];
  const kept: ReadonlySet<ChangeArtifact> = decision.rule === 'measurement_changed_agent_next' ? new Set(['measurement', 'instrumentation']) : new Set();
  return changes.filter((c) => c.artifact !== 'dataset' && c.revertible === true && c.files.length > 0 && !c.reverted && !kept.has(c.artifact)).reverse();
}

/** Why a verdict did not accept the iteration's change, one reason a line (empty when it did). */
export function whyNotAccepted(v: Verdict, minImprovement: number = DECIDE_OPTIONS.minImprovement): string[] {
  if (v.acceptChange) return [];
  const out: string[] = [];
  const target = v.targetScore ?? 'the target score';
  if (v.evaluated !== 'full') out.push(v.evaluated === 'smoke' ? 'only the smoke eval ran (it failed, or no full eval result exists)' : 'no eval verified the change');
  if (v.evaluated === 'full' && !v.improved) {
    out.push(`${target} did not improve by more than ${minImprovement} (train ${signed(v.trainDelta)}, validation ${signed(v.validationDelta)})`);
  }
  if (v.regressionCount > 0) out.push(`${v.regressionCount} eval row(s) regressed against the pinned baseline`);
  if (v.overfitting) out.push(`train improved (${signed(v.trainDelta)}) but validation did not (${signed(v.validationDelta)}): overfitting`);
  if (!v.scorerHealthy) out.push(`scorer health: ${v.scorerHealth.filter((h) => !h.healthy).map((h) => h.detail).join('; ')}`);
  // Absent in verdicts recorded before Verify computed them.
  if (v.newFailurePatterns?.length) out.push(`new failure pattern(s) the baseline does not show: ${v.newFailurePatterns.join('; ')}`);
  if (!out.length) out.push('the verdict did not accept the change');
  return out;
}

/** One iteration's attempt: what was changed, what it measured, and what was decided. */
export interface AttemptRecord {
  iteration: number;
  /** Plan steps worked on (route ids) and their artifacts, in the order they were applied. */
  routeIds: string[];
  artifacts: ChangeArtifact[];
  changes: Array<{
    id: string;
    artifact: ChangeArtifact;
    description: string;
    files: string[];
    diffStat?: { files: number; insertions: number; deletions: number };
    datasetRowsUpserted?: number;
    reverted: boolean;
  }>;
  targetScore: string | null;
  evaluated: Verdict['evaluated'];
  trainDelta: number | null;
  validationDelta: number | null;
  /** Per-score deltas of the split the verdict rests on. */
  deltas: ScoreDelta[];
  regressionCount: number;
  /** The largest drops (at most LISTED_REGRESSIONS). */
  regressions: RowRegression[];
  rule: DecisionRule;
  accepted: boolean;
  /** Empty when accepted. */
  whyNotAccepted: string[];
  /** What the decision did next: `route <artifact>` or `exit <outcome>`. */
  next: string;
  reason: string;
}

/** Every decided iteration's attempt, in order. */
export function attemptsFrom(
  decisions: ReadonlyArray<{ iteration: number; decision: Decision }>,
  changes: readonly ChangeRecord[],
): AttemptRecord[] {
  return decisions.map(({ iteration, decision: d }) => {
    const mine = changes.filter((c) => c.iteration === iteration);
    const v = d.verdict;
    return {
      iteration,
      routeIds: [...new Set(mine.flatMap((c) => c.routeId.split(',')).filter(Boolean))],
      artifacts: [...new Set(mine.map((c) => c.artifact))],
      changes: mine.map((c) => ({
        id: c.id,
        artifact: c.artifact,
        description: c.description,
        files: c.files,
        ...(c.diffStat ? { diffStat: c.diffStat } : {}),
        ...(c.datasetRows ? { datasetRowsUpserted: c.datasetRows.upserted } : {}),
        reverted: c.reverted !== undefined,
      })),
      targetScore: v.targetScore,
      evaluated: v.evaluated,
      trainDelta: v.trainDelta,
      validationDelta: v.validationDelta,
      deltas: v.deltas,
      regressionCount: v.regressionCount,
      regressions: v.regressions.slice(0, LISTED_REGRESSIONS),
      rule: d.rule,
      accepted: v.acceptChange,
      whyNotAccepted: whyNotAccepted(v),
      next: d.next.kind === 'route' ? `route ${d.next.route}` : `exit ${d.next.outcome}`,
      reason: d.next.reason,
    };
  });
}
