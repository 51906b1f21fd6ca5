/**
 * bt runs without its npm launcher: `node_modules/.bin/bt` is a Node script that finds the platform binary and
 * spawns it, a second process start before every bt call. runBt runs the binary the launcher would have run (found
 * by the package's own helper), and anything that is not that launcher exactly as given.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { buildChildEnv, resolveBtBinary, runBt } from '../src/bt/run.js';
import { defaultBtPath } from '../src/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'bt-binary-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A package laid out like `braintrust`: bin/bt is a `#!/usr/bin/env node` launcher that appends "launcher" to a log
 * and then runs what scripts/bt-helper.js names; the "native" binary appends "native" and prints its argv.
 */
function fakePackage(name: string): { launcher: string; native: string; log: string } {
  const root = join(tmp, name, 'node_modules', 'braintrust');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'scripts'), { recursive: true });
  const log = join(tmp, name, 'calls.log');
  const native = join(tmp, name, 'native-bt');
  writeFileSync(native, `#!/bin/sh\necho native >> '${log}'\necho "argv: $*"\nexit 3\n`);
  chmodSync(native, 0o755);
  writeFileSync(join(root, 'scripts', 'bt-helper.js'), `module.exports = { getBinaryPath: () => ${JSON.stringify(native)} };\n`);
  const launcher = join(root, 'bin', 'bt');
  writeFileSync(
    launcher,
    [
      '#!/usr/bin/env node',
      '"use strict";',
      `require('node:fs').appendFileSync(${JSON.stringify(log)}, 'launcher\\n');`,
      `const r = require('node:child_process').spawnSync(require('../scripts/bt-helper').getBinaryPath(), process.argv.slice(2), { stdio: 'inherit' });`,
      'process.exit(r.status ?? 1);',
      '',
    ].join('\n'),
  );
  chmodSync(launcher, 0o755);
  return { launcher, native, log };
}

const ctx = (btPath: string, env: Record<string, string> = {}) => ({
  btPath,
  env: buildChildEnv({ PATH: process.env.PATH, ...env }),
  heartbeatIntervalMs: 60_000,
  killGraceMs: 1_000,
});
const opts = { timeoutMs: 30_000, commandWords: 1 };

describe('the bt binary behind the npm launcher', () => {
  it('the installed launcher resolves to the native binary, which answers like the launcher', async () => {
    const launcher = defaultBtPath();
    const native = resolveBtBinary(launcher);
    expect(native).not.toBe(launcher);
    expect(readFileSync(native).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    const viaLauncher = await execa(launcher, ['--version']);
    const direct = await execa(native, ['--version']);
    expect(direct.stdout).toBe(viaLauncher.stdout);
    expect(direct.stdout).toMatch(/\d+\.\d+\.\d+/);
  });

  it('runBt runs the binary the launcher names, with the same argv and exit code, and never the launcher', async () => {
    const pkg = fakePackage('direct');
    const r = await runBt(ctx(pkg.launcher), ['sql', '--json', 'SELECT 1'], opts);
    expect(r.stdout.trim()).toBe('argv: sql --json SELECT 1');
    expect(r.exitCode).toBe(3);
    expect(readFileSync(pkg.log, 'utf8')).toBe('native\n');
    // Messages keep naming the configured path.
    expect(r.command[0]).toBe(pkg.launcher);
  });

  it('keeps the launcher when BT_BINARY_PATH is set for bt (the launcher honours it)', async () => {
    const pkg = fakePackage('binary-path');
    expect(resolveBtBinary(pkg.launcher, { BT_BINARY_PATH: pkg.native })).toBe(pkg.launcher);
    const r = await runBt(ctx(pkg.launcher, { BT_BINARY_PATH: pkg.native }), ['status'], opts);
    expect(r.exitCode).toBe(3);
    expect(readFileSync(pkg.log, 'utf8')).toBe('launcher\nnative\n');
  });

  it('leaves anything else alone: a wrapper script, a launcher whose helper names nothing runnable, a missing path', () => {
    const wrapper = join(tmp, 'wrapper-bt');
    writeFileSync(wrapper, '#!/bin/sh\nexit 0\n');
    chmodSync(wrapper, 0o755);
    expect(resolveBtBinary(wrapper)).toBe(wrapper);
    const pkg = fakePackage('broken-helper');
    writeFileSync(join(tmp, 'broken-helper', 'node_modules', 'braintrust', 'scripts', 'bt-helper.js'), 'module.exports = { getBinaryPath: () => "/nonexistent/bt" };\n');
    expect(resolveBtBinary(pkg.launcher)).toBe(pkg.launcher);
    const missing = join(tmp, 'no-such-bt');
    expect(resolveBtBinary(missing)).toBe(missing);
  });
});
