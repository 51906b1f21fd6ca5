/**
 * `flywheel fleet` (built CLI) over 5 example projects on one local Braintrust server and the shared dev server:
 * one fleet workflow with a child run per project, 2 at a time with jittered starts; it finishes with one fleet
 * summary and each project's own handoff.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateExampleTraces } from '../examples/support-agent/generate-traces.js';
import { fleetExitCode, parseProjectsFile } from '../src/cli/fleet.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { ensureCliBuilt, oneLineError, repoRoot } from './support/cli-flywheel.js';
import { EXAMPLE_DIR } from './support/flywheel-e2e.js';
import { describeTemporal, temporalAddress } from './support/temporal-harness.js';

const bin = join(repoRoot, 'bin', 'flywheel.js');
const PROJECTS = ['fleet-a', 'fleet-b', 'fleet-c', 'fleet-d', 'fleet-e'];

describe('fleet helpers (pure)', () => {
  it('reads a projects file: one per line, comments and blanks skipped', () => {
    expect(parseProjectsFile('a\n# not this\n\n  b  # trailing\r\nc\n')).toEqual(['a', 'b', 'c']);
  });
  it('exit code: 0 when all healthy or improved, else the worst outcome', () => {
    expect(fleetExitCode([{ outcome: 'healthy' }, { outcome: 'improved' }])).toBe(0);
    expect(fleetExitCode([{ outcome: 'healthy' }, { outcome: 'needs_work' }])).toBe(11);
    expect(fleetExitCode([{ outcome: 'needs_work' }, { outcome: 'blocked' }, { outcome: 'no_convergence' }])).toBe(12);
  });
});

describeTemporal('flywheel fleet (built CLI)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cli-fleet-'));
  let server: LocalServerHandle;
  const agentDir = join(repoRoot, 'test', `.tmp-fleet-agent-${process.pid}`);
  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
    for (const [i, name] of PROJECTS.entries()) {
      const gen = await generateExampleTraces({ outDir: join(tmp, `sync-${name}`), projectName: name, traces: 400, seed: 100 + i });
      await server.seedFromSyncDir(gen.dir, { projectName: name });
    }
    cpSync(EXAMPLE_DIR, agentDir, { recursive: true, filter: (src) => !/[\\/](\.bt|node_modules)([\\/]|$)/.test(src) });
  }, 300_000);
  afterAll(async () => {
    await server?.close();
    rmSync(agentDir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  const fleet = async (args: string[]) => {
    const r = await execa(process.execPath, [bin, '--home', join(tmp, 'home'), '--address', temporalAddress!, ...args], {
      cwd: tmp, env: { ...server.btEnv(), PATH: process.env.PATH, HOME: tmp, TEMPORAL_ADDRESS: undefined, CI: undefined }, extendEnv: false, reject: false, stdin: 'ignore', timeout: 600_000,
    });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };

  it('runs 5 projects, 2 at a time, and writes one fleet summary plus each project\'s handoff', async () => {
    const out = join(tmp, 'out');
    const r = await fleet(['--json', 'fleet', '--projects', PROJECTS.join(','), '--agent-dir', agentDir, '--no-change-agent', '--concurrency', '2', '--jitter', '2s', '--out', out, '--fleet-id', 'fleet-test']);
    expect(r.exitCode, r.stderr).toBe(11); // the example's defects: every project needs work
    const doc = JSON.parse(r.stdout) as { rows: { project: string; outcome: string; summaryPath: string }[]; summaryPath: string };
    expect(doc.rows.map((x) => x.project)).toEqual(PROJECTS);
    expect(doc.rows.every((x) => x.outcome === 'needs_work')).toBe(true);
    for (const p of PROJECTS) {
      const summary = JSON.parse(readFileSync(join(out, p, 'bt-flywheel-summary.json'), 'utf8')) as { run: { project: { name: string } } };
      expect(summary.run.project.name).toBe(p);
    }
    const fleetDoc = JSON.parse(readFileSync(join(out, 'bt-flywheel-fleet.json'), 'utf8')) as { outcomes: Record<string, number>; projects: { project: string; nextSteps: unknown[] }[] };
    expect(fleetDoc.outcomes).toEqual({ needs_work: 5 });
    expect(fleetDoc.projects.every((p) => p.nextSteps.length > 0)).toBe(true);
    expect(readFileSync(join(out, 'bt-flywheel-fleet.md'), 'utf8')).toContain('| fleet-c | needs_work |');
    // Never more than 2 children at once: their executions' start and close times overlap at most pairwise.
    const { Client, Connection } = await import('@temporalio/client');
    const connection = await Connection.connect({ address: temporalAddress! });
    try {
      const spans: [number, number][] = [];
      const memos: unknown[] = [];
      for await (const w of new Client({ connection }).workflow.list({ query: `WorkflowId STARTS_WITH 'fleet-test-fleet-'` })) {
        spans.push([w.startTime.getTime(), (w.closeTime ?? new Date()).getTime()]);
        memos.push(w.memo);
      }
      // Each child names the Braintrust its project lives on, so `flywheel run`'s one-run-per-project guard sees it.
      expect(memos).toEqual(PROJECTS.map(() => ({ braintrust: server.appUrl })));
      expect(spans).toHaveLength(5);
      const maxOverlap = Math.max(...spans.map(([s]) => spans.filter(([a, b]) => a <= s && s < b).length));
      expect(maxOverlap).toBeLessThanOrEqual(2);
    } finally {
      await connection.close();
    }
  });

  it('bad input: one clear line', async () => {
    const none = await fleet(['fleet', '--agent-dir', agentDir]);
    expect(none.exitCode).toBe(2);
    expect(oneLineError(none)).toMatch(/exactly one of --projects/);
    const unknown = await fleet(['fleet', '--projects', 'fleet-a,nope', '--agent-dir', agentDir]);
    expect(unknown.exitCode).toBe(2);
    expect(oneLineError(unknown)).toMatch(/project\(s\) not found: nope/);
    const conc = await fleet(['fleet', '--projects', 'fleet-a', '--concurrency', '50', '--agent-dir', agentDir]);
    expect(conc.exitCode).toBe(2);
    expect(oneLineError(conc)).toMatch(/--concurrency must be a whole number from 1 to 20/);
  });
});
