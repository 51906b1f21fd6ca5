/**
 * Verify & Decide: eval results in, a verdict and the next step out.
 * Pure — the activities compute the inputs (evals, per-row files), the workflow calls this.
 *
 * The routing table is the seed's, in priority order. Regressions never end in `improved`;
 * a change that improves train but not validation is overfitting and is not accepted;
 * after `maxIterations` loops without a clean exit the run stops (`no_convergence`).
 */
import type { ChangeArtifact, EvalResult, EvalSplit, RowComparison, RowRegression, RowScores, ScoreRowCounts } from './evidence.js';
import type { Confidence } from './diagnose.js';
import { cmp, type ScorerHealth } from './scorer-health.js';

export type Outcome = 'healthy' | 'improved' | 'needs_work' | 'blocked' | 'no_convergence';
export const OUTCOMES: readonly Outcome[] = ['healthy', 'improved', 'needs_work', 'blocked', 'no_convergence'];

export const DEFAULT_MAX_ITERATIONS = 3;
export const DEFAULT_REGRESSION_TOLERANCE = 0.1;

/** Which row of the routing table fired; recorded in history and the handoff. */
export type DecisionRule =
  | 'production_healthy'
  | 'no_eval_results'
  | 'smoke_failed'
  | 'smoke_only'
  | 'unmeasured_failure'
  | 'scorer_unhealthy'
  | 'instrumentation_blocked'
  | 'new_failure_pattern'
  | 'validation_not_train'
  | 'overfitting'
  | 'agent_change_no_effect'
  | 'improved_new_edge_cases'
  | 'dataset_gaps_remain'
  | 'improved_with_regressions'
  | 'improved'
  | 'measurement_changed_agent_next'
  | 'nothing_changed';

export interface DecideOptions {
  /** A target-score delta above this counts as improvement. */
  minImprovement: number;
  /** A smoke target mean at or below this is "near zero". */
  smokeNearZero: number;
  /** Smoke rows erroring at or above this share: structurally broken. */
  smokeMaxErrorShare: number;
  /** Regressions listed in the verdict (all are counted). */
  maxListedRegressions: number;
  /** Eval rows (and joined rows) needed for a `high`-confidence verdict. */
  highConfidenceRows: number;
}

export const DECIDE_OPTIONS: DecideOptions = {
  minImprovement: 0.01,
  smokeNearZero: 0.05,
  smokeMaxErrorShare: 0.5,
  maxListedRegressions: 20,
  highConfidenceRows: 30,
};

export interface IterationRecord {
  iteration: number;
  improved: boolean;
}

export interface DecideInput {
  /** The loop iteration being decided, 1-based. */
  iteration: number;
  maxIterations?: number;
  /** The goal score; default: the first score (by name) both runs share. */
  targetScore: string | null;
  smoke: EvalResult | null;
  full: { train?: EvalResult | null; validation?: EvalResult | null };
  /** The pinned baseline experiment. */
  baseline: EvalResult | null;
  /** Baseline evaluated per split, when available; preferred over `baseline` for that split's delta. */
  baselineSplits?: { train?: EvalResult | null; validation?: EvalResult | null };
  /** Per-row join of baseline vs the new full run. */
  comparison: RowComparison | null;
  /** Scorer health on the new run's distributions (see `assessScorers`). */
  scorerHealth: ScorerHealth[];
  newFailurePatterns: string[];
  /** Eval-discovered cases the datasets do not cover. */
  remainingGaps: string[];
  changesMade: ReadonlyArray<{ artifact: ChangeArtifact }>;
  /** Production failures no scorer measures. */
  unmeasuredFailures?: string[];
  /** Reasons the traces cannot support diagnosis. */
  instrumentationGaps?: string[];
  /** Diagnose found nothing actionable. */
  productionHealthy?: boolean;
  /** Earlier iterations of this run. */
  history?: IterationRecord[];
  options?: Partial<DecideOptions>;
}

export interface ScoreDelta {
  score: string;
  split: EvalSplit;
  baseline: number | null;
  new: number | null;
  delta: number | null;
}

export interface Verdict {
  targetScore: string | null;
  /** What the verdict rests on. */
  evaluated: 'full' | 'smoke' | 'none';
  deltas: ScoreDelta[];
  trainDelta: number | null;
  validationDelta: number | null;
  improved: boolean;
  regressionCount: number;
  regressions: RowRegression[];
  scorerHealthy: boolean;
  scorerHealth: ScorerHealth[];
  newFailurePatterns: string[];
  remainingGaps: string[];
  overfitting: boolean;
  /** Keep the change (and promote the new experiment to baseline). */
  acceptChange: boolean;
  confidence: Confidence;
  notes: string[];
}

export type NextStep =
  | { kind: 'exit'; outcome: Outcome; reason: string }
  | { kind: 'route'; route: ChangeArtifact; reason: string; /** Run a focused Discover first. */ rediscover: boolean };

export interface Decision {
  rule: DecisionRule;
  /** True when the iteration limit turned a route into an exit. */
  stoppedAtLimit: boolean;
  verdict: Verdict;
  next: NextStep;
}

export interface LoopState {
  iteration: number;
  maxIterations: number;
  remaining: number;
  /** No further iteration may start after this one. */
  exhausted: boolean;
  next: number;
}

/** Iteration counting, 1-based: iteration 3 of 3 is the last. */
export function loopArithmetic(iteration: number, maxIterations: number = DEFAULT_MAX_ITERATIONS): LoopState {
  if (!Number.isInteger(iteration) || iteration < 1) throw new RangeError(`iteration must be a positive integer, got ${iteration}`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new RangeError(`maxIterations must be a positive integer, got ${maxIterations}`);
  const remaining = Math.max(0, maxIterations - iteration);
  return { iteration, maxIterations, remaining, exhausted: remaining === 0, next: iteration + 1 };
}

const round = (x: number): number => Math.round(x * 10000) / 10000;
const fmt = (x: number | null): string => (x == null ? 'n/a' : String(round(x)));
const signed = (x: number | null): string => (x == null ? 'n/a' : `${x >= 0 ? '+' : ''}${round(x)}`);

/**
 * Joins two runs' rows by key and classifies every joined row. A regression is a row whose
 * score DROPS from the baseline by more than `tolerance` — not a row that is merely below 0.5.
 * Duplicate keys within a run (trials) are averaged per score.
 */
export function compareRows(
  baselineRows: readonly RowScores[],
  newRows: readonly RowScores[],
  tolerance: number = DEFAULT_REGRESSION_TOLERANCE,
  scores?: readonly string[],
): RowComparison {
  const base = collapse(baselineRows);
  const next = collapse(newRows);
  const names =
    scores && scores.length
      ? [...scores].sort(cmp)
      : [...new Set([...base.values()].flatMap((r) => Object.keys(r.scores)))].filter((n) => [...next.values()].some((r) => n in r.scores)).sort(cmp);
  const perScore: Record<string, ScoreRowCounts> = {};
  for (const n of names) perScore[n] = { improved: 0, regressed: 0, unchanged: 0 };
  const regressions: RowRegression[] = [];
  let improved = 0;
  let regressed = 0;
  let unchanged = 0;
  let joined = 0;
  for (const key of [...base.keys()].sort(cmp)) {
    const b = base.get(key)!;
    const n = next.get(key);
    if (!n) continue;
    joined++;
    let up = false;
    let down = false;
    for (const s of names) {
      const bv = b.scores[s];
      const nv = n.scores[s];
      const counts = perScore[s]!;
      if (bv == null || nv == null) continue;
      const delta = nv - bv;
      if (delta < -tolerance) {
        counts.regressed++;
        down = true;
        regressions.push({
          key,
          rowId: n.rowId,
          ...(n.traceId ? { traceId: n.traceId } : {}),
          score: s,
          baseline: round(bv),
          new: round(nv),
          delta: round(delta),
        });
      } else if (delta > tolerance) {
        counts.improved++;
        up = true;
      } else counts.unchanged++;
    }
    if (down) regressed++;
    else if (up) improved++;
    else unchanged++;
  }
  regressions.sort((a, b) => a.delta - b.delta || cmp(a.key, b.key) || cmp(a.score, b.score));
  const onlyBaseline = [...base.keys()].filter((k) => !next.has(k)).length;
  const onlyNew = [...next.keys()].filter((k) => !base.has(k)).length;
  return { tolerance, joined, onlyBaseline, onlyNew, improved, regressed, unchanged, perScore, regressions };
}

function collapse(rows: readonly RowScores[]): Map<string, RowScores> {
  const acc = new Map<string, { row: RowScores; sums: Record<string, [number, number]> }>();
  for (const r of rows) {
    const entry = acc.get(r.key) ?? { row: r, sums: {} };
    for (const [s, v] of Object.entries(r.scores)) {
      if (v == null || !Number.isFinite(v)) continue;
      const [sum, n] = entry.sums[s] ?? [0, 0];
      entry.sums[s] = [sum + v, n + 1];
    }
    acc.set(r.key, entry);
  }
  const out = new Map<string, RowScores>();
  for (const [key, { row, sums }] of acc) {
    const scores: Record<string, number | null> = {};
    for (const s of Object.keys(row.scores)) scores[s] = null;
    for (const [s, [sum, n]] of Object.entries(sums)) scores[s] = sum / n;
    out.set(key, { key, rowId: row.rowId, ...(row.traceId ? { traceId: row.traceId } : {}), scores });
  }
  return out;
}

export interface SmokeCheck {
  ok: boolean;
  problem: 'empty' | 'errors' | 'missing_score' | 'near_zero' | null;
  reason: string;
}

/** Smoke gate before any full eval: near zero or structurally broken → back to Improve. */
export function checkSmoke(smoke: EvalResult, targetScore: string | null, options: Partial<DecideOptions> = {}): SmokeCheck {
  const o = { ...DECIDE_OPTIONS, ...options };
  if (smoke.rowCount === 0) return { ok: false, problem: 'empty', reason: `smoke eval ${smoke.experimentName} produced no rows` };
  const errShare = smoke.errorCount / smoke.rowCount;
  if (errShare >= o.smokeMaxErrorShare) {
    return { ok: false, problem: 'errors', reason: `smoke eval ${smoke.experimentName}: ${smoke.errorCount} of ${smoke.rowCount} rows errored` };
  }
  const target = targetScore ?? Object.keys(smoke.scores).sort(cmp)[0] ?? null;
  const mean = target == null ? null : smoke.scores[target];
  if (target == null || mean == null) {
    return { ok: false, problem: 'missing_score', reason: `smoke eval ${smoke.experimentName} has no values for ${target ?? 'any score'}` };
  }
  if (mean <= o.smokeNearZero) {
    return { ok: false, problem: 'near_zero', reason: `smoke eval ${smoke.experimentName}: ${target} mean ${fmt(mean)} is near zero (≤ ${o.smokeNearZero})` };
  }
  return { ok: true, problem: null, reason: `smoke eval ${smoke.experimentName}: ${target} mean ${fmt(mean)} over ${smoke.rowCount} rows` };
}

function resolveTarget(input: DecideInput, runs: readonly EvalResult[]): string | null {
  if (input.targetScore) return input.targetScore;
  const ref = input.baseline ?? runs[0];
  if (!ref) return null;
  const shared = Object.keys(ref.scores).filter((s) => runs.every((r) => s in r.scores));
  return shared.sort(cmp)[0] ?? null;
}

function delta(base: EvalResult | null | undefined, run: EvalResult | null | undefined, score: string | null): number | null {
  if (!base || !run || score == null) return null;
  const b = base.scores[score];
  const n = run.scores[score];
  return b == null || n == null ? null : n - b;
}

export function decide(input: DecideInput): Decision {
  const o: DecideOptions = { ...DECIDE_OPTIONS, ...input.options };
  const loop = loopArithmetic(input.iteration, input.maxIterations ?? DEFAULT_MAX_ITERATIONS);
  const train = input.full.train ?? null;
  const validation = input.full.validation ?? null;
  const smoke = input.smoke;
  const runs = [validation, train, smoke].filter((r): r is EvalResult => r != null);
  const target = resolveTarget(input, runs);
  const changed = input.changesMade.map((c) => c.artifact);
  const lastChanged: ChangeArtifact = changed[changed.length - 1] ?? 'agent';
  const everImproved = (input.history ?? []).some((h) => h.improved);
  const notes: string[] = [];

  // What the verdict rests on: validation, else train, else smoke.
  const primary = validation ?? train ?? smoke ?? null;
  const evaluated: Verdict['evaluated'] = validation || train ? 'full' : smoke ? 'smoke' : 'none';
  const baseFor = (split: 'train' | 'validation'): EvalResult | null => input.baselineSplits?.[split] ?? input.baseline;
  const trainRun = train ?? (validation ? null : smoke);
  const trainDelta = delta(baseFor('train'), trainRun, target);
  const validationDelta = delta(baseFor('validation'), validation, target);
  const deltas: ScoreDelta[] = [];
  if (primary) {
    const base = primary === validation ? baseFor('validation') : baseFor('train');
    const names = [...new Set([...Object.keys(base?.scores ?? {}), ...Object.keys(primary.scores)])].sort(cmp);
    for (const s of names) {
      const b = base?.scores[s] ?? null;
      const n = primary.scores[s] ?? null;
      deltas.push({ score: s, split: primary.split, baseline: b, new: n, delta: b == null || n == null ? null : round(n - b) });
    }
  }
  const headline = validation ? validationDelta : trainDelta;
  const improved = headline != null && headline > o.minImprovement;
  const overfitting =
    train != null && validation != null && trainDelta != null && validationDelta != null && trainDelta > o.minImprovement && validationDelta <= o.minImprovement;
  const valNotTrain =
    train != null && validation != null && trainDelta != null && validationDelta != null && validationDelta > o.minImprovement && trainDelta <= o.minImprovement;
  const regressionCount = input.comparison?.regressed ?? 0;
  const scorerHealthy = input.scorerHealth.every((h) => h.healthy);
  // A change that brings a failure shape the baseline never had is not accepted, whatever the mean did.
  const acceptChange = evaluated === 'full' && improved && regressionCount === 0 && !overfitting && scorerHealthy && input.newFailurePatterns.length === 0;

  const rows = primary?.rowCount ?? 0;
  const joined = input.comparison?.joined ?? 0;
  let confidence: Confidence = 'low';
  if (evaluated === 'full') {
    confidence =
      validation && rows >= o.highConfidenceRows && joined >= o.highConfidenceRows && scorerHealthy ? 'high' : rows >= o.highConfidenceRows / 3 ? 'medium' : 'low';
  }
  if (evaluated === 'smoke') notes.push('verdict rests on the smoke eval only');
  if (!input.baseline) notes.push('no baseline experiment: deltas are unavailable');
  if (input.comparison && input.comparison.onlyNew + input.comparison.onlyBaseline > 0) {
    notes.push(`${input.comparison.onlyNew} rows only in the new run and ${input.comparison.onlyBaseline} only in the baseline were not compared`);
  }

  const verdict: Verdict = {
    targetScore: target,
    evaluated,
    deltas,
    trainDelta: trainDelta == null ? null : round(trainDelta),
    validationDelta: validationDelta == null ? null : round(validationDelta),
    improved,
    regressionCount,
    regressions: (input.comparison?.regressions ?? []).slice(0, o.maxListedRegressions),
    scorerHealthy,
    scorerHealth: input.scorerHealth,
    newFailurePatterns: input.newFailurePatterns,
    remainingGaps: input.remainingGaps,
    overfitting,
    acceptChange,
    confidence,
    notes,
  };

  const exit = (rule: DecisionRule, outcome: Outcome, reason: string): Decision => ({
    rule,
    stoppedAtLimit: false,
    verdict,
    next: { kind: 'exit', outcome, reason },
  });
  const route = (rule: DecisionRule, to: ChangeArtifact, reason: string, rediscover = false): Decision => {
    if (loop.exhausted) {
      const outcome: Outcome = improved || everImproved ? 'needs_work' : 'no_convergence';
      return {
        rule,
        stoppedAtLimit: true,
        verdict,
        next: {
          kind: 'exit',
          outcome,
          reason: `${reason}; iteration ${loop.iteration} of ${loop.maxIterations} reached, so the run stops (${outcome === 'no_convergence' ? `${target ?? 'the target'} did not improve` : 'improved but not cleanly'}) instead of routing to ${to}`,
        },
      };
    }
    return { rule, stoppedAtLimit: false, verdict, next: { kind: 'route', route: to, reason, rediscover } };
  };
  const deltaText = `${target ?? 'target'} ${signed(headline)} (train ${signed(trainDelta)}, validation ${signed(validationDelta)})`;

  if (input.productionHealthy && changed.length === 0) {
    return exit('production_healthy', 'healthy', 'Diagnose found nothing actionable and nothing was changed');
  }
  if (evaluated === 'none') {
    return exit(
      'no_eval_results',
      changed.length ? 'blocked' : 'needs_work',
      changed.length ? `${changed.length} change(s) made but no eval could verify them` : 'nothing was changed or evaluated',
    );
  }
  if (smoke && evaluated === 'smoke') {
    const sc = checkSmoke(smoke, target, o);
    if (!sc.ok) return route('smoke_failed', lastChanged, `${sc.reason}; back to Improve (${lastChanged}) without a full eval`);
    return exit('smoke_only', 'blocked', `${sc.reason}; the smoke eval passed but no full eval result exists, so the change cannot be verified`);
  }

  const unmeasured = input.unmeasuredFailures ?? [];
  if (unmeasured.length) return route('unmeasured_failure', 'measurement', `production failure is real but unmeasured: ${unmeasured.join('; ')}`);
  const sick = input.scorerHealth.filter((h) => !h.healthy);
  if (sick.length) return route('scorer_unhealthy', 'measurement', `scorer distribution is wrong: ${sick.map((h) => h.detail).join('; ')}`);
  const inst = input.instrumentationGaps ?? [];
  if (inst.length) return route('instrumentation_blocked', 'instrumentation', `trace data cannot support diagnosis: ${inst.join('; ')}`);
  if (input.newFailurePatterns.length) {
    return route('new_failure_pattern', 'dataset', `new failure pattern(s) not in the datasets: ${input.newFailurePatterns.join('; ')}; focused Discover first`, true);
  }
  if (valNotTrain) return route('validation_not_train', 'dataset', `${deltaText}: improved on validation but not on train; expand the training set`);
  if (overfitting) {
    const to: ChangeArtifact = changed.includes('agent') ? 'agent' : 'dataset';
    return route(
      'overfitting',
      to,
      `${deltaText}: train improved but validation did not — overfitting to the training rows; the change is not accepted`,
    );
  }
  if (!improved && changed.includes('agent')) {
    return route(
      'agent_change_no_effect',
      'agent',
      `${deltaText}: the metric did not move despite an agent change${regressionCount ? ` and ${regressionCount} rows regressed` : ''}; find a different fix`,
    );
  }
  if (improved && input.remainingGaps.length) {
    return route('improved_new_edge_cases', 'dataset', `${deltaText} and new edge cases were found: ${input.remainingGaps.join('; ')}`);
  }
  if (input.remainingGaps.length) {
    return route('dataset_gaps_remain', 'dataset', `datasets do not cover eval-discovered cases: ${input.remainingGaps.join('; ')}`);
  }
  if (improved && regressionCount > 0) {
    const worst = verdict.regressions[0];
    return route(
      'improved_with_regressions',
      'agent',
      `${deltaText}, but ${regressionCount} rows regressed${worst ? ` (worst ${worst.rowId}: ${worst.score} ${fmt(worst.baseline)} → ${fmt(worst.new)})` : ''}; regressions must be fixed before the change is accepted`,
    );
  }
  if (improved) {
    return exit('improved', 'improved', `${deltaText}, no regressions, scorers healthy`);
  }
  if (changed.length) {
    return route(
      'measurement_changed_agent_next',
      'agent',
      `${deltaText}: only ${[...new Set(changed)].join('/')} changed; now that the failure is measured, change the agent`,
    );
  }
  return exit('nothing_changed', input.productionHealthy ? 'healthy' : 'needs_work', `${deltaText}: nothing was changed this iteration`);
}
