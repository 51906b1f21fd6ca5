/**
 * `bt eval --jsonl` (the braintrust JS SDK in a child process) against the local server: login,
 * dataset register + fetch, experiment register, /logs3, base experiment and experiment-comparison2.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServerHandle, startLocalServer } from '../src/local-server/index.js';
import { packageRoot } from '../src/paths.js';
import { apiClient, type BtRunner, makeBtRunner } from './support/local-server-bt.js';

interface Summary {
  projectName: string;
  experimentName: string;
  experimentId: string | null;
  comparisonExperimentName: string | null;
  scores: Record<string, { name: string; score: number; diff: number | null; improvements: number; regressions: number }>;
  metrics: Record<string, { metric: number; unit: string }>;
}

let tmp: string;
let evalDir: string;
let server: LocalServerHandle;
let bt: BtRunner;
const PROJECT = 'eval-proj';

const EVAL_FILE = `import { Eval, initDataset } from "braintrust";
const mode = process.env.EVAL_MODE ?? "good";
Eval(${JSON.stringify(PROJECT)}, {
  experimentName: "upper-" + mode,
  data: initDataset(${JSON.stringify(PROJECT)}, { dataset: "cases" }),
  task: async (input: { text: string }) =>
    mode === "good" || input.text === "abc" ? input.text.toUpperCase() : input.text,
  scores: [
    ({ output, expected }) => ({ name: "exact", score: output === expected ? 1 : 0 }),
    ({ output }) => ({ name: "nonempty", score: String(output).length > 0 ? 1 : 0 }),
  ],
});
`;

async function runEval(mode: string): Promise<{ summary: Summary; exitCode: number; stderr: string }> {
  const r = await bt.run(['eval', '--jsonl', join(evalDir, 'eval_upper.ts')], { cwd: evalDir, env: { EVAL_MODE: mode }, timeoutMs: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{') && 'experimentName' in (JSON.parse(l) as object));
  if (!line) throw new Error(`no summary line (exit ${r.exitCode}): ${r.stderr}\n${r.stdout}`);
  return { summary: JSON.parse(line) as Summary, exitCode: r.exitCode, stderr: r.stderr };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'local-server-eval-'));
  // The eval file must resolve `braintrust` (and bt finds tsx next to it), so it lives inside the repo.
  evalDir = mkdtempSync(join(packageRoot, 'test', '.tmp-local-server-eval-'));
  symlinkSync(join(packageRoot, 'node_modules'), join(evalDir, 'node_modules'));
  writeFileSync(join(evalDir, 'eval_upper.ts'), EVAL_FILE);
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'eval.duckdb') });
  bt = makeBtRunner(server.btEnv(), join(tmp, 'bt'));
  const api = apiClient(server.apiUrl, server.apiKey);
  await api('POST', '/v1/project', { name: PROJECT });
  const rows = ['hello', 'abc', 'xyz', 'flywheel'].map((t, i) => ({ id: `case-${i}`, input: { text: t }, expected: t.toUpperCase() }));
  const created = await bt.run(['datasets', 'create', 'cases', '-p', PROJECT, '--json', '--rows', JSON.stringify(rows)]);
  if (created.exitCode !== 0) throw new Error(created.stderr);
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
  if (evalDir) rmSync(evalDir, { recursive: true, force: true });
});

describe('bt eval against the local server', () => {
  let baseline: Summary;

  it('records an experiment with the dataset rows and reports server-computed scores', async () => {
    const { summary, exitCode, stderr } = await runEval('good');
    expect(exitCode, stderr).toBe(0);
    baseline = summary;
    expect(summary).toMatchObject({ projectName: PROJECT, experimentName: 'upper-good', comparisonExperimentName: null });
    expect(summary.experimentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(summary.scores.exact!.score).toBe(1);
    expect(summary.scores.nonempty!.score).toBe(1);
    expect(summary.metrics.duration!.unit).toBe('s');

    const roots = await bt.json<{ data: Array<Record<string, unknown>> }>([
      'sql', '--json',
      `SELECT input, output, expected, origin FROM experiment('${summary.experimentId}') WHERE is_root ORDER BY output LIMIT 100`,
    ]);
    expect(roots.data.map((r) => r.output)).toEqual(['ABC', 'FLYWHEEL', 'HELLO', 'XYZ']);
    expect(roots.data.every((r) => (r.origin as { object_type?: string }).object_type === 'dataset')).toBe(true);
    // Scores live on the scorer spans; the summary shape carries them per trace.
    const summaryRows = await bt.json<{ data: Array<Record<string, unknown>> }>([
      'sql', '--json',
      `SELECT output, scores FROM experiment('${summary.experimentId}', shape => 'summary') ORDER BY output LIMIT 100`,
    ]);
    expect(summaryRows.data[0]).toEqual({ output: 'ABC', scores: { exact: 1, nonempty: 1 } });
    const exps = await bt.json<Array<{ id: string; dataset_id: string | null }>>(['experiments', 'list', '-p', PROJECT, '--json']);
    expect(exps[0]!.id).toBe(summary.experimentId);
    expect(exps[0]!.dataset_id).toBeTruthy();
  });

  it('compares a second run with the first (diff, improvements, regressions per matching input)', async () => {
    const { summary, exitCode, stderr } = await runEval('bad');
    expect(exitCode, stderr).toBe(0);
    expect(summary.experimentName).toBe('upper-bad');
    expect(summary.experimentId).not.toBe(baseline.experimentId);
    expect(summary.comparisonExperimentName).toBe('upper-good');
    // Only "abc" is still upper-cased: 1/4 exact, 3 rows regressed, none improved.
    expect(summary.scores.exact).toMatchObject({ name: 'exact', score: 0.25, improvements: 0, regressions: 3 });
    expect(summary.scores.exact!.diff).toBeCloseTo(-0.75, 10);
    expect(summary.scores.nonempty).toMatchObject({ score: 1, diff: 0, improvements: 0, regressions: 0 });
    const stats = await bt.json<{ data: Array<Record<string, unknown>> }>([
      'sql', '--json', `SELECT AVG(scores.exact) AS avg_exact, COUNT(scores.exact) AS n FROM experiment('${summary.experimentId}')`,
    ]);
    expect(stats.data).toEqual([{ avg_exact: 0.25, n: 4 }]);
  });
});
