/**
 * End-to-end benchmark of one complete flywheel run on the example project, at several production trace
 * volumes, on the real parts.
 *
 *   npx tsx bench/flywheel-bench.ts [--traces 3000,30000,300000] [--shard 30000] [--budget-min 10]
 *                                   [--no-append] [--json FILE] [--keep] [--reuse-dir DIR]
 *
 * Once: starts a Temporal CLI dev server (SQLite state in a temp dir, headless) and bundles the workflow code.
 * Per volume:
 *   1. generates `defective` example traces with examples/support-agent/generate-traces.ts (timed). One call
 *      writes its whole NDJSON as one string, and V8 strings stop at ~512 MiB (~130k traces of ~4 KB), so
 *      volumes above --shard are generated as several shards with seeds 42, 43, … and the same `now`;
 *   2. seeds them into a fresh local Braintrust server (DuckDB file; timed);
 *   3. runs `flywheelWorkflow` (autonomous, workOnCopy, the example's change agent and labeler, as in
 *      test/support/flywheel-e2e.ts) on a fresh worker with the real activities, polling the status query
 *      every 250 ms to time each phase;
 *   4. records the outcome, the history (bytes of its JSON, events, per-activity time from its events),
 *      peak RSS of this process (sampled `process.memoryUsage().rss`, and the kernel's VmHWM reset per stage),
 *      the DuckDB file size, every `bt` subprocess (a wrapper script logs start, end and subcommand) and the
 *      discover activity's queries.jsonl (per-query time).
 * Then appends a section to bench/BENCHMARKS.md (unless --no-append) and prints it.
 *
 * --reuse-dir DIR (for A/B iterations): the first run of a volume generates and seeds as above, then closes the
 * server (a DuckDB CHECKPOINT) and keeps a pristine copy of the seeded file in DIR/v<traces>/ with the generation
 * instant; later runs with the same DIR copy that pristine file to a fresh DuckDB file (so nothing a previous run
 * wrote — datasets, experiments — is seen by the next) and skip generation and seeding (their times are reported
 * from the first run). With --reuse-dir every run, including the first, pins the clock of the local server and the
 * activities (src/clock.ts) to the instant right after seeding, so Discover's windows select the same rows however
 * old the kept data is. Workflow time, bt eval and stored `created` stamps stay real, as in the e2e tests.
 *
 * Budget: when the measured generation + seeding time per trace predicts more than --budget-min minutes for
 * the next volume, that volume is reduced to fit, and the report says so.
 */
import { type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, NativeConnection, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { execa } from 'execa';
import { generateExampleTraces } from '../examples/support-agent/generate-traces.js';
import type { FlywheelInput } from '../schemas/flywheel-input.js';
import { createActivities } from '../src/activities/index.js';
import { resolveBtBinary } from '../src/bt/run.js';
import { startLocalServer } from '../src/local-server/index.js';
import { fixedClock } from '../src/clock.js';
import { defaultBtPath, findTemporalCli, packageRoot } from '../src/paths.js';
import { DEFAULT_NAMESPACE } from '../src/shared.js';
import { freePort, spawnDevServer, waitForTemporal } from '../src/temporal/devserver.js';
import { createWorker, workflowsPath } from '../src/worker.js';
import { runResult } from '../src/run-result.js';
import { statusQuery, type Phase } from '../src/workflows/definitions.js';
import { flywheelWorkflow, type FlywheelResult } from '../src/workflows/flywheel.js';
import { startDaemonServer } from './support.js';

const { values: opts } = parseArgs({
  options: {
    traces: { type: 'string', default: '3000,30000,300000' },
    shard: { type: 'string', default: '30000' },
    'budget-min': { type: 'string', default: '10' },
    'no-append': { type: 'boolean', default: false },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'reuse-dir': { type: 'string' },
    server: { type: 'string', default: 'in-process' },
  },
});
const SERVER_MODE = opts.server;
const VOLUMES = opts.traces.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
const SHARD = Number(opts.shard);
const BUDGET_MS = Number(opts['budget-min']) * 60_000;
const REUSE_DIR = opts['reuse-dir'] ? resolve(opts['reuse-dir']) : null;
if (VOLUMES.some((v) => !Number.isInteger(v) || v < 1) || !(SHARD > 0) || !(BUDGET_MS > 0) || (SERVER_MODE !== 'in-process' && SERVER_MODE !== 'daemon')) {
  process.stderr.write('usage: npx tsx bench/flywheel-bench.ts [--traces 3000,30000,300000] [--shard 30000] [--budget-min 10] [--no-append] [--json FILE] [--keep] [--reuse-dir DIR] [--server in-process|daemon]\n');
  process.exit(2);
}

const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');
const CHANGE_AGENT = [process.execPath, join(EXAMPLE_DIR, 'change-agent.mjs')];
const LABELER = [join(packageRoot, 'node_modules', '.bin', 'tsx'), join(EXAMPLE_DIR, 'labeler.ts')];
const POLL_MS = 250;
const PHASES: Phase[] = ['orient', 'discover', 'diagnose', 'improve', 'verify', 'handoff'];

const log = (m: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);

// ---------------------------------------------------------------------------------------------------
// Memory: a sampler for process.memoryUsage().rss and the kernel's peak (VmHWM, reset per stage).

class RssMeter {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(intervalMs = 100) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }
  /** Starts a stage: resets both peaks. */
  reset(): void {
    try {
      writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS (Linux ≥ 4.0)
    } catch {
      /* not Linux: the sampled peak still works */
    }
    this.peak = process.memoryUsage().rss;
  }
  /** Peaks since the last reset: sampled (misses synchronous stretches) and the kernel's high-water mark. */
  read(): { sampled: number; hwm: number | null } {
    this.sample();
    return { sampled: this.peak, hwm: procKb('self', 'VmHWM') };
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

function procKb(pid: number | 'self', field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------
// Results

interface BtCall {
  start: number;
  end: number;
  exitCode: number;
  command: string;
  phase: string;
}
interface DiscoverQuery {
  iteration: number;
  query: string;
  shape: string;
  rows: number;
  ms: number;
}
interface PhaseSegment {
  phase: Phase;
  iteration: number;
  startMs: number;
  durationMs: number;
}
interface ActivityTime {
  type: string;
  count: number;
  totalMs: number;
  maxAttempt: number;
}
interface VolumeResult {
  requested: number;
  traces: number;
  spans: number;
  shards: number;
  ndjsonBytes: number;
  generateMs: number;
  seedMs: number;
  seededRows: number;
  duckdbBytes: number | null;
  workerStartMs: number;
  runMs: number;
  outcome: string;
  iterations: number;
  error: string | null;
  historyBytes: number;
  historyEvents: number;
  largestEvent: { bytes: number; type: string; activity?: string };
  rss: { generate: { sampled: number; hwm: number | null }; seed: { sampled: number; hwm: number | null }; run: { sampled: number; hwm: number | null } };
  peakRssSampled: number;
  segments: PhaseSegment[];
  phaseMs: Record<string, number>;
  activityTrail: { at: number; phase: Phase; iteration: number; activity: string }[];
  statusPolls: number;
  statusPollFailures: number;
  activities: ActivityTime[];
  btCalls: BtCall[];
  discoverQueries: DiscoverQuery[];
  loadAvg: { before: number; after: number };
  /** --reuse-dir: the data came from a kept seeded file (generation and seeding times are the first run's). */
  reused?: { dir: string; seededAt: string };
}

/** What --reuse-dir keeps next to the pristine seeded DuckDB file. */
interface ReuseMeta {
  traces: number;
  spans: number;
  shards: number;
  ndjsonBytes: number;
  generateMs: number;
  seedMs: number;
  seededRows: number;
  rssGenerate: { sampled: number; hwm: number | null };
  rssSeed: { sampled: number; hwm: number | null };
  /** The instant right after seeding: the pinned clock of every run on this data. */
  seededAt: string;
}

// ---------------------------------------------------------------------------------------------------
// bt wrapper: counts and times every bt subprocess the activities start (bash start-up adds ~2 ms each).

function writeBtWrapper(dir: string, logFile: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'bt');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    path,
    [
      '#!/bin/bash',
      'start=$EPOCHREALTIME',
      // What runBt runs for the default path: the native binary behind the npm launcher (src/bt/run.ts).
      `${q(resolveBtBinary(defaultBtPath()))} "$@"`,
      'rc=$?',
      'cmd=$1',
      'if [[ ${2-} =~ ^[a-z][a-z-]*$ ]]; then cmd="$1 $2"; fi',
      `printf '%s\\t%s\\t%s\\t%s\\n' "$start" "$EPOCHREALTIME" "$rc" "$cmd" >> ${q(logFile)}`,
      'exit $rc',
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

function readBtCalls(logFile: string): Omit<BtCall, 'phase'>[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [start, end, rc, command] = line.split('\t');
      return { start: Number(start) * 1000, end: Number(end) * 1000, exitCode: Number(rc), command: command ?? '?' };
    })
    .sort((a, b) => a.start - b.start);
}

// ---------------------------------------------------------------------------------------------------
// History analysis

interface HistoryEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  activityTaskStartedEventAttributes?: { scheduledEventId?: string; attempt?: number };
  activityTaskCompletedEventAttributes?: { scheduledEventId?: string };
  activityTaskFailedEventAttributes?: { scheduledEventId?: string };
  activityTaskTimedOutEventAttributes?: { scheduledEventId?: string };
  activityTaskCanceledEventAttributes?: { scheduledEventId?: string };
}

const eventMs = (t: string) => Date.parse(t.replace(/(\.\d{3})\d*Z$/, '$1Z'));

function analyseHistory(json: string): { events: number; largest: VolumeResult['largestEvent']; activities: ActivityTime[] } {
  const events = (JSON.parse(json) as { events: HistoryEvent[] }).events;
  const scheduled = new Map<string, { type: string; at: number; attempt: number }>();
  const byType = new Map<string, ActivityTime>();
  let largest: VolumeResult['largestEvent'] = { bytes: 0, type: '' };
  for (const e of events) {
    const bytes = Buffer.byteLength(JSON.stringify(e));
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) scheduled.set(e.eventId, { type: sched.activityType?.name ?? '?', at: eventMs(e.eventTime), attempt: 1 });
    const started = e.activityTaskStartedEventAttributes;
    if (started?.scheduledEventId) {
      const s = scheduled.get(started.scheduledEventId);
      if (s) s.attempt = Math.max(s.attempt, started.attempt ?? 1);
    }
    const closed =
      e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
    const s = closed?.scheduledEventId ? scheduled.get(closed.scheduledEventId) : undefined;
    if (s) {
      const t = byType.get(s.type) ?? { type: s.type, count: 0, totalMs: 0, maxAttempt: 1 };
      t.count++;
      t.totalMs += eventMs(e.eventTime) - s.at;
      t.maxAttempt = Math.max(t.maxAttempt, s.attempt);
      byType.set(s.type, t);
    }
    const activity = s?.type ?? (sched ? scheduled.get(e.eventId)?.type : undefined);
    if (bytes > largest.bytes) largest = { bytes, type: e.eventType.replace(/^EVENT_TYPE_/, '').toLowerCase(), ...(activity ? { activity } : {}) };
  }
  return { events: events.length, largest, activities: [...byType.values()].sort((a, b) => b.totalMs - a.totalMs) };
}

// ---------------------------------------------------------------------------------------------------
// Discover's per-query log

/** The query with ids and literals masked, so the same query matches across volumes (and repeats group). */
function queryShape(query: string): string {
  return query
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/'(?:[^']|'')*'/g, "'…'")
    .replace(/\s+/g, ' ')
    .trim();
}

function findFiles(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findFiles(p, name));
    else if (entry.name === name) out.push(p);
  }
  return out;
}

function readDiscoverQueries(runsDir: string): DiscoverQuery[] {
  const out: DiscoverQuery[] = [];
  for (const file of findFiles(runsDir, 'queries.jsonl').sort()) {
    const iteration = Number(/iter-(\d+)/.exec(file)?.[1] ?? 0);
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { query: string; rows: number; ms: number };
      out.push({ iteration, query: e.query, shape: queryShape(e.query), rows: e.rows, ms: e.ms });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// One volume

interface Shared {
  root: string;
  address: string;
  client: Client;
  bundlePath: string;
  rss: RssMeter;
}

/**
 * Generates and seeds `traces` into `dataFile` (a fresh local server, closed again after seeding). With --reuse-dir,
 * a kept pristine seeded file is copied instead when there is one, and kept after a fresh seeding otherwise.
 */
async function prepareData(shared: Shared, dir: string, traces: number, dataFile: string): Promise<{ meta: ReuseMeta; reused: string | null }> {
  const keepDir = REUSE_DIR ? join(REUSE_DIR, `v${traces}`) : null;
  const keptFile = keepDir ? join(keepDir, 'seeded.duckdb') : null;
  const metaFile = keepDir ? join(keepDir, 'meta.json') : null;
  if (keptFile && metaFile && existsSync(keptFile) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as ReuseMeta;
    copyFileSync(keptFile, dataFile);
    log(`${int(traces)} traces: reusing the seeded file in ${keepDir} (seeded at ${meta.seededAt}; a fresh copy for this run)`);
    return { meta, reused: keepDir };
  }

  // 1. Generate (sharded above SHARD traces; same `now` so every shard covers the same window).
  log(`${traces.toLocaleString('en-US')} traces: generating`);
  shared.rss.reset();
  const now = new Date();
  const shardDirs: string[] = [];
  let spans = 0;
  let generated = 0;
  let ndjsonBytes = 0;
  const g0 = performance.now();
  for (let i = 0; generated < traces; i++) {
    const n = Math.min(SHARD, traces - generated);
    const gen = await generateExampleTraces({ outDir: join(dir, 'sync', `shard-${i}`), projectName: 'support-agent', variant: 'defective', traces: n, seed: 42 + i, now });
    shardDirs.push(gen.dir);
    spans += gen.spans;
    generated += gen.traces;
    for (const f of findFiles(join(gen.dir, 'data'), 'part-000001.jsonl')) ndjsonBytes += statSync(f).size;
  }
  const generateMs = performance.now() - g0;
  const rssGenerate = shared.rss.read();
  log(`  ${spans.toLocaleString('en-US')} spans, ${(ndjsonBytes / 1e6).toFixed(0)} MB NDJSON in ${(generateMs / 1000).toFixed(1)} s (${shardDirs.length} shard(s))`);

  // 2. Seed a fresh local server (closed again: the run opens its own on the same file).
  const server = await startLocalServer({ port: 0, dataFile });
  let seededRows = 0;
  let seedMs = 0;
  let rssSeed: ReuseMeta['rssSeed'];
  try {
    shared.rss.reset();
    const s0 = performance.now();
    for (const d of shardDirs) seededRows += (await server.seedFromSyncDir(d, { projectName: 'support-agent' })).rows;
    seedMs = performance.now() - s0;
    rssSeed = shared.rss.read();
  } finally {
    await server.close();
  }
  log(`  seeded ${seededRows.toLocaleString('en-US')} rows in ${(seedMs / 1000).toFixed(1)} s`);
  if (!opts.keep) rmSync(join(dir, 'sync'), { recursive: true, force: true });
  const meta: ReuseMeta = { traces: generated, spans, shards: shardDirs.length, ndjsonBytes, generateMs, seedMs, seededRows, rssGenerate, rssSeed, seededAt: new Date().toISOString() };
  if (keepDir && keptFile && metaFile) {
    mkdirSync(keepDir, { recursive: true });
    copyFileSync(dataFile, keptFile);
    writeFileSync(metaFile, JSON.stringify(meta, null, 2));
    log(`  kept the seeded file in ${keepDir} for later runs with --reuse-dir`);
  }
  return { meta, reused: null };
}

async function runVolume(shared: Shared, traces: number, requested: number): Promise<VolumeResult> {
  const dir = join(shared.root, `v${traces}`);
  const home = join(dir, 'home');
  mkdirSync(join(home, '.config'), { recursive: true });
  const loadBefore = loadavg()[0]!;

  // 1.–2. Generate and seed (or, with --reuse-dir, copy the kept seeded file).
  const dataFile = join(dir, 'bt.duckdb');
  const data = await prepareData(shared, dir, traces, dataFile);
  const { spans, generateMs, seedMs, seededRows, ndjsonBytes, rssGenerate, rssSeed } = data.meta;
  const generated = data.meta.traces;
  const shardCount = data.meta.shards;
  const clock = REUSE_DIR ? fixedClock(data.meta.seededAt) : undefined;
  const server = SERVER_MODE === 'daemon' ? await startDaemonServer(dataFile, join(dir, 'daemon'), REUSE_DIR ? new Date(data.meta.seededAt) : undefined) : await startLocalServer({ port: 0, dataFile, ...(clock ? { now: clock } : {}) });
  let serverClosed = false;
  const closeServer = async () => {
    if (serverClosed) return;
    serverClosed = true;
    await server.close();
  };
  try {
    // 3. Worker with the real activities; bt through the counting wrapper.
    const btLog = join(dir, 'bt-calls.tsv');
    const btPath = writeBtWrapper(join(dir, 'bin'), btLog);
    const btEnv = { ...server.btEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), PATH: process.env.PATH ?? '' };
    const activities = createActivities({ btEnv, appUrl: server.appUrl, btPath, ...(clock ? { clock } : {}) });
    const taskQueue = `flywheel-bench-${traces}-${Date.now()}`;
    const w0 = performance.now();
    const nativeConnection = await NativeConnection.connect({ address: shared.address });
    let result: FlywheelResult | null = null;
    let error: string | null = null;
    let runMs = 0;
    let runStart = 0;
    let runEnd = 0;
    let workerStartMs = 0;
    const workflowId = `bench-${traces}-${Date.now()}`;
    const trail: VolumeResult['activityTrail'] = [];
    let polls = 0;
    let pollFailures = 0;
    const input: FlywheelInput = {
      project: 'support-agent',
      goal: 'general health check',
      mode: 'autonomous',
      modeReason: 'benchmark',
      agentDir: EXAMPLE_DIR,
      workOnCopy: true,
      changeCommand: CHANGE_AGENT,
      labeler: LABELER,
      outDir: join(dir, 'out'),
      runsDir: join(dir, 'runs'),
    };
    try {
      const worker = await createWorker({
        connection: nativeConnection,
        namespace: DEFAULT_NAMESPACE,
        taskQueue,
        activities,
        workflowBundle: { codePath: shared.bundlePath },
        shutdownGraceTime: '5s',
      });
      workerStartMs = performance.now() - w0;
      log(`  running the flywheel (workflow ${workflowId})`);
      shared.rss.reset();
      try {
        result = await worker.runUntil(async () => {
          runStart = Date.now();
          const t0 = performance.now();
          const handle = await shared.client.workflow.start(flywheelWorkflow, { taskQueue, workflowId, args: [input] });
          let done = false;
          const poller = (async () => {
            let last = '';
            while (!done) {
              const tick = Date.now();
              try {
                const s = await (handle as WorkflowHandle<typeof flywheelWorkflow>).query(statusQuery);
                polls++;
                const key = `${s.phase}|${s.iteration}|${s.activity}`;
                if (key !== last && !done) {
                  // The first observation is attributed to the start of the run.
                  trail.push({ at: trail.length ? tick : runStart, phase: s.phase, iteration: s.iteration, activity: s.activity });
                  if (s.phase !== trail.at(-2)?.phase) log(`    ${s.phase} (iteration ${s.iteration})`);
                  last = key;
                }
              } catch {
                pollFailures++;
              }
              await sleep(Math.max(0, POLL_MS - (Date.now() - tick)));
            }
          })();
          try {
            const r = await runResult(handle);
            runMs = performance.now() - t0;
            runEnd = Date.now();
            return r;
          } finally {
            done = true;
            await poller;
          }
        });
      } catch (err) {
        error = err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err);
        runEnd = runEnd || Date.now();
        runMs = runMs || runEnd - runStart;
      }
    } finally {
      await nativeConnection.close();
    }
    const rssRun = shared.rss.read();
    log(`  ${result ? `outcome ${result.outcome} after ${result.iterations} iteration(s)` : `failed: ${error}`} in ${(runMs / 1000).toFixed(1)} s`);

    // 4. History, phases, bt calls, discover queries.
    const handle = shared.client.workflow.getHandle(workflowId);
    const historyJson = historyToJSON(await handle.fetchHistory());
    const hist = analyseHistory(historyJson);

    const segments: PhaseSegment[] = [];
    for (const t of trail) {
      const last = segments.at(-1);
      if (last && last.phase === t.phase && last.iteration === t.iteration) continue;
      segments.push({ phase: t.phase, iteration: t.iteration, startMs: t.at, durationMs: 0 });
    }
    segments.forEach((s, i) => (s.durationMs = (segments[i + 1]?.startMs ?? runEnd) - s.startMs));
    const phaseMs: Record<string, number> = {};
    for (const s of segments) phaseMs[s.phase] = (phaseMs[s.phase] ?? 0) + s.durationMs;
    const phaseAt = (t: number) => [...segments].reverse().find((s) => s.startMs <= t)?.phase ?? 'orient';
    const btCalls = readBtCalls(btLog).map((c) => ({ ...c, phase: phaseAt(c.start) }));

    await closeServer();
    let duckdbBytes: number | null = null;
    for (const f of [dataFile, `${dataFile}.wal`]) if (existsSync(f)) duckdbBytes = (duckdbBytes ?? 0) + statSync(f).size;

    return {
      requested,
      traces: generated,
      spans,
      shards: shardCount,
      ndjsonBytes,
      generateMs,
      seedMs,
      seededRows,
      duckdbBytes,
      workerStartMs,
      runMs,
      outcome: result?.outcome ?? 'failed',
      iterations: result?.iterations ?? 0,
      error: result?.error ?? error,
      historyBytes: Buffer.byteLength(historyJson),
      historyEvents: hist.events,
      largestEvent: hist.largest,
      rss: { generate: rssGenerate, seed: rssSeed, run: rssRun },
      peakRssSampled: Math.max(rssGenerate.sampled, rssSeed.sampled, rssRun.sampled),
      segments,
      phaseMs,
      activityTrail: trail,
      statusPolls: polls,
      statusPollFailures: pollFailures,
      activities: hist.activities,
      btCalls,
      discoverQueries: readDiscoverQueries(join(dir, 'runs')),
      loadAvg: { before: loadBefore, after: loadavg()[0]! },
      ...(data.reused ? { reused: { dir: data.reused, seededAt: data.meta.seededAt } } : {}),
    };
  } finally {
    await closeServer();
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (b: number | null) => (b === null ? 'n/a' : b >= 1e6 ? `${(b / 1e6).toFixed(b >= 1e8 ? 0 : 1)} MB` : `${(b / 1e3).toFixed(0)} kB`);
const gb = (b: number | null) => (b === null ? 'n/a' : `${(b / 2 ** 30).toFixed(2)} GiB`);
const int = (n: number) => n.toLocaleString('en-US');
const md = (s: string) => s.replace(/\|/g, '\\|');
/** Growth exponent k in time ∝ volume^k between two points. */
const exponent = (a: number, b: number, va: number, vb: number) => (a > 0 && b > 0 && va !== vb ? Math.log(b / a) / Math.log(vb / va) : NaN);

interface Machine {
  nproc: string;
  cpu: string;
  memGiB: string;
  freeGiB: string;
  node: string;
  temporal: string;
  bt: string;
  loadAvg: string;
}

function report(machine: Machine, results: VolumeResult[], notes: string[], setup: { serverStartMs: number; bundleMs: number; temporalPeakRss: number | null }): string {
  const L: string[] = [];
  const cols = results.map((r) => int(r.traces));
  const head = (first: string) => [`| ${first} | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  const row = (label: string, f: (r: VolumeResult) => string) => `| ${label} | ${results.map(f).join(' | ')} |`;

  L.push('', `## Flywheel end-to-end runs by trace volume (${new Date().toISOString().slice(0, 10)})`, '');
  L.push('Generated by `npx tsx bench/flywheel-bench.ts` (see the header of that file for what it does): one complete autonomous flywheel');
  L.push('run on the example project (`defective` traces, workOnCopy, the example change agent and labeler) per volume, on the real parts —');
  L.push(`a Temporal CLI dev server (SQLite, headless), a fresh local Braintrust server (DuckDB) per volume ${SERVER_MODE === 'daemon' ? 'in its own background process (`--server daemon`, as `flywheel run` starts it)' : 'in the bench process'}, the real \`bt\`, the real activities`);
  L.push('and an in-process worker. Phase times come from polling the status query every 250 ms; activity times from the workflow history.');
  L.push('');
  L.push(`- Date: ${new Date().toISOString()}`);
  L.push(`- Machine: nproc=${machine.nproc}, CPU ${machine.cpu}, memory ${machine.memGiB} GiB (free at start ${machine.freeGiB} GiB), load average at start ${machine.loadAvg}; shared with another engineer's work`);
  L.push(`- Node ${machine.node}, ${machine.temporal}, bt ${machine.bt}, @duckdb/node-api 1.5.6-r.1`);
  L.push(`- Set-up (once): dev server ready in ${s1(setup.serverStartMs)}, workflow bundle built in ${s1(setup.bundleMs)}; dev server peak RSS over the whole bench ${gb(setup.temporalPeakRss)}`);
  for (const n of notes) L.push(`- ${n}`);
  L.push('');

  L.push('### Data and run', '');
  L.push(...head('traces'));
  L.push(row('spans (generator shards)', (r) => `${int(r.spans)} (${r.shards})`));
  L.push(row('NDJSON', (r) => mb(r.ndjsonBytes)));
  L.push(row('trace generation', (r) => s1(r.generateMs)));
  L.push(row('seeding (DuckDB)', (r) => `${s1(r.seedMs)} (${int(Math.round(r.seededRows / (r.seedMs / 1000)))} rows/s)`));
  L.push(row('DuckDB file after the run', (r) => mb(r.duckdbBytes)));
  L.push(row('worker creation', (r) => s1(r.workerStartMs)));
  L.push(row('**flywheel run (start → result)**', (r) => `**${s1(r.runMs)}**`));
  L.push(row('outcome (iterations)', (r) => `${r.outcome} (${r.iterations})${r.error ? ` — ${md(r.error.slice(0, 120))}` : ''}`));
  L.push(row('history JSON', (r) => mb(r.historyBytes)));
  L.push(row('history events', (r) => int(r.historyEvents)));
  L.push(row('largest history event', (r) => `${mb(r.largestEvent.bytes)} (${r.largestEvent.activity ? `${r.largestEvent.activity} ` : ''}${r.largestEvent.type})`));
  L.push(row('bt subprocesses (of which `bt sql`)', (r) => `${r.btCalls.length} (${r.btCalls.filter((c) => c.command === 'sql').length})`));
  L.push(row('discover queries (queries.jsonl)', (r) => `${r.discoverQueries.length} in ${s1(r.discoverQueries.reduce((a, q) => a + q.ms, 0))}`));
  L.push(row('peak RSS: generation (VmHWM)', (r) => gb(r.rss.generate.hwm)));
  L.push(row('peak RSS: seeding (VmHWM)', (r) => gb(r.rss.seed.hwm)));
  L.push(row('peak RSS: flywheel run (VmHWM)', (r) => gb(r.rss.run.hwm)));
  L.push(row('peak RSS, sampled `memoryUsage().rss` every 100 ms', (r) => gb(r.peakRssSampled)));
  L.push(row('load average (1 min) before → after', (r) => `${r.loadAvg.before.toFixed(1)} → ${r.loadAvg.after.toFixed(1)}`));
  L.push('');

  L.push('### Time per phase (status query, 250 ms resolution; summed over iterations)', '');
  L.push(...head('phase'));
  for (const p of PHASES) L.push(row(p, (r) => (r.phaseMs[p] === undefined ? '—' : `${s1(r.phaseMs[p]!)} (${Math.round((100 * r.phaseMs[p]!) / r.runMs)}%)`)));
  L.push('');
  L.push('"—": never seen by a poll. Diagnose is pure workflow code that runs in the same workflow task as the end of discover, so no query');
  L.push('can observe it; its time is inside "discover". Orient includes loading (here: running) the baseline eval.');
  L.push('');

  const actTypes = [...new Set(results.flatMap((r) => r.activities.map((a) => a.type)))];
  const last = results.at(-1)!;
  actTypes.sort((a, b) => (last.activities.find((x) => x.type === b)?.totalMs ?? 0) - (last.activities.find((x) => x.type === a)?.totalMs ?? 0));
  L.push('### Time per activity (history: scheduled → closed, summed; ×count)', '');
  L.push(...head('activity'));
  for (const t of actTypes) {
    L.push(
      row(t, (r) => {
        const a = r.activities.find((x) => x.type === t);
        return a ? `${s1(a.totalMs)} ×${a.count}${a.maxAttempt > 1 ? ` (attempt ${a.maxAttempt})` : ''}` : '—';
      }),
    );
  }
  L.push('');

  const cmds = [...new Set(results.flatMap((r) => r.btCalls.map((c) => c.command)))].sort();
  L.push('### bt subprocesses by command (count, summed wall time)', '');
  L.push(...head('command'));
  for (const c of cmds) {
    L.push(
      row(`\`bt ${c}\``, (r) => {
        const xs = r.btCalls.filter((x) => x.command === c);
        return xs.length ? `${xs.length} / ${s1(xs.reduce((a, x) => a + x.end - x.start, 0))}` : '—';
      }),
    );
  }
  L.push(row('by phase', (r) => PHASES.map((p) => [p, r.btCalls.filter((x) => x.phase === p).length] as const).filter(([, n]) => n).map(([p, n]) => `${p} ${n}`).join(', ')));
  L.push('');
  L.push('A call counts for the phase the last poll had seen when it started, so one started in the first ≤ 250 ms of a phase can count for the previous one.');
  L.push('');

  // Discover queries, grouped by shape; the slowest at the largest volume.
  const byShape = (r: VolumeResult) => {
    const m = new Map<string, { ms: number; n: number; rows: number }>();
    for (const q of r.discoverQueries) {
      const e = m.get(q.shape) ?? { ms: 0, n: 0, rows: 0 };
      e.ms += q.ms;
      e.n++;
      e.rows += q.rows;
      m.set(q.shape, e);
    }
    return m;
  };
  const shapes = results.map(byShape);
  const lastShapes = shapes.at(-1)!;
  const top = [...lastShapes.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
  L.push(`### Slowest discover queries at ${int(last.traces)} traces (queries.jsonl, summed over repeats and iterations; ms)`, '');
  L.push(`| query (ids and literals masked) | ${cols.join(' | ')} | growth ×${results.length > 1 ? (last.traces / results[0]!.traces).toFixed(0) : 1} traces |`);
  L.push(`|---|${cols.map(() => '---:').join('|')}|---:|`);
  const legend = 'ROOTS(Nd) = `project_logs(…) WHERE is_root = true AND created >= NOW() - INTERVAL N day`, LAST(Nd) = the same window without `is_root`.';
  for (const [shape, e] of top) {
    const first = shapes[0]!.get(shape);
    const growth = first && first.ms > 0 ? `×${(e.ms / first.ms).toFixed(1)}` : '—';
    const label = shape
      .replace(/project_logs\('…'\) WHERE is_root = true AND created >= NOW\(\) - INTERVAL (\d+) day/g, 'ROOTS($1d)')
      .replace(/created >= NOW\(\) - INTERVAL (\d+) day/g, 'LAST($1d)');
    L.push(`| \`${md(label.length > 170 ? `${label.slice(0, 167)}…` : label)}\` (×${e.n}) | ${shapes.map((s) => (s.get(shape) ? int(s.get(shape)!.ms) : '—')).join(' | ')} | ${growth} |`);
  }
  L.push('');
  L.push(legend, '');

  // Scaling facts computed from the numbers (the interpretation below them is written by hand).
  if (results.length > 1) {
    const a = results[0]!;
    const b = last;
    const k = (x: number, y: number) => exponent(x, y, a.traces, b.traces).toFixed(2);
    L.push(`### Scaling from ${int(a.traces)} to ${int(b.traces)} traces (×${(b.traces / a.traces).toFixed(0)}; exponent k in time ∝ traces^k)`, '');
    L.push(`- flywheel run: ${s1(a.runMs)} → ${s1(b.runMs)} (×${(b.runMs / a.runMs).toFixed(2)}, k = ${k(a.runMs, b.runMs)})`);
    for (const p of PHASES) {
      const x = a.phaseMs[p];
      const y = b.phaseMs[p];
      if (x !== undefined && y !== undefined && Math.max(x, y) >= 1000) L.push(`- ${p}: ${s1(x)} → ${s1(y)} (×${(y / x).toFixed(2)}, k = ${k(x, y)})`);
    }
    L.push(`- generation: ×${(b.generateMs / a.generateMs).toFixed(1)} (k = ${k(a.generateMs, b.generateMs)}); seeding: ×${(b.seedMs / a.seedMs).toFixed(1)} (k = ${k(a.seedMs, b.seedMs)})`);
    L.push(`- history: ${mb(a.historyBytes)} / ${a.historyEvents} events → ${mb(b.historyBytes)} / ${b.historyEvents} events (×${(b.historyBytes / a.historyBytes).toFixed(2)})`);
    L.push('');
  }
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------------

async function machineInfo(): Promise<Machine> {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cli = findTemporalCli();
  const version = async (cmd: string, args: string[]) => {
    try {
      return (await execa(cmd, args, { reject: false, stdin: 'ignore' })).stdout.trim().split('\n')[0] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  };
  return {
    nproc: await version('nproc', []),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memGiB: (totalmem() / 2 ** 30).toFixed(1),
    freeGiB: (freemem() / 2 ** 30).toFixed(1),
    node: process.version,
    temporal: cli ? await version(cli, ['--version']) : 'no Temporal CLI',
    bt: (await version(defaultBtPath(), ['--version'])).replace(/^bt\s+/, ''),
    loadAvg: loadavg().map((x) => x.toFixed(2)).join(' / '),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const machine = await machineInfo();
  const cliPath = findTemporalCli();
  if (!cliPath) throw new Error('No Temporal CLI (run bash scripts/setup.sh, or set TEMPORAL_CLI_PATH)');
  const root = mkdtempSync(join(tmpdir(), 'flywheel-bench-'));
  const rss = new RssMeter();
  const notes: string[] = [];
  const results: VolumeResult[] = [];
  let dev: ChildProcess | undefined;
  let connection: Connection | undefined;
  let temporalPeakRss: number | null = null;
  const setup = { serverStartMs: 0, bundleMs: 0 };
  log(`bench directory ${root}`);
  try {
    // Temporal dev server and the workflow bundle, in parallel.
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const logFile = join(root, 'temporal.log');
    const d0 = performance.now();
    const devServer = spawnDevServer({ cliPath, port, uiPort: null, dbFilename: join(root, 'temporal.sqlite'), logFile, detached: false, logLevel: 'warn' });
    dev = devServer;
    let serverStartMs = 0;
    const [, bundle] = await Promise.all([
      waitForTemporal(address, { timeoutMs: 60_000, child: devServer, logFile }).then(() => (serverStartMs = performance.now() - d0)),
      (async () => {
        const b0 = performance.now();
        const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
        const path = join(root, 'workflow-bundle.js');
        writeFileSync(path, code);
        return { path, ms: performance.now() - b0 };
      })(),
    ]);
    setup.serverStartMs = serverStartMs;
    setup.bundleMs = bundle.ms;
    log(`Temporal dev server at ${address} (${s1(serverStartMs)}), workflow bundle in ${s1(bundle.ms)}`);
    connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
    const shared: Shared = { root, address, client, bundlePath: bundle.path, rss };

    for (const requested of VOLUMES) {
      let traces = requested;
      const prev = results.at(-1);
      if (prev) {
        // Generation + seeding grow a little faster than linearly: predict with 20% headroom.
        const perTrace = ((prev.generateMs + prev.seedMs) / prev.traces) * 1.2;
        if (perTrace * traces > BUDGET_MS) {
          const fit = Math.floor(BUDGET_MS / perTrace / 10_000) * 10_000;
          traces = Math.max(prev.traces + 1, fit);
          notes.push(
            `Reduced ${int(requested)} → ${int(traces)} traces: ${int(prev.traces)} traces took ${s1(prev.generateMs + prev.seedMs)} to generate and seed, which predicts ${s1(perTrace * requested)} for ${int(requested)} (budget ${opts['budget-min']} min).`,
          );
          log(notes.at(-1)!);
        }
      }
      let r: VolumeResult;
      try {
        r = await runVolume(shared, traces, requested);
      } catch (err) {
        notes.push(`${int(traces)} traces: the bench itself failed (${md(err instanceof Error ? err.message : String(err)).slice(0, 300)}); larger volumes were not run.`);
        log(notes.at(-1)!);
        break;
      }
      results.push(r);
      if (!opts.keep) rmSync(join(root, `v${traces}`), { recursive: true, force: true });
      if (r.generateMs + r.seedMs > BUDGET_MS) {
        notes.push(`${int(traces)} traces took ${s1(r.generateMs + r.seedMs)} to generate and seed (over the ${opts['budget-min']} min budget): larger volumes were not run.`);
        break;
      }
    }
    temporalPeakRss = procKb(devServer.pid!, 'VmHWM');
    for (const r of results.filter((x) => x.reused)) {
      notes.push(
        `${int(r.traces)} traces: --reuse-dir — the seeded DuckDB file kept in ${r.reused!.dir} was copied fresh for this run (generation and seeding times above are the run that made it); ` +
          `the local server's and the activities' clock pinned to ${r.reused!.seededAt}, right after that seeding.`,
      );
    }
    if (REUSE_DIR && results.some((x) => !x.reused)) notes.push(`--reuse-dir: the seeded data was made by this run and kept in ${REUSE_DIR}; the clock was pinned to the instant after seeding.`);
    if (results.some((r) => r.shards > 1)) {
      notes.push(
        `Volumes above ${int(SHARD)} traces are generated as ${int(SHARD)}-trace shards (seeds 42, 43, …, the same \`now\`): one generateExampleTraces call holds its whole NDJSON in one string, ` +
          `and at ~${int(Math.round(results[0]!.ndjsonBytes / results[0]!.traces))} B per trace V8's ~512 MiB string limit is reached near ${int(Math.floor(536_870_888 / (results[0]!.ndjsonBytes / results[0]!.traces) / 1000) * 1000)} traces.`,
      );
    }
  } finally {
    rss.stop();
    await connection?.close();
    if (dev) await stopChild(dev);
    if (!opts.keep) rmSync(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  }

  if (opts.json) writeFileSync(opts.json, JSON.stringify({ machine, notes, results }, null, 2));
  if (!results.length) throw new Error('no volume completed');
  const text = report(machine, results, notes, { ...setup, temporalPeakRss });
  process.stdout.write(`${text}\n`);
  if (!opts['no-append']) {
    appendFileSync(join(packageRoot, 'bench', 'BENCHMARKS.md'), `${text}\n`);
    log('appended to bench/BENCHMARKS.md');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
