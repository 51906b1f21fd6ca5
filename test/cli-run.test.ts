/**
 * `flywheel run`, driven as a subprocess of the built CLI: the README's main job on fully embedded
 * defaults (its own dev server and local Braintrust server under --home), the path without a change
 * agent, offline analysis of a `bt sync pull` snapshot, and bad input.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import type { Summary } from '../schemas/summary.js';
import { generateExampleTraces } from '../examples/support-agent/generate-traces.js';
import { ensureCliBuilt, oneLineError, repoRoot } from './support/cli-flywheel.js';
import { EXAMPLE_DIR } from './support/flywheel-e2e.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

const bin = join(repoRoot, 'bin', 'flywheel.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-run-'));

async function flywheel(args: string[], timeoutMs = 300_000) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_PROFILE', 'BRAINTRUST_API_KEY', 'FLYWHEEL_CONFIG', 'CI', 'FLYWHEEL_AUTONOMOUS']) delete env[k];
  const r = await execa(process.execPath, [bin, ...args], { cwd: tmp, env, extendEnv: false, reject: false, timeout: timeoutMs, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

beforeAll(async () => {
  await ensureCliBuilt();
}, 300_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describeTemporal('flywheel run (built CLI)', () => {
  const home = join(tmp, 'embedded-home');
  afterAll(async () => {
    await flywheel(['--home', home, 'local', 'stop']);
  });

  it('run --example on the embedded defaults ends improved (exit 10) and writes a valid handoff', async () => {
    const r = await flywheel(['--home', home, '--json', 'run', '--example', '--workflow-id', 'cli-example-improved']);
    expect(r.exitCode, r.stderr).toBe(10);
    const out = JSON.parse(r.stdout) as { workflowId: string; outcome: string; summaryPath: string };
    expect(out).toMatchObject({ workflowId: 'cli-example-improved', outcome: 'improved' });
    const summary = JSON.parse(readFileSync(out.summaryPath, 'utf8')) as Summary;
    expect(summary.outcome).toBe('improved');
    expect(existsSync(join(home, 'temporal.sqlite'))).toBe(true); // the project's own dev server, state on disk
    expect(existsSync(join(home, 'braintrust-local.duckdb'))).toBe(true);
    // status and list see the finished run through the same embedded server.
    const status = await flywheel(['--home', home, '--json', 'status', 'cli-example-improved']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(status.stdout))).toContain('improved');
    // Running the demo again (same workflow id, a new run) starts from a fresh copy of the agent, so the
    // defects are there to fix again: improved once more, not "the change agent made no change".
    const again = await flywheel(['--home', home, '--json', 'run', '--example', '--workflow-id', 'cli-example-improved']);
    expect(again.exitCode, again.stderr).toBe(10);
    expect((JSON.parse(again.stdout) as { runId: string }).runId).not.toBe((out as unknown as { runId: string }).runId);
  });

  it('run --example --no-change-agent ends needs_work (exit 11) with a brief in the next steps', async () => {
    const out = join(tmp, 'out-no-agent');
    const r = await flywheel(['--home', home, '--json', 'run', '--example', '--no-change-agent', '--workflow-id', 'cli-example-no-agent', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(11);
    const summary = JSON.parse(readFileSync(join(out, 'bt-flywheel-summary.json'), 'utf8')) as Summary;
    expect(summary.outcome).toBe('needs_work');
    expect(summary.next_steps.some((s) => s.intent === 'review_change' && s.body.includes('brief'))).toBe(true);
  });

  it('run --snapshot analyses a bt sync pull directory with no credentials', async () => {
    const snapHome = join(tmp, 'snapshot-home');
    onTestFinished(async () => {
      await flywheel(['--home', snapHome, 'local', 'stop']);
    });
    // Its own copy of the example (inside the repo, so the eval's `braintrust` import resolves): other test files run
    // bt in the shared example directory at the same time, and bt writes `.bt/` into its cwd.
    const agentDir = join(repoRoot, 'test', `.tmp-snapshot-agent-${process.pid}`);
    cpSync(EXAMPLE_DIR, agentDir, { recursive: true, filter: (src) => !/[\\/](\.bt|node_modules)([\\/]|$)/.test(src) });
    onTestFinished(() => rmSync(agentDir, { recursive: true, force: true }));
    const gen = await generateExampleTraces({ outDir: join(tmp, 'snapshot'), projectName: 'pulled-project', traces: 800 });
    const out = join(tmp, 'out-snapshot');
    const r = await flywheel([
      '--home', snapHome, '--address', temporalAddress!, '--json', 'run',
      '--snapshot', join(tmp, 'snapshot'), '--project', 'pulled-project', '--agent-dir', agentDir,
      '--mode', 'autonomous', '--no-change-agent', '--out', out, '--workflow-id', 'cli-snapshot',
    ]);
    expect(gen.traces).toBe(800);
    expect(r.exitCode, r.stderr).toBe(11);
    const summary = JSON.parse(readFileSync(join(out, 'bt-flywheel-summary.json'), 'utf8')) as Summary;
    expect(summary.run.project).toMatchObject({ name: 'pulled-project' });
    expect(summary.findings_detail.some((f) => f.id === 'reliability:tool:lookup_order')).toBe(true);
  });

  it('a second trigger with the same workflow id joins the running run instead of starting another', async () => {
    const joinHome = join(tmp, 'join-home');
    onTestFinished(async () => {
      await flywheel(['--home', joinHome, 'local', 'stop']);
    });
    const args = ['--home', joinHome, '--address', temporalAddress!, '--json', 'run', '--example', '--workflow-id', 'cli-join', '--detach', '--no-worker'];
    const first = await flywheel(args);
    const second = await flywheel(args);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(second.exitCode, second.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as { workflowId: string; runId: string };
    const b = JSON.parse(second.stdout) as { workflowId: string; runId: string };
    expect(b).toEqual(a);
    // Another id for the same project while that run is in progress: joined too, and said so.
    const otherId = args.map((x) => (x === 'cli-join' ? 'cli-join-other' : x));
    const third = await flywheel(otherId.filter((x) => x !== '--json'));
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stderr).toMatch(/project support-agent already has run cli-join in progress: joining it/);
    expect(third.stdout).toContain('cli-join');
    // --allow-concurrent starts a second run of the project.
    const fourth = await flywheel([...otherId, '--allow-concurrent']);
    expect(fourth.exitCode, fourth.stderr).toBe(0);
    expect((JSON.parse(fourth.stdout) as { workflowId: string }).workflowId).toBe('cli-join-other');
    // Nobody works on them (no worker): end them so they do not linger on the shared server.
    const { Client, Connection } = await import('@temporalio/client');
    const connection = await Connection.connect({ address: temporalAddress! });
    for (const id of ['cli-join', 'cli-join-other']) await new Client({ connection }).workflow.getHandle(id).terminate('test done');
    await connection.close();
  });

  it('Ctrl-C stops following, says how to resume, and a second run with the same id finishes the run', async () => {
    const intHome = join(tmp, 'interrupt-home');
    onTestFinished(async () => {
      await flywheel(['--home', intHome, 'local', 'stop']);
    });
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['TEMPORAL_ADDRESS', 'BRAINTRUST_API_KEY', 'CI', 'FLYWHEEL_AUTONOMOUS']) delete env[k];
    const child = execa(process.execPath, [bin, '--home', intHome, '--address', temporalAddress!, 'run', '--example', '--workflow-id', 'cli-interrupt'], {
      cwd: tmp, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 300_000,
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    while (!/\[(discover|improve|verify)/.test(stderr)) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted: run cli-interrupt goes on in Temporal/);
    expect(stderr).not.toMatch(/\n\s+at /);
    const resumed = await flywheel(['--home', intHome, '--address', temporalAddress!, '--json', 'run', '--example', '--workflow-id', 'cli-interrupt']);
    expect(resumed.exitCode, resumed.stderr).toBe(10);
  });

  it('bad input gets one clear line and a non-zero exit, never a stack trace', async () => {
    const badHome = join(tmp, 'bad-home');
    onTestFinished(async () => {
      await flywheel(['--home', badHome, 'local', 'stop']);
    });
    const missing = await flywheel(['--home', badHome, '--address', temporalAddress!, 'run', '--project', 'no-such-project', '--agent-dir', EXAMPLE_DIR, '--mode', 'autonomous']);
    expect(missing.exitCode).toBe(2);
    expect(oneLineError(missing)).toMatch(/project 'no-such-project' not found/);
    const window = await flywheel(['--home', badHome, '--address', temporalAddress!, 'run', '--window', 'abc', '--agent-dir', EXAMPLE_DIR]);
    expect(window.exitCode).toBe(2);
    expect(oneLineError(window)).toMatch(/--window/);
    const dir = await flywheel(['--home', badHome, '--address', temporalAddress!, 'run', '--agent-dir', join(tmp, 'nope')]);
    expect(dir.exitCode).toBe(2);
    expect(oneLineError(dir)).toMatch(/does not exist/);
  });
});
