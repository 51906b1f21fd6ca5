/**
 * `flywheel run --example python` (built CLI, embedded defaults): the Python travel agent of
 * examples/travel-agent end to end — generated traces and the hand-made dataset seeded, the eval run by
 * the braintrust Python SDK through `bt eval` with the LLM key from the example's `.env`, the scripted
 * change agent and labeler, and a valid handoff in which the key's value appears nowhere.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DiscoverEvidence } from '../src/workflows/logic/evidence.js';
import { SummarySchema, type Summary } from '../schemas/summary.js';
import { ensureCliBuilt, repoRoot } from './support/cli-flywheel.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

const bin = join(repoRoot, 'bin', 'flywheel.js');
const exampleDir = join(repoRoot, 'examples', 'travel-agent');
const tmp = mkdtempSync(join(tmpdir(), 'cli-run-py-'));
const home = join(tmp, 'home');
const hasPython = existsSync(join(repoRoot, '.tools', 'py', 'bin', 'python'));

/** The fake key the example ships (its .env.example); read, not hard-coded, so the test follows the file. */
function shippedKey(): string {
  const line = readFileSync(join(exampleDir, '.env.example'), 'utf8').split('\n').find((l) => l.startsWith('EXAMPLE_LLM_API_KEY='));
  return line!.slice('EXAMPLE_LLM_API_KEY='.length).trim();
}

async function flywheel(args: string[], timeoutMs = 600_000) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The key must come from the example's .env, not from the test's environment.
  for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_PROFILE', 'BRAINTRUST_API_KEY', 'FLYWHEEL_CONFIG', 'CI', 'FLYWHEEL_AUTONOMOUS', 'EXAMPLE_LLM_API_KEY']) delete env[k];
  const r = await execa(process.execPath, [bin, ...args], { cwd: tmp, env, extendEnv: false, reject: false, timeout: timeoutMs, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

beforeAll(async () => {
  await ensureCliBuilt();
}, 300_000);

afterAll(async () => {
  await flywheel(['--home', home, 'local', 'stop'], 60_000);
  rmSync(tmp, { recursive: true, force: true });
});

describeTemporal('flywheel run --example python (built CLI)', () => {
  let summary: Summary;
  let summaryPath: string;

  it.skipIf(!hasPython)('runs the Python travel agent end to end: valid handoff, eval scored with the key from .env, key value nowhere', async () => {
    // The test suite's dev server (the embedded one would work too, but would be a second server on 2 cores).
    const r = await flywheel(['--home', home, '--address', temporalAddress!, '--json', 'run', '--example', 'python', '--workflow-id', 'cli-example-python']);
    // The change agent's fixes (lookup_booking, the cancellation deflection) verify on the curated rows.
    expect(r.exitCode, r.stderr).toBe(10);
    const out = JSON.parse(r.stdout) as { workflowId: string; outcome: string; summaryPath: string };
    expect(out).toMatchObject({ workflowId: 'cli-example-python', outcome: 'improved' });
    summaryPath = out.summaryPath;
    expect(summaryPath.startsWith(join(home, 'example-python-out'))).toBe(true);
    summary = SummarySchema.parse(JSON.parse(readFileSync(summaryPath, 'utf8')));
    expect(summary.run.project).toMatchObject({ name: 'travel-agent' });
    expect(existsSync(join(exampleDir, '.env'))).toBe(true);

    // bt eval got the key from the example's .env (a name, with its source; never the value).
    expect(summary.run.eval_env).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'EXAMPLE_LLM_API_KEY', source: 'dotenv' })]));
    // …and the eval really ran with it: without the key the LLM client raises and every row scores 0/none.
    const baseline = summary.verification.baseline!;
    expect(baseline).toMatchObject({ run_mode: 'baseline', row_count: 13, error_count: 0 });
    expect(baseline.scores.answer_quality).toBeGreaterThan(0.5);
    expect(baseline.scores.correct_intent).toBe(1);
    // Every eval of the run had the key (an eval without it errors on every row).
    expect(summary.verification.experiments.every((e) => e.error_count === 0)).toBe(true);

    // The key's value appears nowhere: handoff, narrative, run directory, exported history.
    const key = shippedKey();
    expect(key.length).toBeGreaterThan(8);
    expect(readFileSync(summaryPath, 'utf8')).not.toContain(key);
    expect(readFileSync(out.summaryPath.replace(/summary\.json$/, 'narrative.md'), 'utf8')).not.toContain(key);
    const history = await flywheel(['--home', home, '--address', temporalAddress!, '--json', 'history', 'cli-example-python', '--out', join(tmp, 'history.json')], 120_000);
    expect(history.exitCode, history.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'history.json'), 'utf8')).not.toContain(key);
    const leaks = filesUnder(join(home, 'runs')).filter((f) => !/\.env(\.example)?$/.test(f) && statSync(f).size < 5e6 && readFileSync(f, 'utf8').includes(key));
    expect(leaks).toEqual([]);
  });

  // Uses the handoff and run directory of the run above (run both together).
  it.skipIf(!hasPython)('names the uncovered cohort by its Topics label, counts the hand-made dataset rows per cohort, shows no no_match cohort', () => {
    const coverage = summary.findings_detail.filter((f) => f.id.startsWith('coverage:'));
    // Cohorts come from classifications.<Facet>[0].label, not from the free-text facet summaries.
    expect(coverage.some((f) => f.title.includes('Cancellations & refunds'))).toBe(true);
    expect(coverage.filter((f) => /Traveller wants|Booking lookup failed for/.test(f.title))).toEqual([]);
    // No cohort for traces whose facet said nothing.
    expect(summary.findings_detail.filter((f) => f.id.includes('no_match'))).toEqual([]);
    // The hand-made dataset counts for coverage, per topic cohort exactly as golden_dataset.json has them.
    const cancel = coverage.find((f) => f.title.includes('Cancellations & refunds'));
    expect(cancel!.counts?.dataset_rows ?? 0).toBe(0);
    const golden = JSON.parse(readFileSync(join(exampleDir, 'golden_dataset.json'), 'utf8')) as Array<{ metadata: { topic: string } }>;
    const want = new Map<string, number>();
    for (const r of golden) want.set(r.metadata.topic, (want.get(r.metadata.topic) ?? 0) + 1);
    const evidenceFile = filesUnder(join(home, 'runs')).find((f) => f.endsWith(join('iter-1', 'discover', 'evidence.json')))!;
    const evidence = JSON.parse(readFileSync(evidenceFile, 'utf8')) as DiscoverEvidence;
    const ds = evidence.datasets.find((d) => d.name === 'travel-agent-golden')!;
    expect(ds.rows).toBe(golden.length);
    const got = new Map(ds.cohorts.filter((c) => c.dimension === 'topic' && c.key === 'Task').map((c) => [c.value, c.rows]));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
  });
});
