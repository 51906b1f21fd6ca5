/**
 * `flywheel run` (built CLI) rejects a bad eval environment with one line and exit 2 before anything starts:
 * no local Braintrust server, no Temporal dev server, no workflow (the --home directory stays empty).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt, oneLineError, repoRoot } from './support/cli-flywheel.js';

const bin = join(repoRoot, 'bin', 'flywheel.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-eval-env-'));
const agentDir = join(tmp, 'agent');
const home = join(tmp, 'home');

/**
 * Node itself scans every argument for `--env-file` up to a `--` (nodejs/node#54232) and exits 9 when the file
 * is missing, before any JavaScript runs; `node -- bin/flywheel.js …` stops that scan, so these runs get the
 * CLI's own check. (An existing file after the script is not loaded by Node; the plain form is tested below.)
 */
async function flywheel(args: string[], cwd = tmp, extraEnv: NodeJS.ProcessEnv = {}, nodeStopsAtDashDash = true) {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_PROFILE', 'BRAINTRUST_API_KEY', 'FLYWHEEL_CONFIG', 'CI', 'FLYWHEEL_AUTONOMOUS']) {
    if (!(k in extraEnv)) delete env[k];
  }
  // An address nobody listens on: were anything to get as far as Temporal, the test would see it.
  const r = await execa(process.execPath, [...(nodeStopsAtDashDash ? ['--'] : []), bin, '--home', home, '--address', '127.0.0.1:1', ...args], { cwd, env, extendEnv: false, reject: false, timeout: 60_000, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

beforeAll(async () => {
  mkdirSync(agentDir);
  await ensureCliBuilt();
}, 300_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('flywheel run: eval environment errors', () => {
  const base = ['run', '--project', 'p', '--agent-dir', agentDir, '--mode', 'autonomous'];
  const nothingStarted = () => expect(existsSync(home) ? readdirSync(home) : []).toEqual([]);

  it('a missing --env-file', async () => {
    const r = await flywheel([...base, '--env-file', 'missing.env']);
    expect(r.exitCode).toBe(2);
    // Relative paths resolve against the current directory.
    expect(oneLineError(r).endsWith(`--env-file ${join(tmp, 'missing.env')} does not exist`)).toBe(true);
    nothingStarted();
  });

  it('a missing --env-file with plain `node bin/flywheel.js`: Node refuses it first (exit 9), nothing starts', async () => {
    const r = await flywheel([...base, '--env-file', 'missing.env'], tmp, {}, false);
    expect(r.exitCode).toBe(9);
    expect(oneLineError(r)).toMatch(/missing\.env: not found/);
    nothingStarted();
  });

  it('an existing --env-file is not loaded by Node into the CLI process (the values reach only bt eval)', async () => {
    writeFileSync(join(tmp, 'exists.env'), 'FAKE_PROVIDER_KEY=from-file\n');
    // The file exists, so the run gets past the eval environment check; --eval-env then shows the CLI's own
    // environment does not have the file's variable (Node did not load the file into it).
    const r = await flywheel([...base, '--env-file', join(tmp, 'exists.env'), '--eval-env', 'FAKE_PROVIDER_KEY'], tmp, {}, false);
    expect(r.exitCode).toBe(2);
    expect(oneLineError(r)).toMatch(/--eval-env FAKE_PROVIDER_KEY is not set/);
    nothingStarted();
  });

  it('an --eval-env name that is not set, or set to the empty string', async () => {
    const unset = await flywheel([...base, '--eval-env', 'FAKE_UNSET_PROVIDER_KEY']);
    expect(unset.exitCode).toBe(2);
    expect(oneLineError(unset)).toMatch(/--eval-env FAKE_UNSET_PROVIDER_KEY is not set \(or is empty\)/);
    const empty = await flywheel([...base, '--eval-env', 'FAKE_EMPTY_KEY'], tmp, { FAKE_EMPTY_KEY: '' });
    expect(empty.exitCode).toBe(2);
    expect(oneLineError(empty)).toMatch(/--eval-env FAKE_EMPTY_KEY is not set \(or is empty\)/);
    nothingStarted();
  });

  it('an --eval-env name the flywheel sets itself', async () => {
    const r = await flywheel([...base, '--eval-env', 'BRAINTRUST_API_KEY'], tmp, { BRAINTRUST_API_KEY: 'k' });
    expect(r.exitCode).toBe(2);
    expect(oneLineError(r)).toMatch(/the flywheel sets BRAINTRUST_API_KEY for bt itself/);
    nothingStarted();
  });

  it("a broken .env in the agent directory names file and line, never the value", async () => {
    const dir = join(tmp, 'agent-broken');
    mkdirSync(dir);
    writeFileSync(join(dir, '.env'), 'OK=1\nSECRET="very-secret-value\n');
    const r = await flywheel(['run', '--project', 'p', '--agent-dir', dir, '--mode', 'autonomous']);
    expect(r.exitCode).toBe(2);
    const line = oneLineError(r);
    expect(line).toMatch(new RegExp(`${join(dir, '.env').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: unterminated double-quoted value of SECRET`));
    expect(r.stderr + r.stdout).not.toContain('very-secret-value');
    nothingStarted();
  });

  it('the config file: envFile (string or array) and evalEnv', async () => {
    const cfgDir = join(tmp, 'cfg');
    mkdirSync(cfgDir);
    writeFileSync(join(cfgDir, 'flywheel.config.json'), JSON.stringify({ project: 'p', agentDir, mode: 'autonomous', envFile: 'ci.env' }));
    const r = await flywheel(['run'], cfgDir);
    expect(r.exitCode).toBe(2);
    expect(oneLineError(r)).toMatch(new RegExp(`--env-file ${join(cfgDir, 'ci.env').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`));
    writeFileSync(join(cfgDir, 'flywheel.config.json'), JSON.stringify({ project: 'p', agentDir, mode: 'autonomous', evalEnv: ['FAKE_UNSET_PROVIDER_KEY'] }));
    const names = await flywheel(['run'], cfgDir);
    expect(names.exitCode).toBe(2);
    expect(oneLineError(names)).toMatch(/--eval-env FAKE_UNSET_PROVIDER_KEY is not set/);
    writeFileSync(join(cfgDir, 'flywheel.config.json'), JSON.stringify({ project: 'p', agentDir, envFile: 3 }));
    const bad = await flywheel(['run'], cfgDir);
    expect(bad.exitCode).toBe(2);
    expect(oneLineError(bad)).toMatch(/envFile/);
    nothingStarted();
  });
});
