/**
 * `bt eval` through the client: real bt + real tsx runner, local-only (`--no-send-logs`), in a
 * temp project whose node_modules links to ours. Also: the whole process tree dies on
 * cancel/timeout, and argv construction for the eval flags.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtClient } from '../src/bt/client.js';
import { BtError } from '../src/bt/errors.js';
import { packageRoot } from '../src/paths.js';
import { livePidsWith, tempBtDirs } from './support/bt-stub.js';

let dirs: ReturnType<typeof tempBtDirs>;
let bt: BtClient;

/** Unique, so a leftover process can only be ours. */
const SLOW = `slow-${randomUUID()}.eval.ts`;

const SCORER = `({ output, expected }: { output: unknown; expected: unknown }) => ({ name: 'exact', score: output === expected ? 1 : 0 })`;

const FILES: Record<string, string> = {
  'mixed.eval.ts': `import { Eval } from 'braintrust';
Eval('flywheel', {
  experimentName: 'mixed-exp',
  data: () => [{ input: 1, expected: 2 }, { input: 2, expected: 5 }, { input: 3, expected: 6 }],
  task: async (input: number) => {
    console.log('user-line ' + input);
    if (input === 3) throw new Error('boom');
    return input * 2;
  },
  scores: [${SCORER}],
});
`,
  'pass.eval.ts': `import { Eval } from 'braintrust';
Eval('flywheel', {
  experimentName: 'pass-exp',
  data: () => [{ input: 1, expected: 2 }, { input: 2, expected: 4 }, { input: 3, expected: 6 }],
  task: async (input: number) => input * 2,
  scores: [${SCORER}],
});
`,
  [SLOW]: `import { Eval } from 'braintrust';
Eval('flywheel', {
  experimentName: 'slow-exp',
  data: () => [{ input: 1, expected: 1 }],
  task: async (input: number) => { await new Promise((r) => setTimeout(r, 60_000)); return input; },
  scores: [${SCORER}],
});
`,
  'broken.eval.ts': `import { Eval } from 'braintrust';\nEval('flywheel', {{{ syntax error\n`,
};

beforeAll(() => {
  dirs = tempBtDirs();
  symlinkSync(join(packageRoot, 'node_modules'), join(dirs.cwd, 'node_modules'), 'dir');
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dirs.cwd, name), text);
  bt = new BtClient({
    env: { HOME: dirs.home, XDG_CONFIG_HOME: join(dirs.home, '.config'), XDG_CACHE_HOME: join(dirs.home, '.cache'), PATH: process.env.PATH ?? '' },
    killGraceMs: 500,
  });
});
afterAll(() => dirs.cleanup());

describe('bt eval', () => {
  it('returns summaries and user output; exit 1 with summaries means some rows errored', async () => {
    const r = await bt.eval(['mixed.eval.ts'], { cwd: dirs.cwd, noSendLogs: true });
    expect(r.exitCode).toBe(1);
    expect(r.rowErrors).toBe(true);
    expect(r.summaries).toHaveLength(1);
    expect(r.summaries[0]).toMatchObject({ projectName: 'flywheel', experimentId: null, runMode: 'full', isFinal: true });
    expect(r.summaries[0]!.experimentName).toContain('mixed-exp');
    expect(r.summaries[0]!.scores.exact!.score).toBe(0.5);
    expect(r.userStdout).toEqual(expect.arrayContaining(['user-line 1', 'user-line 2', 'user-line 3']));
    expect(r.stderrTail).not.toMatch(/\u001b/);
  });

  it('a clean run with --first', async () => {
    const r = await bt.eval(['pass.eval.ts'], { cwd: dirs.cwd, noSendLogs: true, first: 2 });
    const why = `stderr: ${r.stderrTail}\nstdout: ${r.userStdout.join('\n')}`;
    expect(r, why).toMatchObject({ exitCode: 0, rowErrors: false, userStdout: [] });
    expect(r.summaries[0], why).toMatchObject({ runMode: 'first', isFinal: false, sampleCount: 2 });
    expect(r.summaries[0]!.scores.exact!.score).toBe(1);
  });

  it('a filter that matches nothing is exit 0 with no summaries', async () => {
    const r = await bt.eval(['pass.eval.ts'], { cwd: dirs.cwd, noSendLogs: true, filter: ['evalName=^nomatch$'] });
    expect(r).toMatchObject({ exitCode: 0, summaries: [] });
  });

  it('a runner failure without summaries throws eval_failed', async () => {
    const err = await bt.eval(['broken.eval.ts'], { cwd: dirs.cwd, noSendLogs: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtError);
    expect(err).toMatchObject({ kind: 'eval_failed', exitCode: 1, retryable: false });
  });

  it('rejects bad options before spawning', async () => {
    await expect(bt.eval(['pass.eval.ts'], { cwd: dirs.cwd, first: 1, sample: 2 })).rejects.toMatchObject({ kind: 'usage' });
    await expect(bt.eval(['pass.eval.ts'], { cwd: dirs.cwd, filter: ['a=x,y'] })).rejects.toMatchObject({ kind: 'usage' });
    await expect(bt.eval(['pass.eval.ts'], { cwd: dirs.cwd, first: 0 })).rejects.toMatchObject({ kind: 'usage' });
  });

  it('cancellation kills bt and its runner children', async () => {
    const ac = new AbortController();
    const pending = bt.eval([SLOW], { cwd: dirs.cwd, noSendLogs: true, signal: ac.signal });
    // Wait until the runner (tsx and its node child, both with the file name in argv) is up.
    const deadline = Date.now() + 20_000;
    while (livePidsWith(SLOW).length < 2) {
      if (Date.now() > deadline) throw new Error('the eval runner never started');
      await new Promise((r) => setTimeout(r, 100));
    }
    ac.abort();
    await expect(pending).rejects.toMatchObject({ kind: 'cancelled' });
    expect(livePidsWith(SLOW)).toEqual([]);
  });

  it('a timeout kills the whole tree too', async () => {
    const err = await bt.eval([SLOW], { cwd: dirs.cwd, noSendLogs: true, timeoutMs: 4_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'timeout', retryable: true });
    expect(livePidsWith(SLOW)).toEqual([]);
  });
});

describe('bt eval argv', () => {
  // A fake bt that prints its argv inside a summary line, plus a user line and a non-summary JSON line.
  function fakeBt(): string {
    const dir = join(dirs.home, 'fake-bin');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'bt');
    writeFileSync(
      path,
      `#!/usr/bin/env node
const summary = { experimentName: 'x', scores: {}, argv: process.argv.slice(2), cwd: process.cwd() };
console.log('{not json');
console.log(JSON.stringify({ other: 1 }));
console.log(JSON.stringify(summary));
`,
    );
    chmodSync(path, 0o755);
    return path;
  }

  it('puts every option after the subcommand, files last, without "--"', async () => {
    const client = new BtClient({ btPath: fakeBt(), env: { PATH: process.env.PATH ?? '' } });
    const r = await client.eval(['a.eval.ts', '-odd.eval.ts'], {
      cwd: dirs.cwd,
      sample: 3,
      sampleSeed: 7,
      noSendLogs: true,
      filter: ['evalName=^smoke', 'metadata.kind=^a$'],
      params: { model: 'gpt', temperature: 0.2, "it's": 'a "quote"' },
      project: 'flywheel',
    });
    expect(r.summaries[0]!.argv).toEqual([
      'eval',
      '--jsonl',
      '--no-input',
      '-q',
      '--sample=3',
      '--sample-seed=7',
      '--no-send-logs',
      '--filter=evalName=^smoke',
      '--filter=metadata.kind=^a$',
      `--param=${JSON.stringify({ model: 'gpt', temperature: 0.2, "it's": 'a "quote"' })}`,
      '--project=flywheel',
      'a.eval.ts',
      './-odd.eval.ts',
    ]);
    expect(r.summaries[0]!.cwd).toBe(dirs.cwd);
    expect(r.userStdout).toEqual(['{not json', '{"other":1}']);
  });
});
