/**
 * End to end on the real parts (Temporal dev server, local Braintrust server, real bt, real evals): a copy of
 * the example agent with a planted `.env`, plus an --env-file and an --eval-env pass-through. The eval sees
 * all three variables with the right values, the handoff lists their NAMES and sources, and no value appears
 * in the exported workflow history (payloads decoded), the handoff files or the run directory.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Summary } from '../schemas/summary.js';
import { packageRoot } from '../src/paths.js';
import { EXAMPLE_DIR, makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal } from './support/temporal-harness.js';

const VALUES = {
  FAKE_PROVIDER_KEY: 'fake-e2e-dotenv-93c1f07a2b',
  FAKE_FILE_KEY: 'fake-e2e-envfile-5be0d4c8e1',
  FAKE_PASSED_KEY: 'fake-e2e-passed-0a7e6f39d2',
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Every string in a JSON value, plus the base64-decoded form of each (history payloads are base64). */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    out.push(value);
    if (/^[A-Za-z0-9+/=]{8,}$/.test(value)) out.push(Buffer.from(value, 'base64').toString('utf8'));
  } else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile() && statSync(p).size < 20_000_000) out.push(p);
  }
  return out;
}

describeTemporal('bt eval environment end to end', () => {
  let env: FlywheelEnv;
  let agentDir: string;
  let probe: string;
  beforeAll(async () => {
    // The worker's own environment holds the --eval-env variable (and nothing from the files).
    env = await makeFlywheelEnv({ variant: 'healthy', traces: 600, workerEnv: { FAKE_PASSED_KEY: VALUES.FAKE_PASSED_KEY, PATH: process.env.PATH } });
    // Inside the repository, so the working copy resolves `braintrust` from our node_modules.
    agentDir = join(mkdtempSync(join(packageRoot, 'test', '.tmp-e2e-eval-env-')), 'agent');
    cpSync(EXAMPLE_DIR, agentDir, { recursive: true });
    probe = join(env.home, 'env-probe.jsonl');
    // The eval records, per run, whether each variable holds the expected value (hashes: no value in code).
    appendFileSync(
      join(agentDir, 'eval_support.ts'),
      `
import { appendFileSync as __probeAppend } from 'node:fs';
import { createHash as __probeHash } from 'node:crypto';
{
  const h = (s: string | undefined) => __probeHash('sha256').update(s ?? '').digest('hex');
  const want: Record<string, string> = ${JSON.stringify(Object.fromEntries(Object.entries(VALUES).map(([k, v]) => [k, sha(v)])))};
  __probeAppend(${JSON.stringify(probe)}, JSON.stringify(Object.fromEntries(Object.entries(want).map(([k, w]) => [k, h(process.env[k]) === w]))) + '\\n');
  console.log('provider key: ' + process.env.FAKE_PROVIDER_KEY);
}
`,
    );
    writeFileSync(join(agentDir, '.env'), `# planted for the test\nexport FAKE_PROVIDER_KEY="${VALUES.FAKE_PROVIDER_KEY}"\n`);
    writeFileSync(join(env.home, 'ci.env'), `FAKE_FILE_KEY=${VALUES.FAKE_FILE_KEY}\n`);
  }, 300_000);
  afterAll(async () => {
    await env?.teardown();
    if (agentDir) rmSync(join(agentDir, '..'), { recursive: true, force: true });
  });

  it('the eval sees the variables; history, handoff and run directory hold names only', async () => {
    const workflowId = `eval-env-${Date.now()}`;
    const input = env.input({ agentDir, workOnCopy: true, envFiles: [join(env.home, 'ci.env')], evalEnv: ['FAKE_PASSED_KEY'] });
    const result = await env.execute(workflowId, input);
    // 600 healthy-variant traces still show a cohort to fix: the run curates, runs the change agent and the
    // labeler, and verifies (baseline, smoke and full evals) — more evals and subprocesses to leak through.
    expect(['healthy', 'improved']).toContain(result.outcome);

    // Every eval ran with all three variables set to the right values.
    const seen = readFileSync(probe, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, boolean>);
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) expect(s).toEqual({ FAKE_PROVIDER_KEY: true, FAKE_FILE_KEY: true, FAKE_PASSED_KEY: true });

    // Names and sources in the handoff and the narrative.
    const summary = JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
    expect(summary.run.eval_env).toEqual([
      { name: 'FAKE_PROVIDER_KEY', source: 'dotenv', file: join(agentDir, '.env') },
      { name: 'FAKE_FILE_KEY', source: 'env_file', file: join(env.home, 'ci.env') },
      { name: 'FAKE_PASSED_KEY', source: 'eval_env', file: null },
    ]);
    const narrative = readFileSync(result.narrativePath!, 'utf8');
    expect(narrative).toMatch(/`bt eval` environment \(names only\): `FAKE_PROVIDER_KEY` \(\.env\), `FAKE_FILE_KEY` \(--env-file .*ci\.env\), `FAKE_PASSED_KEY` \(--eval-env\)/);

    // No value anywhere: the exported history (payloads decoded), the handoff, the run directory (the working
    // copy has no .env; the eval's printed key is redacted in what the flywheel keeps of its output).
    const history = historyToJSON(await env.client.workflow.getHandle(workflowId).fetchHistory());
    const historyText = strings(JSON.parse(history)).join('\n');
    expect(historyText).toContain('FAKE_PROVIDER_KEY'); // the names are there (input, Orient context)
    const runFiles = filesUnder(join(env.home, 'runs'));
    expect(runFiles.some((f) => f.endsWith('.env'))).toBe(false);
    const kept = [historyText, ...filesUnder(join(env.home, 'out')).map((f) => readFileSync(f, 'utf8')), ...runFiles.map((f) => readFileSync(f, 'utf8'))].join('\n');
    for (const v of Object.values(VALUES)) expect(kept).not.toContain(v);
    expect(kept).toContain('provider key: <redacted>');
  }, 600_000);
});
