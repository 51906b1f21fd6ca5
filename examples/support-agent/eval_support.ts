/**
 * Eval for the support agent, run with `bt eval examples/support-agent/eval_support.ts`.
 *
 * Environment:
 *   BRAINTRUST_DEFAULT_PROJECT  project name (default "support-agent"; bt sets it from -p)
 *   FLYWHEEL_AGENT_DIR          agent source dir to evaluate (default ./src, relative to this file)
 *   FLYWHEEL_EVAL_DATASET       optional Braintrust dataset whose rows are added to the golden cases
 *   FLYWHEEL_EVAL_SPLIT         train | validation | all (default all): filters dataset rows by metadata.split;
 *                               `--param split=validation` and `-- --split validation` override it
 *   FLYWHEEL_EVAL_GOLDEN        set to 0/false to leave out the golden cases (cases.json)
 *   FLYWHEEL_EXPERIMENT_NAME    experiment name
 *   FLYWHEEL_RUN_MODE           set by the flywheel (smoke, before, full…): recorded as experiment metadata.flywheel_run
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Eval, initDataset, type EvalCase } from 'braintrust';
import { EXAMPLE_DIR, loadAgent, resolveAgentDir, type AgentModule } from './load-agent.js';
import { answer_quality, correct_category, no_tool_error, type Expected } from './scorers.js';
import type { AgentInput, AgentOutput } from './src/agent.js';

type Metadata = Record<string, unknown>;
type Case = EvalCase<AgentInput, Expected, Metadata>;

const projectName = process.env.BRAINTRUST_DEFAULT_PROJECT?.trim() || 'support-agent';
const datasetName = process.env.FLYWHEEL_EVAL_DATASET?.trim() || undefined;
const includeGolden = !/^(0|false|no)$/i.test(process.env.FLYWHEEL_EVAL_GOLDEN?.trim() ?? '');

function splitFromArgs(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--split' || a.startsWith('--split='));
  if (i < 0) return undefined;
  const a = argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}

/** `bt eval --param split=validation` reaches the runner as BT_EVAL_PARAMS_JSON. */
function splitFromParams(): string | undefined {
  try {
    const params = JSON.parse(process.env.BT_EVAL_PARAMS_JSON ?? '{}') as Record<string, unknown>;
    return typeof params.split === 'string' ? params.split : undefined;
  } catch {
    return undefined;
  }
}

const split =
  (splitFromArgs(process.argv.slice(2)) ?? splitFromParams() ?? process.env.FLYWHEEL_EVAL_SPLIT ?? 'all').trim().toLowerCase() || 'all';

function goldenCases(): Case[] {
  const raw = JSON.parse(readFileSync(join(EXAMPLE_DIR, 'cases.json'), 'utf8')) as Array<{
    id: string;
    input: AgentInput;
    expected: Expected;
    metadata?: Metadata;
  }>;
  return raw.map((c) => ({ id: c.id, input: c.input, expected: c.expected, metadata: { ...c.metadata, source: 'golden' } }));
}

function toInput(input: unknown): AgentInput | undefined {
  if (typeof input === 'string') return { question: input };
  if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>;
    const question = o.question ?? o.message ?? o.query;
    if (typeof question !== 'string') return undefined;
    return {
      question,
      ...(typeof o.customer_tier === 'string' ? { customer_tier: o.customer_tier } : {}),
      ...(typeof o.locale === 'string' ? { locale: o.locale } : {}),
    };
  }
  return undefined;
}

function isLabeled(expected: unknown): expected is Expected | string {
  if (expected === null || expected === undefined) return false;
  if (typeof expected === 'string') return expected.trim().length > 0;
  if (typeof expected === 'object') return Object.keys(expected).length > 0;
  return false;
}

async function datasetCases(): Promise<Case[]> {
  if (!datasetName) return [];
  const dataset = initDataset({ project: projectName, dataset: datasetName });
  const out: Case[] = [];
  for await (const row of dataset) {
    const metadata = (row.metadata ?? {}) as Metadata;
    if (split !== 'all' && String(metadata.split ?? '').toLowerCase() !== split) continue;
    if (!isLabeled(row.expected)) continue; // unlabeled rows cannot be scored
    const input = toInput(row.input);
    if (!input) continue;
    const expected: Expected = typeof row.expected === 'string' ? { answer: row.expected } : (row.expected as Expected);
    out.push({ id: row.id, input, expected, metadata: { ...metadata, source: 'dataset', dataset: datasetName } });
  }
  return out;
}

let agentPromise: Promise<AgentModule> | undefined;
const agent = (): Promise<AgentModule> => (agentPromise ??= loadAgent());

Eval<AgentInput, AgentOutput, Expected, Metadata>(projectName, {
  data: async () => [...(includeGolden ? goldenCases() : []), ...(await datasetCases())],
  task: async (input) => (await agent()).answer(input),
  scores: [correct_category, answer_quality, no_tool_error],
  ...(process.env.FLYWHEEL_EXPERIMENT_NAME?.trim() ? { experimentName: process.env.FLYWHEEL_EXPERIMENT_NAME.trim() } : {}),
  metadata: {
    // Set by the flywheel for the experiments it runs (smoke, before, full…): it skips them when picking a baseline.
    ...(process.env.FLYWHEEL_RUN_MODE?.trim() ? { flywheel_run: process.env.FLYWHEEL_RUN_MODE.trim() } : {}),
    agent_dir: resolveAgentDir(),
    dataset: datasetName ?? null,
    split,
    golden_cases: includeGolden,
  },
  maxConcurrency: 8,
});
