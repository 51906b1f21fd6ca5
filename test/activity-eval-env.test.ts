/**
 * The eval activity on the real parts (local Braintrust server, real bt, real tsx runner): an eval whose
 * scorers need variables from the agent's .env, an --env-file and an --eval-env pass-through scores 1 with
 * them and 0 without; the flywheel's own BRAINTRUST_* variables win over a .env that sets them; values
 * never appear in the Orient context, the eval result or the run directory (bt's output is redacted).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { type LocalServerHandle, startLocalServer } from '../src/local-server/index.js';
import { packageRoot } from '../src/paths.js';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import { apiClient } from './support/local-server-bt.js';

const PROJECT = 'eval-env-proj';
const DOTENV_VALUE = 'plainly fake dotenv value';
const FILE_VALUE = 'file value with spaces # and hash';
const PASSED_VALUE = 'plainly fake passed value';

// Scores 1 only when the variable holds exactly the expected value; prints the .env value (an eval that
// leaks its key to its output must not leak it into the flywheel's records).
const EVAL_FILE = `import { Eval } from 'braintrust';
const want = ${JSON.stringify({ FAKE_PROVIDER_KEY: DOTENV_VALUE, FAKE_FILE_KEY: FILE_VALUE, FAKE_PASSED_KEY: PASSED_VALUE })};
console.log('key in use: ' + process.env.FAKE_PROVIDER_KEY);
console.error('key in use: ' + process.env.FAKE_PROVIDER_KEY);
Eval(${JSON.stringify(PROJECT)}, {
  experimentName: process.env.FLYWHEEL_EXPERIMENT_NAME ?? 'env-probe',
  data: () => [{ input: 1, expected: 1 }, { input: 2, expected: 2 }],
  task: async (input: number) => input,
  scores: [
    () => ({ name: 'dotenv_key', score: process.env.FAKE_PROVIDER_KEY === want.FAKE_PROVIDER_KEY ? 1 : 0 }),
    () => ({ name: 'env_file_key', score: process.env.FAKE_FILE_KEY === want.FAKE_FILE_KEY ? 1 : 0 }),
    () => ({ name: 'passed_key', score: process.env.FAKE_PASSED_KEY === want.FAKE_PASSED_KEY ? 1 : 0 }),
  ],
});
`;

let tmp: string;
let agentDir: string;
let server: LocalServerHandle;
let activities: ReturnType<typeof createActivities>;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile() && statSync(p).size < 10_000_000) out.push(p);
  }
  return out;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'eval-env-activity-'));
  // The eval file must resolve `braintrust` (and bt finds tsx next to it), so the agent lives inside the repo.
  agentDir = mkdtempSync(join(packageRoot, 'test', '.tmp-eval-env-'));
  symlinkSync(join(packageRoot, 'node_modules'), join(agentDir, 'node_modules'));
  writeFileSync(join(agentDir, 'eval_env.ts'), EVAL_FILE);
  writeFileSync(
    join(agentDir, '.env'),
    [
      '# the provider key the eval needs',
      `export FAKE_PROVIDER_KEY="${DOTENV_VALUE}"`,
      // A team .env often holds its own Braintrust key: the flywheel's connection must win.
      'BRAINTRUST_API_KEY="not a key"',
      'BRAINTRUST_APP_URL=http://127.0.0.1:9',
    ].join('\n'),
  );
  writeFileSync(join(tmp, 'ci.env'), `FAKE_FILE_KEY='${FILE_VALUE}'\n`);
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
  await apiClient(server.apiUrl, server.apiKey)('POST', '/v1/project', { name: PROJECT });
  const home = join(tmp, 'home');
  mkdirSync(home);
  const btEnv = { ...server.btEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), PATH: process.env.PATH ?? '' };
  activities = createActivities({ btEnv, appUrl: server.appUrl, workerEnv: { FAKE_PASSED_KEY: PASSED_VALUE, UNRELATED: 'x' } });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown>, runsDir: string) {
  return flywheelInputSchema.parse({ project: PROJECT, agentDir, outDir: join(tmp, 'out'), runsDir, evalFiles: ['eval_env.ts'], ...extra });
}

describe('the eval activity with an eval environment', () => {
  it('scores 1 with the .env, --env-file and --eval-env variables, and records names only', async () => {
    const runsDir = join(tmp, 'runs-with');
    const ctx = await activities.orient(config({ envFiles: [join(tmp, 'ci.env')], evalEnv: ['FAKE_PASSED_KEY'] }, runsDir), 'wf-env-with');
    expect(ctx.evalEnv!.names).toEqual([
      { name: 'FAKE_PROVIDER_KEY', source: 'dotenv', file: join(agentDir, '.env') },
      { name: 'FAKE_FILE_KEY', source: 'env_file', file: join(tmp, 'ci.env') },
      { name: 'FAKE_PASSED_KEY', source: 'eval_env', file: null },
    ]);
    expect(ctx.evalEnv!.ignored.map((i) => i.name)).toEqual(['BRAINTRUST_API_KEY', 'BRAINTRUST_APP_URL']);
    expect(ctx.notes.join('\n')).toMatch(/sets BRAINTRUST_API_KEY, which the flywheel sets for bt itself/);

    const result = await activities.runEval({ ctx, cwd: ctx.agentDir, split: 'all', runMode: 'baseline', experimentName: 'env-with', useDataset: false, iteration: 0 });
    // Scores read back from the local server: the eval went where the flywheel reads (not to 127.0.0.1:9).
    expect(result.scores).toMatchObject({ dotenv_key: 1, env_file_key: 1, passed_key: 1 });
    expect(result.rowCount).toBe(2);

    const records = [JSON.stringify(ctx), JSON.stringify(result), ...filesUnder(runsDir).map((f) => readFileSync(f, 'utf8'))].join('\n');
    for (const v of [DOTENV_VALUE, FILE_VALUE, PASSED_VALUE]) expect(records).not.toContain(v);
    // The eval's own output line made it to the run directory, with the value redacted.
    expect(records).toContain('key in use: <redacted>');
  }, 180_000);

  it('scores 0 without them (--no-dotenv, no files, no names)', async () => {
    const ctx = await activities.orient(config({ dotenv: false }, join(tmp, 'runs-without')), 'wf-env-without');
    expect(ctx.evalEnv!.names).toEqual([]);
    const result = await activities.runEval({ ctx, cwd: ctx.agentDir, split: 'all', runMode: 'baseline', experimentName: 'env-without', useDataset: false, iteration: 0 });
    expect(result.scores).toMatchObject({ dotenv_key: 0, env_file_key: 0, passed_key: 0 });
  }, 180_000);

  it('an unset --eval-env name or a missing --env-file fails Orient on the worker, not retryable', async () => {
    await expect(activities.orient(config({ evalEnv: ['NOT_SET_ANYWHERE'] }, join(tmp, 'runs-bad')), 'wf-env-bad')).rejects.toMatchObject({
      message: expect.stringMatching(/^eval environment: --eval-env NOT_SET_ANYWHERE is not set/),
      nonRetryable: true,
    });
    await expect(activities.orient(config({ envFiles: [join(tmp, 'nope.env')] }, join(tmp, 'runs-bad')), 'wf-env-bad')).rejects.toMatchObject({
      message: expect.stringMatching(/--env-file .*nope\.env does not exist/),
      nonRetryable: true,
    });
  });
});
