/**
 * Is a score column measuring anything? A column stuck at one value, or split between exactly
 * 0 and exactly 1, is a scorer problem — never evidence about the agent. Pure.
 */
import type { ScoreDistribution } from './evidence.js';

export interface ScorerHealthThresholds {
  /** Fewer values than this: too few to judge the scorer (reported as healthy, with a note). */
  minValues: number;
  /** A single value holding at least this share counts as "stuck". */
  stuckShare: number;
  /** Values at exactly 0 or 1 holding at least this share (both sides present) counts as bimodal. */
  bimodalShare: number;
}

export const SCORER_HEALTH_THRESHOLDS: ScorerHealthThresholds = {
  minValues: 5,
  stuckShare: 0.98,
  bimodalShare: 0.95,
};

export type ScorerProblem = 'stuck_zero' | 'stuck_one' | 'stuck_constant' | 'bimodal' | 'no_values';

export interface ScorerHealth {
  score: string;
  n: number;
  healthy: boolean;
  problem: ScorerProblem | null;
  /** One sentence citing the numbers. */
  detail: string;
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/**
 * Judges one distribution. `binary` marks a scorer that is pass/fail by design (e.g. ExactMatch),
 * for which a 0/1 split and a very high pass rate are expected; a single value over all rows is still a problem.
 */
export function assessScorer(
  d: ScoreDistribution,
  binary = false,
  t: ScorerHealthThresholds = SCORER_HEALTH_THRESHOLDS,
): ScorerHealth {
  const base = { score: d.name, n: d.n };
  if (d.n === 0) {
    return { ...base, healthy: false, problem: 'no_values', detail: `${d.name} produced no values` };
  }
  if (d.n < t.minValues) {
    return { ...base, healthy: true, problem: null, detail: `${d.name}: only ${d.n} values, too few to judge the scorer` };
  }
  // A pass/fail scorer of a good agent passes almost always: for those only a single value is "stuck".
  if (!binary && d.shareZero >= t.stuckShare) {
    return { ...base, healthy: false, problem: 'stuck_zero', detail: `${d.name} is stuck at 0 (${pct(d.shareZero)} of ${d.n} values)` };
  }
  if (!binary && d.shareOne >= t.stuckShare) {
    return { ...base, healthy: false, problem: 'stuck_one', detail: `${d.name} is stuck at 1 (${pct(d.shareOne)} of ${d.n} values)` };
  }
  if (d.distinctValues <= 1) {
    const only = d.shareOne === 1 ? 'stuck_one' : d.shareZero === 1 ? 'stuck_zero' : 'stuck_constant';
    return { ...base, healthy: false, problem: only, detail: `${d.name} has a single value (mean ${d.mean ?? 'n/a'}) over ${d.n} values` };
  }
  const extremes = d.shareZero + d.shareOne;
  if (!binary && extremes >= t.bimodalShare && d.shareZero > 0 && d.shareOne > 0) {
    return {
      ...base,
      healthy: false,
      problem: 'bimodal',
      detail: `${d.name} is split between exactly 0 (${pct(d.shareZero)}) and exactly 1 (${pct(d.shareOne)}) over ${d.n} values`,
    };
  }
  return {
    ...base,
    healthy: true,
    problem: null,
    detail: `${d.name}: ${d.distinctValues} distinct values, ${pct(d.shareZero)} at 0, ${pct(d.shareOne)} at 1 over ${d.n} values`,
  };
}

export function assessScorers(
  ds: readonly ScoreDistribution[],
  binaryScores: readonly string[] = [],
  t: ScorerHealthThresholds = SCORER_HEALTH_THRESHOLDS,
): ScorerHealth[] {
  return [...ds].sort((a, b) => cmp(a.name, b.name)).map((d) => assessScorer(d, binaryScores.includes(d.name), t));
}

/** Locale-independent string order (workflow code must not depend on the host locale). */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Scorer health of a new eval run, judged against the run it is compared with: a scorer that gave
 * different values on the baseline run is demonstrably able to discriminate, so a single value now
 * (every row passes after a fix) is the change working, not a stuck scorer.
 */
export function assessScorersAgainstBaseline(
  next: readonly ScoreDistribution[],
  baseline: readonly ScoreDistribution[],
  binaryScores: readonly string[] = [],
  t: ScorerHealthThresholds = SCORER_HEALTH_THRESHOLDS,
): ScorerHealth[] {
  return assessScorers(next, binaryScores, t).map((h) => {
    const before = baseline.find((b) => b.name === h.score);
    if (h.healthy || h.problem === 'no_values' || h.problem === 'bimodal' || !before || before.distinctValues <= 1) return h;
    return {
      ...h,
      healthy: true,
      problem: null,
      detail: `${h.detail}; it discriminated on the baseline (${before.distinctValues} distinct values over ${before.n}), so this is the change working`,
    };
  });
}
