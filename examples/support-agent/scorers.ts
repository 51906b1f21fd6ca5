/**
 * Deterministic code scorers for the support agent. Used by the eval file
 * (eval_support.ts), by the production trace generator (generate-traces.ts), and
 * pushed to Braintrust as code functions (push-scorers.ts).
 *
 * Score columns: correct_category, answer_quality, no_tool_error (all in [0, 1]).
 */

/** The expected value of a case: the category and keywords a good answer contains. */
export interface Expected {
  category?: string;
  keywords?: string[];
  /** Optional reference answer; used for answer_quality when no keywords are given. */
  answer?: string;
}

export interface ScorerArgs {
  input?: unknown;
  output: unknown;
  expected?: unknown;
  metadata?: Record<string, unknown>;
}

export interface ScoreResult {
  name: string;
  score: number | null;
  metadata?: Record<string, unknown>;
}

export const SCORE_NAMES = ['correct_category', 'answer_quality', 'no_tool_error'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

interface OutputLike {
  answer: string;
  category?: string;
  tool_calls?: Array<{ name?: string; error?: unknown }>;
}

function asOutput(output: unknown): OutputLike | undefined {
  if (typeof output === 'string') return { answer: output };
  if (output && typeof output === 'object' && typeof (output as { answer?: unknown }).answer === 'string') {
    return output as OutputLike;
  }
  return undefined;
}

function asExpected(expected: unknown): Expected | undefined {
  if (typeof expected === 'string') return expected.trim() ? { answer: expected } : undefined;
  if (expected && typeof expected === 'object') return expected as Expected;
  return undefined;
}

const STOPWORDS = new Set(['that', 'this', 'with', 'your', 'have', 'from', 'will', 'they', 'them', 'then', 'than', 'what', 'when', 'where', 'which', 'about', 'there', 'their', 'would', 'could', 'should', 'into', 'also', 'just', 'only', 'been', 'were', 'does']);

function contentWords(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[a-z0-9][a-z0-9@.>-]{3,}/g) ?? [])].filter((w) => !STOPWORDS.has(w));
}

/** 1 when the agent's category equals expected.category, else 0 (null when unlabeled). */
export function correct_category({ output, expected }: ScorerArgs): ScoreResult {
  const out = asOutput(output);
  const exp = asExpected(expected);
  if (!exp?.category) return { name: 'correct_category', score: null };
  const actual = out?.category ?? null;
  return {
    name: 'correct_category',
    score: actual !== null && actual.toLowerCase() === exp.category.toLowerCase() ? 1 : 0,
    metadata: { expected: exp.category, actual },
  };
}

/**
 * Fraction of the expected keywords found in the answer (case-insensitive). Without keywords,
 * the fraction of the reference answer's content words found. Null when unlabeled.
 */
export function answer_quality({ output, expected }: ScorerArgs): ScoreResult {
  const out = asOutput(output);
  const exp = asExpected(expected);
  if (!exp) return { name: 'answer_quality', score: null };
  const answer = (out?.answer ?? '').toLowerCase();
  let wanted: string[];
  if (exp.keywords && exp.keywords.length > 0) wanted = exp.keywords;
  else if (exp.answer) wanted = contentWords(exp.answer);
  else return { name: 'answer_quality', score: null };
  if (wanted.length === 0) return { name: 'answer_quality', score: null };
  const missing = wanted.filter((k) => !answer.includes(k.toLowerCase()));
  return {
    name: 'answer_quality',
    score: Math.round(((wanted.length - missing.length) / wanted.length) * 1e6) / 1e6,
    metadata: { missing },
  };
}

/** 1 when no tool call errored, 0 when one did (reference-free; null without an output). */
export function no_tool_error({ output }: ScorerArgs): ScoreResult {
  const out = asOutput(output);
  if (!out) return { name: 'no_tool_error', score: null };
  const failed = (out.tool_calls ?? []).filter((c) => c.error !== undefined && c.error !== null && c.error !== '');
  return {
    name: 'no_tool_error',
    score: failed.length === 0 ? 1 : 0,
    metadata: failed.length ? { errors: failed.map((c) => String(c.error)) } : {},
  };
}

export const SCORERS = [correct_category, answer_quality, no_tool_error] as const;

/** Runs every scorer; returns { score name: value } (null for scorers that could not score). */
export function scoreAll(args: ScorerArgs): Record<ScoreName, number | null> {
  const out = {} as Record<ScoreName, number | null>;
  for (const scorer of SCORERS) {
    const r = scorer(args);
    out[r.name as ScoreName] = r.score;
  }
  return out;
}
