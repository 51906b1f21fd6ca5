/**
 * Benchmarks of the Temporal side (issue 9's targets), on the real parts:
 *   1. history size of the saved histories (bytes of their JSON, events) — goal: a 3-iteration run ≤ 256 KB;
 *   2. replay time of each saved history with the pre-built bundle (dist/workflow-bundle.js) and, for comparison,
 *      bundling the sources — goal ≤ 1 s;
 *   3. N concurrent runs on one worker (the example, no change agent, the real activities, one local Braintrust
 *      server and a Temporal dev server) — goal: all complete; reports wall time and peak RSS;
 *   4. orchestration overhead of one run: its wall time vs the sum of its activities' execution times (from the
 *      history), i.e. vs calling the same activities one after another directly — goal ≤ 1.15×.
 *
 *   npx tsx bench/temporal-bench.ts [--concurrent 20] [--traces 400] [--no-append]
 *
 * Appends a section to bench/BENCHMARKS.md (machine, date, load) unless --no-append. Not a test: nothing here
 * fails on time; it writes down what it measured.
 */
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { generateExampleTraces } from '../examples/support-agent/generate-traces.js';
import { createActivities } from '../src/activities/index.js';
import { startLocalServer } from '../src/local-server/index.js';
import { packageRoot, findTemporalCli } from '../src/paths.js';
import { runResult } from '../src/run-result.js';
import { DEFAULT_NAMESPACE } from '../src/shared.js';
import { freePort, spawnDevServer, waitForTemporal } from '../src/temporal/devserver.js';
import { createWorker, workflowsPath } from '../src/worker.js';
import { BUNDLE_PATH, prebuiltBundle } from '../src/workflow-bundle.js';
import type { FlywheelInput } from '../schemas/flywheel-input.js';

const { values: args } = parseArgs({ options: { concurrent: { type: 'string', default: '20' }, traces: { type: 'string', default: '400' }, 'no-append': { type: 'boolean', default: false } } });
Runtime.install({ logger: new DefaultLogger('ERROR') });
const log = (m: string) => process.stderr.write(`${m}\n`);
const out: string[] = [];
const HISTORIES = join(packageRoot, 'test', 'histories');
const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');

// 1 + 2: saved histories.
const bundle = prebuiltBundle(workflowsPath);
if (!bundle) throw new Error(`no fresh pre-built bundle at ${BUNDLE_PATH}: run \`npm run build\` first`);
out.push('### Saved histories: size and replay', '', '| history | events | JSON bytes | replay, pre-built bundle (1st / 2nd) | replay, bundling the sources |', '|---|---|---|---|---|');
for (const f of readdirSync(HISTORIES).filter((x) => x.endsWith('.json')).sort()) {
  const path = join(HISTORIES, f);
  const history = JSON.parse(readFileSync(path, 'utf8')) as { events: unknown[] };
  const times: number[] = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    await Worker.runReplayHistory({ workflowBundle: bundle }, history);
    times.push(performance.now() - t0);
  }
  let fromSources = '';
  if (/no_convergence/.test(f)) {
    const t0 = performance.now();
    await Worker.runReplayHistory({ workflowsPath }, history);
    fromSources = `${Math.round(performance.now() - t0)} ms`;
  }
  out.push(`| ${f} | ${history.events.length} | ${statSync(path).size.toLocaleString('en')} | ${times.map((t) => `${Math.round(t)} ms`).join(' / ')} | ${fromSources} |`);
  log(`replayed ${f}`);
}

// 3 + 4: concurrent runs and orchestration overhead on a dev server.
const concurrent = Number(args.concurrent);
const traces = Number(args.traces);
const dir = mkdtempSync(join(tmpdir(), 'temporal-bench-'));
const cli = findTemporalCli();
if (!cli) throw new Error('no Temporal CLI (run scripts/setup.sh)');
const port = await freePort();
const server = spawnDevServer({ cliPath: cli, port, uiPort: await freePort(), dbFilename: join(dir, 't.sqlite'), namespaces: [DEFAULT_NAMESPACE], logFile: join(dir, 't.log'), detached: true });
const address = `127.0.0.1:${port}`;
await waitForTemporal(address, { timeoutMs: 60_000, child: server, logFile: join(dir, 't.log') });
const bt = await startLocalServer({ port: 0, dataFile: join(dir, 'bt.duckdb') });
try {
  const gen = await generateExampleTraces({ outDir: join(dir, 'sync'), projectName: 'support-agent', traces, seed: 42 });
  await bt.seedFromSyncDir(gen.dir, { projectName: 'support-agent' });
  const btEnv = { ...bt.btEnv(), HOME: dir, PATH: process.env.PATH ?? '' };
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
  const native = await NativeConnection.connect({ address });
  const input = (i: number): FlywheelInput => ({ project: 'support-agent', mode: 'autonomous', modeReason: 'benchmark', agentDir: EXAMPLE_DIR, workOnCopy: true, outDir: join(dir, `out-${i}`), runsDir: join(dir, 'runs'), datasetName: `bench-${i}` });
  const activities = createActivities({ btEnv, appUrl: bt.appUrl });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  // A worker runs once: a fresh one per batch (same process, same bundle, same activities).
  const run = async (ids: string[]) =>
    (await createWorker({ connection: native, taskQueue: 'bench', activities, workflowBundle: bundle, shutdownGraceTime: '5s' })).runUntil(async () => {
      const handles = await Promise.all(ids.map((id, i) => client.workflow.start('flywheelWorkflow', { taskQueue: 'bench', workflowId: id, args: [input(i)] })));
      return Promise.all(handles.map((h) => runResult(h)));
    });

  // 4 first, alone on the worker.
  const single = `bench-single-${Date.now()}`;
  const s0 = performance.now();
  const [one] = await run([single]);
  const singleMs = performance.now() - s0;
  const events = (await client.workflow.getHandle(single).fetchHistory()).events ?? [];
  const scheduled = new Map<number, number>();
  let activityMs = 0;
  const ms = (t: unknown) => { const x = t as { seconds?: { toNumber(): number } | number; nanos?: number }; return Number(typeof x.seconds === 'object' ? x.seconds.toNumber() : x.seconds) * 1000 + (x.nanos ?? 0) / 1e6; };
  const started = new Map<number, number>();
  for (const e of events) {
    const id = Number(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, ms(e.eventTime));
    if (e.activityTaskStartedEventAttributes) started.set(Number(e.activityTaskStartedEventAttributes.scheduledEventId), ms(e.eventTime));
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (done) activityMs += ms(e.eventTime) - (started.get(Number(done.scheduledEventId)) ?? scheduled.get(Number(done.scheduledEventId)) ?? ms(e.eventTime));
  }
  const first = ms(events[0]!.eventTime);
  const last = ms(events[events.length - 1]!.eventTime);
  // 3: N at once.
  const ids = Array.from({ length: concurrent }, (_, i) => `bench-many-${i}-${Date.now()}`);
  const m0 = performance.now();
  const many = await run(ids);
  const manyMs = performance.now() - m0;
  clearInterval(sampler);
  out.push(
    '',
    `### One run alone vs ${concurrent} at once (${traces} example traces, autonomous, no change agent, one worker)`,
    '',
    `- one run: outcome ${one!.outcome}; wall (client start → result) ${(singleMs / 1000).toFixed(1)} s; history span ${((last - first) / 1000).toFixed(1)} s; its activities executing ${(activityMs / 1000).toFixed(1)} s (started → closed, summed) → orchestration overhead **${((last - first) / activityMs).toFixed(2)}×** (goal ≤ 1.15×; the rest is workflow tasks, scheduling and retries' backoff)`,
    `- ${concurrent} runs at once on the same worker: ${many.length} completed (${Object.entries(many.reduce<Record<string, number>>((a, r) => ((a[r.outcome] = (a[r.outcome] ?? 0) + 1), a), {})).map(([o, n]) => `${n} ${o}`).join(', ')}) in ${(manyMs / 1000).toFixed(1)} s wall; peak RSS of this process ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  await native.close();
  await connection.close();
} finally {
  await bt.close();
  try {
    process.kill(-server.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
  rmSync(dir, { recursive: true, force: true });
}

const header = [
  '',
  `## Temporal side: history size, replay, concurrency, overhead (${new Date().toISOString().slice(0, 10)})`,
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' / ')}. \`npx tsx bench/temporal-bench.ts --concurrent ${concurrent} --traces ${traces}\`.`,
  '',
];
const text = [...header, ...out, ''].join('\n');
process.stdout.write(text);
if (!args['no-append'] && existsSync(join(packageRoot, 'bench', 'BENCHMARKS.md'))) appendFileSync(join(packageRoot, 'bench', 'BENCHMARKS.md'), text);
