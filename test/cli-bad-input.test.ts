/**
 * `flywheel run` (built CLI) rejects bad input with one line naming the problem and exit 2, within seconds and
 * before anything starts: no local Braintrust server, no Temporal dev server, no workflow (--home stays empty).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt, oneLineError, repoRoot } from './support/cli-flywheel.js';

const bin = join(repoRoot, 'bin', 'flywheel.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-bad-input-'));
const agentDir = join(tmp, 'agent');
const aFile = join(tmp, 'a-file.txt');

async function flywheel(home: string, args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_PROFILE', 'BRAINTRUST_API_KEY', 'FLYWHEEL_CONFIG', 'CI', 'FLYWHEEL_AUTONOMOUS']) delete env[k];
  // An address nobody listens on: were anything to get as far as Temporal, the test would see it.
  const r = await execa(process.execPath, [bin, '--home', home, '--address', '127.0.0.1:1', ...args], { cwd: tmp, env, extendEnv: false, reject: false, timeout: 60_000, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

beforeAll(async () => {
  mkdirSync(agentDir);
  writeFileSync(aFile, 'not a directory\n');
  await ensureCliBuilt();
}, 300_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = ['run', '--project', 'p', '--agent-dir', agentDir, '--mode', 'autonomous'];
const cases: Array<{ name: string; args: string[]; says: RegExp }> = [
  { name: '--out pointing at a file', args: ['run', '--example', '--out', aFile], says: /--out .*a-file\.txt is a file/ },
  { name: '--agent-dir pointing at a file', args: ['run', '--project', 'p', '--agent-dir', aFile], says: /--agent-dir .* is a file/ },
  { name: '--agent-dir that does not exist', args: ['run', '--project', 'p', '--agent-dir', join(tmp, 'nope')], says: /--agent-dir .* does not exist/ },
  { name: '--workflow-id ..', args: [...base, '--workflow-id', '..'], says: /--workflow-id "\.\." is not a valid id/ },
  { name: '--workflow-id with a slash', args: [...base, '--workflow-id', 'a/../../b'], says: /is not a valid id/ },
  { name: 'an empty --project', args: ['run', '--project', '', '--agent-dir', agentDir], says: /--project is empty/ },
  { name: 'an empty --change-command', args: [...base, '--change-command', ''], says: /--change-command is empty/ },
  { name: 'a 100 KB --goal', args: [...base, '--goal', 'x'.repeat(100_000)], says: /--goal is 100000 characters; at most 2000/ },
  { name: 'a --goal with escape codes', args: [...base, '--goal', 'fix \u001b[2J it'], says: /--goal contains control characters/ },
  { name: 'a --window that is not a number', args: [...base, '--window', 'week'], says: /--window must be a whole number/ },
  { name: 'a --gate-timeout that is not a duration', args: [...base, '--gate-timeout', 'soon'], says: /--gate-timeout must be a duration/ },
  { name: 'a --max-iterations that is not a number', args: [...base, '--max-iterations', 'many'], says: /--max-iterations must be a whole number/ },
];

describe('flywheel run: bad input fails fast and once', () => {
  it.each(cases)('$name', async ({ name, args, says }) => {
    const home = join(tmp, `home-${name.replace(/[^a-z0-9]+/gi, '-')}`);
    const started = Date.now();
    const r = await flywheel(home, args);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(oneLineError(r)).toMatch(says);
    // One line, no stack trace.
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(home) ? readdirSync(home) : []).toEqual([]);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
