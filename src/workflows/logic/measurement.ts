/**
 * Measurement-route judgments, pure and table-tested:
 *
 * - `scorersNeedingLabels`: a scorer that compares against ground truth (`expected`) cannot be fixed by editing it
 *   when production carries almost no labels; the route ends with a `label_data` next step instead.
 * - `contradictionFindings`: answers that errored or came back empty but scored high — the score contradicts the
 *   behaviour, so the scorer is the problem (a measurement route), not the agent.
 */
import type { Diagnosis, Finding, Route } from './diagnose.js';

/** Where the scorer behind a measurement route's score lives, as found before the change agent runs. */
export interface ScorerLocation {
  /** The score name the route targets. */
  score: string;
  /**
   * `local`: a source file in the agent's repository mentions it (the change agent edits it there);
   * `braintrust`: only a Braintrust function defines it — pulled into `file` when `editable`;
   * `not_found`: neither (a new scorer has to be written).
   */
  where: 'local' | 'braintrust' | 'not_found';
  /** Local files that mention the score (where = local), relative to the agent directory. */
  localFiles: string[];
  slug?: string;
  functionId?: string;
  /** The Braintrust function's kind: an LLM judge (prompt), inline code, code pushed from elsewhere (bundle). */
  kind?: 'prompt' | 'code_inline' | 'code_bundle' | 'other';
  /** The working file the pulled definition was written to (relative to the agent directory), for the change agent. */
  file?: string;
  editable: boolean;
  /** The definition compares against `expected` (a ground-truth label). */
  readsExpected: boolean;
  note?: string;
}

/** Ground truth in production: root spans in the window, and how many carry an `expected` value. */
export interface LabelCoverage {
  rows: number;
  labeledRows: number;
  windowDays: number;
  query: string;
}

export interface PrepareScorersResult {
  scorers: ScorerLocation[];
  /** Null when no scorer reads `expected` (the query is not run). */
  labels: LabelCoverage | null;
}

export interface LabelThresholds {
  /** A scorer reading `expected` needs labels when fewer than this share of production roots carry one… */
  minLabeledShare: number;
  /** …or fewer than this many do. */
  minLabeledRows: number;
}

export const LABEL_THRESHOLDS: LabelThresholds = { minLabeledShare: 0.2, minLabeledRows: 20 };

export interface LabelRequest {
  score: string;
  slug?: string;
  /** Production roots in the window, and how many carry `expected`. */
  rows: number;
  labeledRows: number;
  windowDays: number;
  reason: string;
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** The targeted scorers that read `expected` while production has too little of it (see LABEL_THRESHOLDS). */
export function scorersNeedingLabels(prep: PrepareScorersResult, t: LabelThresholds = LABEL_THRESHOLDS): LabelRequest[] {
  const cov = prep.labels;
  if (!cov) return [];
  const share = cov.rows > 0 ? cov.labeledRows / cov.rows : 0;
  if (cov.labeledRows >= t.minLabeledRows && share >= t.minLabeledShare) return [];
  return prep.scorers
    .filter((s) => s.readsExpected)
    .map((s) => ({
      score: s.score,
      ...(s.slug ? { slug: s.slug } : {}),
      rows: cov.rows,
      labeledRows: cov.labeledRows,
      windowDays: cov.windowDays,
      reason:
        `${s.score} compares the answer with \`expected\`, but only ${cov.labeledRows} of ${cov.rows} production traces in the last ${cov.windowDays} days ` +
        `carry one (${pct(share)}; needs ≥ ${t.minLabeledRows} and ≥ ${pct(t.minLabeledShare)}): label data before changing the scorer`,
    }))
    .sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : 0));
}

/** Per score: production roots that errored or answered nothing, how many of them it scored, how many high. */
export interface ScoreBehaviour {
  score: string;
  /** Roots with an error that carry this score. */
  erroredScored: number;
  erroredHigh: number;
  /** Roots with no (or an empty) output that carry this score. */
  emptyScored: number;
  emptyHigh: number;
  exampleTraceIds: string[];
}

/** What the score-vs-behaviour check read: the scores that saw errored or empty answers, and the query (null: none ran). */
export interface ScoreBehaviourEvidence {
  scores: ScoreBehaviour[];
  query: string | null;
}

export interface ContradictionThresholds {
  /** A score at or above this on an errored or empty answer contradicts the behaviour. */
  highScore: number;
  /** Contradicting rows needed before it is a finding. */
  minRows: number;
  /** Share of the errored/empty rows that score high needed before it is a finding. */
  minShare: number;
  /** At this share the finding is critical. */
  criticalShare: number;
}

export const CONTRADICTION_THRESHOLDS: ContradictionThresholds = { highScore: 0.8, minRows: 3, minShare: 0.3, criticalShare: 0.8 };

export interface Contradictions {
  findings: Finding[];
  routes: Route[];
}

/**
 * Findings and measurement routes for scores that rate errored or empty answers high. A pass/fail score declared
 * binary is judged the same way: an error that passes is a contradiction whatever the scale.
 */
export function contradictionFindings(
  evidence: ScoreBehaviourEvidence,
  window: { from: string; to: string; days: number },
  t: ContradictionThresholds = CONTRADICTION_THRESHOLDS,
): Contradictions {
  const findings: Finding[] = [];
  const routes: Route[] = [];
  for (const r of [...evidence.scores].sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : 0))) {
    const bad = r.erroredScored + r.emptyScored;
    const high = r.erroredHigh + r.emptyHigh;
    if (bad <= 0 || high < t.minRows) continue;
    const share = high / bad;
    if (share < t.minShare) continue;
    const parts = [
      ...(r.erroredScored ? [`${r.erroredHigh} of ${r.erroredScored} errored answers`] : []),
      ...(r.emptyScored ? [`${r.emptyHigh} of ${r.emptyScored} empty answers`] : []),
    ];
    const detail = `${r.score} scores ${parts.join(' and ')} at or above ${t.highScore} (${pct(share)} of ${bad}) in the ${window.days}-day window: the score contradicts the behaviour`;
    const f: Finding = {
      id: `quality:${r.score}:contradicts_behaviour`,
      plane: 'quality',
      severity: share >= t.criticalShare ? 'critical' : 'warning',
      title: `Scorer ${r.score} rates errored or empty answers high`,
      detail,
      counts: { errored_scored: r.erroredScored, errored_high: r.erroredHigh, empty_scored: r.emptyScored, empty_high: r.emptyHigh },
      window,
      exampleTraceIds: r.exampleTraceIds.slice(0, 5),
      query: evidence.query ?? '',
    };
    findings.push(f);
    routes.push({
      id: `measurement:score:${r.score}`,
      artifact: 'measurement',
      title: `Fix the ${r.score} scorer`,
      rationale: `${detail}; a scorer that passes failures hides them, so this is a scorer problem, not an agent problem.`,
      evidence: [detail],
      counterevidence: [],
      confidence: high >= 30 ? 'high' : 'medium',
      targets: [{ kind: 'score', name: r.score }],
      findingIds: [f.id],
      exampleTraceIds: r.exampleTraceIds.slice(0, 5),
    });
  }
  return { findings, routes };
}

/**
 * The diagnosis with the contradiction findings and routes folded in: a route of the same id (the scorer is also
 * stuck or bimodal) gains the evidence; a new one goes after the other measurement routes (measurement first); a
 * "nothing to do" plan is replaced. Nothing else changes.
 */
export function withContradictions(d: Diagnosis, c: Contradictions): Diagnosis {
  if (!c.findings.length) return d;
  const known = new Set(d.findings.map((f) => f.id));
  const findings = [...d.findings, ...c.findings.filter((f) => !known.has(f.id))];
  let routes = d.routes.filter((r) => r.artifact !== 'none');
  for (const add of c.routes) {
    const same = routes.find((r) => r.id === add.id);
    if (same) {
      routes = routes.map((r) =>
        r === same
          ? {
              ...r,
              evidence: [...r.evidence, ...add.evidence],
              findingIds: [...new Set([...r.findingIds, ...add.findingIds])],
              exampleTraceIds: [...new Set([...r.exampleTraceIds, ...add.exampleTraceIds])].slice(0, 5),
            }
          : r,
      );
      continue;
    }
    const at = routes.findIndex((r) => r.artifact !== 'measurement');
    routes = at < 0 ? [...routes, add] : [...routes.slice(0, at), add, ...routes.slice(at)];
  }
  return { ...d, findings, routes };
}
