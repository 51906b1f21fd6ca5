/** The background local server: ensure/reuse/stop, the state file, seeding through HTTP, and the `local` CLI commands. */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../src/starter.js';
import { ensureLocalServer, readState, seedLocalServer, stateFilePath, stopLocalServer } from '../src/local-server/daemon.js';
import { makeBtRunner } from './support/local-server-bt.js';

const tmp = mkdtempSync(join(tmpdir(), 'local-server-daemon-'));
const home = join(tmp, '.flywheel');

/** A hand-written `bt sync pull` directory: project logs of one project id, three spans in one trace. */
function writeSyncDir(root: string, projectId: string): void {
  const spec = join(root, `project_logs_${projectId}`, 'abcdef012345');
  mkdirSync(join(spec, 'data'), { recursive: true });
  writeFileSync(
    join(spec, 'spec.json'),
    JSON.stringify({ schema_version: 1, object_ref: `project_logs:${projectId}`, object_type: 'project_logs', object_name: projectId, direction: 'pull', scope: 'traces', window: '3d', limit: 100, page_size: 1000 }),
  );
  const created = new Date().toISOString();
  const rows = [
    { id: 'r', span_id: 'r', root_span_id: 'r', project_id: projectId, created, _xact_id: '1000192656880881099', _pagination_key: 'p07', input: 'hi', output: 'hello', scores: { ok: 1 }, is_root: true },
    { id: 'c1', span_id: 'c1', root_span_id: 'r', span_parents: ['r'], project_id: projectId, created, _xact_id: '1000192656880881099', _pagination_key: 'p08', span_attributes: { type: 'llm' } },
    { id: 'c2', span_id: 'c2', root_span_id: 'r', span_parents: ['r'], project_id: projectId, created, _xact_id: '1000192656880881099', _pagination_key: 'p09', error: 'boom' },
  ];
  writeFileSync(join(spec, 'data', 'part-000001.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
}

async function runCli(args: string[]): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    // The real CLI program (global --home/--json), without a Temporal dev server for these commands.
    const program = buildProgram();
    await program.parseAsync(['--home', home, ...args], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

afterAll(async () => {
  await stopLocalServer(home).catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
});

describe('local server daemon', () => {
  it('starts once, is reused, seeds over HTTP, stops, and restarts with the same key and data', async () => {
    const first = await ensureLocalServer({ home });
    expect(first.started).toBe(true);
    expect(first.appUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(stateFilePath(home)).mode & 0o777).toBe(0o600);
    expect(readState(home)).toMatchObject({ pid: first.pid, port: first.port, apiKey: first.apiKey, dataFile: join(home, 'braintrust-local.duckdb') });
    // Production traces live in the DuckDB file: owner-only, in an owner-only home.
    expect(statSync(join(home, 'braintrust-local.duckdb')).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);

    const again = await ensureLocalServer({ home });
    expect(again).toMatchObject({ started: false, pid: first.pid, apiKey: first.apiKey });

    const projectId = '0b9a3c1e-5b1f-4a8e-9d52-7d7c3c0f1a22';
    writeSyncDir(join(tmp, 'bt-sync'), projectId);
    expect(await seedLocalServer(first, join(tmp, 'bt-sync'), { projectName: 'from-sync' })).toEqual({ projects: 1, rows: 3 });
    const bt = makeBtRunner(first.btEnv(), join(tmp, 'bt'));
    expect(await bt.json<Array<{ id: string; name: string }>>(['projects', 'list', '--json'])).toEqual([
      expect.objectContaining({ id: projectId, name: 'from-sync' }),
    ]);

    expect(await stopLocalServer(home)).toEqual({ stopped: true, pid: first.pid });
    expect(readState(home)?.pid).toBeUndefined();
    expect(await stopLocalServer(home)).toEqual({ stopped: false });

    const restarted = await ensureLocalServer({ home });
    expect(restarted.started).toBe(true);
    expect(restarted.apiKey).toBe(first.apiKey);
    const bt2 = makeBtRunner(restarted.btEnv(), join(tmp, 'bt2'));
    const n = await bt2.json<{ data: Array<{ n: number }> }>(['sql', '--json', `SELECT COUNT(*) AS n FROM project_logs('from-sync') WHERE created >= NOW() - INTERVAL 1 day`]);
    expect(n.data).toEqual([{ n: 3 }]);
    await stopLocalServer(home);
  });

  it('exposes local start/seed/status/stop commands', async () => {
    process.env.FLYWHEEL_HOME = home;
    const hidden = JSON.parse(await runCli(['local', 'start', '--no-temporal', '--json'])) as Record<string, unknown>;
    const key = readState(home)!.apiKey;
    // The key is a secret: not printed unless asked for.
    expect(JSON.stringify(hidden)).not.toContain(key);
    expect(await runCli(['local', 'start', '--no-temporal'])).not.toContain(key);
    expect(await runCli(['local', 'status'])).not.toContain(key);
    const started = JSON.parse(await runCli(['local', 'start', '--no-temporal', '--json', '--show-key'])) as Record<string, unknown>;
    expect(started).toMatchObject({ appUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/), apiUrl: expect.any(String), apiKey: key, dataFile: join(home, 'braintrust-local.duckdb') });
    expect((await runCli(['local', 'env', '--key'])).trim()).toBe(key);
    const text = await runCli(['local', 'env']);
    expect(text).toContain(`export BRAINTRUST_API_KEY=${String(started.apiKey)}`);
    expect(text).toContain(`export BRAINTRUST_APP_URL=${String(started.appUrl)}`);
    expect(text).toContain('export BRAINTRUST_ORG_NAME=local');
    const seeded = JSON.parse(await runCli(['local', 'seed', join(tmp, 'bt-sync'), '--project-name', 'from-sync', '--json'])) as Record<string, unknown>;
    expect(seeded).toMatchObject({ projects: 1, rows: 3 });
    expect(JSON.parse(await runCli(['local', 'status', '--json']))).toMatchObject({ running: true, healthy: true });
    expect(JSON.parse(await runCli(['local', 'stop', '--json']))).toMatchObject({ stopped: true });
    expect(JSON.parse(await runCli(['local', 'status', '--json']))).toMatchObject({ running: false, temporal: null });
  });
});

describe('a stale state file', () => {
  it('`local stop` never signals a process that is not this home\'s server (a recycled pid)', async () => {
    const { spawn } = await import('node:child_process');
    const staleHome = join(tmp, 'stale-home');
    mkdirSync(staleHome, { recursive: true });
    const bystander = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      writeFileSync(stateFilePath(staleHome), JSON.stringify({ pid: bystander.pid, port: 1, apiKey: 'bt-local-x', dataFile: join(staleHome, 'bt.duckdb'), orgName: 'local' }));
      expect(await stopLocalServer(staleHome)).toEqual({ stopped: false });
      expect(bystander.exitCode).toBeNull();
      expect(() => process.kill(bystander.pid!, 0)).not.toThrow();
      // The record forgets the pid it cannot vouch for.
      expect(readState(staleHome)?.pid).toBeUndefined();
    } finally {
      bystander.kill('SIGKILL');
    }
  });
});
