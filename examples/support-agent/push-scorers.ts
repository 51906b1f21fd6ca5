/**
 * Code scorers for `bt functions push`:
 *
 *   bt functions push -p support-agent --file examples/support-agent/push-scorers.ts
 *
 * Registers the same deterministic scorers the eval uses (./scorers.ts), so online
 * scoring of production logs and offline evals share one definition.
 */
import { projects } from 'braintrust';
import { answer_quality, correct_category, no_tool_error, type ScorerArgs } from './scorers.js';

const project = projects.create({ name: process.env.BRAINTRUST_DEFAULT_PROJECT?.trim() || 'support-agent' });

type Args = { input?: unknown; output: unknown; expected?: unknown; metadata?: Record<string, unknown> };

const wrap = (fn: (args: ScorerArgs) => { score: number | null; metadata?: Record<string, unknown> }) =>
  (args: Args): { score: number | null; metadata?: Record<string, unknown> } => {
    const r = fn(args);
    return r.metadata ? { score: r.score, metadata: r.metadata } : { score: r.score };
  };

project.scorers.create({
  name: 'correct_category',
  slug: 'support-agent-correct-category',
  description: "1 when the agent's category equals expected.category, else 0 (null when unlabeled).",
  handler: wrap(correct_category),
  ifExists: 'replace',
});

project.scorers.create({
  name: 'answer_quality',
  slug: 'support-agent-answer-quality',
  description: 'Fraction of expected.keywords present in output.answer (case-insensitive), in [0, 1].',
  handler: wrap(answer_quality),
  ifExists: 'replace',
});

project.scorers.create({
  name: 'no_tool_error',
  slug: 'support-agent-no-tool-error',
  description: 'Reference-free: 1 when no tool call (lookup_order) errored, else 0.',
  handler: wrap(no_tool_error),
  ifExists: 'replace',
});
