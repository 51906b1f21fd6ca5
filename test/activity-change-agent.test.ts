/**
 * The change-agent activity on real parts: the brief goes to the command on stdin, the files it changed are
 * recorded (never via git), changed scorer files are pushed with the real `bt functions push` to the local
 * server, and cancelling the activity kills the command's whole process group.
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import type { Route } from '../src/workflows/logic/diagnose.js';
import type { OrientContext } from '../src/workflows/types.js';
import { BtClient } from '../src/bt/client.js';
import { EXAMPLE_DIR } from './support/flywheel-e2e.js';
import { repoRoot } from './support/cli-flywheel.js';

const tmp = mkdtempSync(join(tmpdir(), 'activity-change-'));
let server: LocalServerHandle;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
  env = { ...server.btEnv(), HOME: tmp, XDG_CONFIG_HOME: join(tmp, '.config'), XDG_CACHE_HOME: join(tmp, '.cache'), PATH: process.env.PATH ?? '' };
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function ctx(agentDir: string): OrientContext {
  return {
    workflowId: 'wf-change', runDir: join(tmp, 'runs', 'wf-change'),
    project: { id: 'p', name: 'support-agent', source: 'input', sourceDetail: 'test' },
    org: 'local', appUrl: server.appUrl, baseline: null, scoreColumns: ['answer_quality'], facetColumns: [], metadataKeys: [],
    schemaWindowDays: 7, primaryScore: 'answer_quality', binaryScores: [], agentDir, evalFiles: [], evalFilesSource: 'test',
    datasetName: 'flywheel-support-agent', instructionFiles: [], notes: [],
  };
}

const route = (artifact: Route['artifact']): Route => ({
  id: `${artifact}:score:answer_quality`, artifact, title: 'Fix the answer_quality scorer', rationale: 'stuck at 1',
  evidence: ['answer_quality is 1 on 100% of 1500 traces'], counterevidence: [], confidence: 'high',
  targets: [{ kind: 'score', name: 'answer_quality' }], findingIds: ['quality:answer_quality:stuck'], exampleTraceIds: [],
});

describe('runChangeAgent activity', () => {
  it('records the changed files and pushes a changed scorer file with bt functions push', async () => {
    const repo = join(tmp, 'repo-push');
    cpSync(EXAMPLE_DIR, repo, { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(repo, 'node_modules'), 'dir'); // braintrust must resolve for the push
    // A "change agent" that reads the brief from stdin and edits the pushable scorer file.
    const agent = join(tmp, 'agent.mjs');
    writeFileSync(agent, `import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const brief = readFileSync(0, 'utf8');
writeFileSync('brief-seen.txt', brief.split('\\n')[0]);
appendFileSync('push-scorers.ts', '\\n// recalibrated by the change agent\\n');`);
    const acts = createActivities({ btEnv: env, appUrl: server.appUrl });
    const res: Awaited<ReturnType<typeof acts.runChangeAgent>> = await new MockActivityEnvironment().run(acts.runChangeAgent, {
      brief: { ctx: ctx(repo), goal: 'g', iteration: 1, artifact: 'measurement' as const, routes: [route('measurement')], findings: [] },
      command: [process.execPath, agent],
      timeoutMs: 60_000,
    });
    expect(readFileSync(join(repo, 'brief-seen.txt'), 'utf8')).toBe('# bt-flywheel change brief — measurement (1 problem)');
    expect(res.files.sort()).toEqual(['brief-seen.txt', 'push-scorers.ts']);
    expect(res.insertions).toBeGreaterThan(0);
    expect(res.pushedScorers).toEqual(['push-scorers.ts']);
    const fns = await new BtClient({ env, cwd: tmp }).functionsList('support-agent');
    expect(fns.map((f) => f.slug)).toEqual(expect.arrayContaining(['support-agent-answer-quality', 'support-agent-correct-category']));
    expect(existsSync(join(repo, '.git'))).toBe(false);
  });

  it('cancellation kills the change agent and its children', async () => {
    const repo = join(tmp, 'repo-cancel');
    cpSync(join(EXAMPLE_DIR, 'src'), join(repo, 'src'), { recursive: true });
    const pidFile = join(tmp, 'grandchild.pid');
    const agent = join(tmp, 'slow-agent.mjs');
    writeFileSync(agent, `import { spawn } from 'node:child_process'; import { writeFileSync } from 'node:fs';
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));
setInterval(() => {}, 1000);`);
    const acts = createActivities({ btEnv: env, appUrl: server.appUrl });
    const mock = new MockActivityEnvironment();
    const beats: unknown[] = [];
    mock.on('heartbeat', (d: unknown) => beats.push(d));
    const running = mock.run(acts.runChangeAgent, {
      brief: { ctx: ctx(repo), goal: 'g', iteration: 1, artifact: 'agent' as const, routes: [route('agent')], findings: [] },
      command: [process.execPath, agent],
      timeoutMs: 60_000,
    });
    while (!existsSync(pidFile)) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 5500)); // one heartbeat interval
    mock.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(beats.length).toBeGreaterThan(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 500));
    // Gone, or a zombie waiting for a reaper (PID 1 here does not reap): never still running.
    const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] : 'gone';
    expect(['gone', 'Z', 'X']).toContain(stat);
  });
});

describe('activity retries', () => {
  it('a retry of the same activity execution reuses the change agent result instead of running it again', async () => {
    const repo = join(tmp, 'repo-retry');
    cpSync(join(EXAMPLE_DIR, 'src'), join(repo, 'src'), { recursive: true });
    const counter = join(tmp, 'runs.txt');
    const agent = join(tmp, 'counting-agent.mjs');
    writeFileSync(agent, `import { appendFileSync } from 'node:fs'; appendFileSync(${JSON.stringify(counter)}, 'run\\n'); appendFileSync('src/agent.ts', '// touched\\n');`);
    const acts = createActivities({ btEnv: env, appUrl: server.appUrl });
    const input = { brief: { ctx: ctx(repo), goal: 'g', iteration: 7, artifact: 'agent' as const, routes: [route('agent')], findings: [] }, command: [process.execPath, agent], timeoutMs: 60_000 };
    const info = { activityId: 'a-1', workflowExecution: { workflowId: 'wf-change', runId: 'run-1' } };
    const first: Awaited<ReturnType<typeof acts.runChangeAgent>> = await new MockActivityEnvironment(info).run(acts.runChangeAgent, input);
    const retry = await new MockActivityEnvironment({ ...info, attempt: 2 }).run(acts.runChangeAgent, input);
    expect(readFileSync(counter, 'utf8')).toBe('run\n');
    expect(retry).toEqual(first);
    expect(first.files).toEqual(['src/agent.ts']);
    // A reset is a new workflow run: the change agent runs again.
    await new MockActivityEnvironment({ ...info, workflowExecution: { workflowId: 'wf-change', runId: 'run-2' } }).run(acts.runChangeAgent, input);
    expect(readFileSync(counter, 'utf8')).toBe('run\nrun\n');
  });
});

describe('revertChange activity: a rejected change is put back', () => {
  it('restores modified and deleted files (content and mode), removes added ones, and a retried revert changes nothing more', async () => {
    const repo = join(tmp, 'repo-revert');
    cpSync(join(EXAMPLE_DIR, 'src'), join(repo, 'src'), { recursive: true });
    chmodSync(join(repo, 'src', 'tools.ts'), 0o640);
    const original = (f: string) => readFileSync(join(EXAMPLE_DIR, 'src', f), 'utf8');
    const agent = join(tmp, 'editing-agent.mjs');
    writeFileSync(agent, `import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
appendFileSync('src/policy.ts', '// noop\\n');
rmSync('src/tools.ts');
mkdirSync('src/extra', { recursive: true });
writeFileSync('src/extra/new.ts', 'export const x = 1;\\n');`);
    const acts = createActivities({ btEnv: env, appUrl: server.appUrl });
    const brief = { ctx: ctx(repo), goal: 'g', iteration: 2, artifact: 'agent' as const, routes: [route('agent')], findings: [] };
    const res: Awaited<ReturnType<typeof acts.runChangeAgent>> = await new MockActivityEnvironment().run(acts.runChangeAgent, { brief, command: [process.execPath, agent], timeoutMs: 60_000 });
    expect(res.files).toEqual(['src/extra/new.ts', 'src/policy.ts', 'src/tools.ts']);
    expect(readFileSync(join(repo, 'src', 'policy.ts'), 'utf8')).toContain('// noop');

    const revert = (): Promise<Awaited<ReturnType<typeof acts.revertChange>>> =>
      new MockActivityEnvironment().run(acts.revertChange, { ctx: brief.ctx, iteration: 2, artifact: 'agent' as const, changeId: 'i2-agent' });
    const first: Awaited<ReturnType<typeof acts.revertChange>> = await revert();
    expect(first).toMatchObject({ backedUp: true, restored: ['src/extra/new.ts', 'src/policy.ts', 'src/tools.ts'], unchanged: [], overwritten: [], repushedScorers: [] });
    expect(readFileSync(join(repo, 'src', 'policy.ts'), 'utf8')).toBe(original('policy.ts'));
    expect(readFileSync(join(repo, 'src', 'tools.ts'), 'utf8')).toBe(original('tools.ts'));
    expect(statSync(join(repo, 'src', 'tools.ts')).mode & 0o777).toBe(0o640);
    expect(existsSync(join(repo, 'src', 'extra', 'new.ts'))).toBe(false);
    // Retried (idempotent): everything is already as it was.
    const again: Awaited<ReturnType<typeof acts.revertChange>> = await revert();
    expect(again).toMatchObject({ backedUp: true, restored: [], unchanged: ['src/extra/new.ts', 'src/policy.ts', 'src/tools.ts'], overwritten: [] });
    // A change with no backup (a person applied it): nothing to put back, nothing touched.
    const none: Awaited<ReturnType<typeof acts.revertChange>> = await new MockActivityEnvironment().run(acts.revertChange, { ctx: brief.ctx, iteration: 3, artifact: 'agent' as const, changeId: 'i3-agent' });
    expect(none).toMatchObject({ backedUp: false, restored: [], unchanged: [] });
  });

  it('after a retried change agent (its second snapshot already holds the first attempt\'s edit) the revert still goes back to the original', async () => {
    const { diffSnapshots, revertChangeFromBackup, saveChangeBackup, snapshotTree } = await import('../src/activities/workspace.js');
    const repo = join(tmp, 'repo-retried-agent');
    cpSync(join(EXAMPLE_DIR, 'src'), join(repo, 'src'), { recursive: true });
    const backup = join(tmp, 'backup-retried');
    const file = join(repo, 'src', 'policy.ts');
    const original = readFileSync(file, 'utf8');
    const s0 = await snapshotTree(repo);
    writeFileSync(file, original + '// attempt 1\n');
    const s1 = await snapshotTree(repo);
    await saveChangeBackup(backup, repo, s0, s1, diffSnapshots(s0, s1));
    writeFileSync(file, original + '// attempt 1\n// attempt 2\n');
    const s2 = await snapshotTree(repo);
    await saveChangeBackup(backup, repo, s1, s2, diffSnapshots(s1, s2));
    const out = await revertChangeFromBackup(backup, repo);
    expect(out.restored).toEqual(['src/policy.ts']);
    expect(readFileSync(file, 'utf8')).toBe(original);
    // Edited again after the change: still restored, and reported as overwritten.
    writeFileSync(file, original + '// attempt 1\n// attempt 2\n// later\n');
    expect((await revertChangeFromBackup(backup, repo)).overwritten).toEqual(['src/policy.ts']);
    expect(readFileSync(file, 'utf8')).toBe(original);
  });
});
