/**
 * Support for tests that drive the BUILT `flywheel` CLI as a subprocess against the shared dev server:
 * a once-per-run build (serialized across test files by a lock directory), a `cli()` runner bound to the
 * server address and a temp `--home`, and small activity stubs that let real flywheel workflows run
 * (healthy, parked at an interactive gate, or failing once) without Braintrust.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import type { FlywheelActivities } from '../../src/activities/index.js';
import type { DiscoverEvidence } from '../../src/workflows/logic/evidence.js';
import { healthy } from './evidence.js';
import type { HandoffPaths, OrientContext } from '../../src/workflows/types.js';
import type { FlywheelInput } from '../../schemas/flywheel-input.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin', 'flywheel.js');
const lock = join(repoRoot, 'dist', '.cli-test-build.lock');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/ is fresh when the built entry is newer than every source (tsc rewrites every output file). */
function buildIsFresh(): boolean {
  const entry = join(repoRoot, 'dist', 'src', 'starter.js');
  if (!existsSync(entry)) return false;
  const sources = Math.max(newestSource(join(repoRoot, 'src')), newestSource(join(repoRoot, 'schemas')));
  return statSync(entry).mtimeMs > sources;
}

/** Builds dist/ with `tsc -p tsconfig.build.json` unless it is newer than every source; one builder at a time. */
export async function ensureCliBuilt(): Promise<void> {
  mkdirSync(join(repoRoot, 'dist'), { recursive: true });
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      mkdirSync(lock);
    } catch {
      // Another test file is building: wait for it (a lock older than 3 minutes is stale).
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another test file to build the CLI');
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      if (buildIsFresh()) return;
      const res = await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, reject: false, all: true });
      if (res.exitCode !== 0) throw new Error(`building the CLI failed:\n${res.all}`);
      // And its pre-built workflow bundle, as `npm run build` does (a stale one would be ignored, not used).
      const bundled = await execa(process.execPath, [join(repoRoot, 'dist', 'src', 'workflow-bundle.js')], { cwd: repoRoot, reject: false, all: true });
      if (bundled.exitCode !== 0) throw new Error(`bundling the workflow code failed:\n${bundled.all}`);
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type Cli = (args: string[], opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }) => Promise<CliResult>;

/** `node bin/flywheel.js <args> --address <address> --home <home>`, run in `cwd` (no config file there). */
export function makeCli(address: string, home: string, cwd: string): Cli {
  return async (args, opts = {}) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
    for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_PROFILE', 'FLYWHEEL_CONFIG', 'CI']) {
      if (!opts.env || !(k in opts.env)) delete env[k];
    }
    const res = await execa(process.execPath, [bin, ...args, '--address', address, '--home', home], {
      cwd,
      env,
      extendEnv: false,
      reject: false,
      timeout: opts.timeoutMs ?? 60_000,
      stdin: 'ignore',
    });
    return { exitCode: res.exitCode ?? -1, stdout: String(res.stdout), stderr: String(res.stderr) };
  };
}

/** Asserts the shape of a user error: exactly one line on stderr, no stack trace. */
export function oneLineError(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  if (lines.length !== 1 || /\n\s+at /.test(r.stderr)) throw new Error(`expected one error line, got:\n${r.stderr}`);
  return lines[0]!;
}

// ─── a flywheel without Braintrust ────────────────────────────────────────────────────────────────

/** Discover evidence: healthy production, or tool errors + root spans without input (a two-step plan). */
export function evidence(kind: 'healthy' | 'plan', project: string): DiscoverEvidence {
  const e = healthy(project);
  if (kind === 'plan') {
    e.reliability.toolErrors = [{ tool: 'search', errors: 40, calls: 400, exampleTraceIds: ['t-tool-1', 't-tool-2'] }];
    Object.assign(e.instrumentation, { missingInput: 150, missingInputShare: 0.3, exampleTraceIds: ['t-noinput-1'] });
  }
  return e;
}

/** The plan steps `evidence('plan')` leads to, in plan order. */
export const PLAN_STEPS = ['instrumentation:root_io', 'agent:tool:search'];

export interface StubOptions {
  /** A directory for run files and handoffs. */
  dir: string;
  /** Which evidence Discover returns for a project (default healthy). */
  evidenceFor?: (project: string) => 'healthy' | 'plan';
  /** While this file exists, Discover deletes it and fails non-retryably (a failure that a reset then gets past). */
  failOnceFlag?: (workflowId: string) => string;
}

/** Stubs for the activities the flywheel calls on these paths; the handoff stub writes a tiny summary. */
export function stubActivities(opts: StubOptions): Partial<FlywheelActivities> {
  return {
    async orient(config, workflowId): Promise<OrientContext> {
      const name = config.project ?? 'unknown';
      return {
        workflowId,
        runDir: join(opts.dir, 'runs', workflowId),
        project: { id: 'p1', name, source: 'input', sourceDetail: '--project' },
        org: 'acme',
        appUrl: 'http://127.0.0.1:9',
        baseline: null,
        scoreColumns: ['Factuality'],
        facetColumns: [],
        metadataKeys: [],
        schemaWindowDays: 7,
        primaryScore: 'Factuality',
        binaryScores: [],
        agentDir: config.agentDir,
        evalFiles: [],
        evalFilesSource: 'none found',
        datasetName: `flywheel-${name}`,
        instructionFiles: [],
        notes: [],
      };
    },
    async loadBaseline() {
      return null;
    },
    async discover(p) {
      const flag = opts.failOnceFlag?.(p.ctx.workflowId);
      if (flag && existsSync(flag)) {
        rmSync(flag);
        throw ApplicationFailure.nonRetryable('the evidence plane is down (test)', 'ProjectNotFound');
      }
      return evidence(opts.evidenceFor?.(p.ctx.project.name) ?? 'healthy', p.ctx.project.name);
    },
    // Scores against behaviour (after Diagnose): nothing errored or empty was scored, so no contradiction.
    async checkScoreBehaviour(p) {
      return { scores: p.scores.map((score) => ({ score, erroredScored: 0, erroredHigh: 0, emptyScored: 0, emptyHigh: 0, exampleTraceIds: [] })), query: null };
    },
    async writeBrief(brief) {
      return { path: join(opts.dir, 'brief.md'), body: `brief for ${brief.routes.map((r) => r.id).join(", ")}` };
    },
    async writeHandoff(p): Promise<HandoffPaths> {
      const outcome = p.input.outcome ?? (p.input.diagnosis && p.input.diagnosis.routes.every((r) => r.artifact === 'none') ? 'healthy' : 'needs_work');
      mkdirSync(p.outDir, { recursive: true });
      const summaryPath = join(p.outDir, `${p.input.workflowId}-summary.json`);
      writeFileSync(summaryPath, JSON.stringify({ outcome, gates: p.input.gates }));
      return { summaryPath, narrativePath: join(p.outDir, `${p.input.workflowId}-narrative.md`), outcome };
    },
  };
}

/** A valid workflow input for the stubs. */
export function flywheelInput(dir: string, over: Partial<FlywheelInput> = {}): FlywheelInput {
  return { agentDir: dir, outDir: join(dir, 'out'), runsDir: join(dir, 'runs'), mode: 'autonomous', gateTimeout: '1h', ...over };
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
