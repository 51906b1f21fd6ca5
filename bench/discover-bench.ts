/**
 * Discover's query battery on a synthetic project: the real `discover()` through the REAL `bt sql` (a new process
 * per call, login, HTTP, BTQL parse/translate, DuckDB, JSON) with its bounded pool at several concurrencies, next
 * to the same SQL run directly in DuckDB, one query after another, in process.
 *
 *   npx tsx bench/discover-bench.ts [--spans 1000000] [--runs 3] [--concurrency 1,2,4,8] [--server daemon|in-process] [--write]
 *
 * 1. Writes the btql-bench logs (bench/synthetic-logs.ts) with uuid trace ids and a release 3 days before the end
 *    (`metadata.version = v5`, 3× slower), so the performance plane finds a change point and pages its sample.
 * 2. Seeds a fresh DuckDB and serves it with a fixed `NOW()`: by default as `flywheel run` does, the local server's
 *    background process (ensureLocalServer); `--server in-process` serves it from this process instead. There every
 *    `bt` start forks a process holding DuckDB's memory (Node forks on Linux: the fork copies the page tables, so a
 *    spawn costs more the larger this process is) and blocks the server's event loop while it does.
 * 3. Runs discover() `--runs` times per concurrency; checks the evidence is the same at every concurrency.
 * 4. Replays every SQL text the sequential run sent (pages included) directly against DuckDB, in this process: the
 *    translated SQL only (parse and translation untimed), sequentially, after one untimed pass; median of `--runs`.
 * 5. Prints a Markdown section; `--write` puts it into bench/BENCHMARKS.md (replacing an earlier one).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { discover, DISCOVER_CONCURRENCY } from '../src/activities/discover.js';
import { BtClient } from '../src/bt/client.js';
import { resolveSource, DEFAULT_ROW_LIMIT } from '../src/local-server/btql/run.js';
import { parseQuery } from '../src/local-server/btql/parser.js';
import { translate } from '../src/local-server/btql/translate.js';
import { seedFromSyncDir } from '../src/local-server/seed.js';
import { Store } from '../src/local-server/store.js';
import { packageRoot } from '../src/paths.js';
import type { DiscoverEvidence } from '../src/workflows/logic/evidence.js';
import type { OrientContext } from '../src/workflows/types.js';
import { benchBtEnv, loadAverage as load, median, serveStore, startDaemonServer, writeBenchSection, type ServedStore } from './support.js';
import { generateSyntheticLogs } from './synthetic-logs.js';

const { values } = parseArgs({
  options: {
    spans: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: `1,2,${DISCOVER_CONCURRENCY},8` },
    write: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    server: { type: 'string', default: 'daemon' },
    // Internal: the child process that generates and seeds for the daemon mode.
    prepare: { type: 'string' },
    now: { type: 'string' },
  },
});
if (values.server !== 'daemon' && values.server !== 'in-process') throw new Error(`--server must be daemon or in-process, got ${values.server}`);
const SPANS = Number(values.spans);
const RUNS = Number(values.runs);
const LEVELS = [...new Set(values.concurrency.split(',').map(Number))].filter((x) => x >= 1);
const PROJECT_ID = '5f0c6a53-3c55-4d8e-9f6b-b3a5a0d6c001';
const SCORE = 'Response Quality';
const FACET = 'Topic';

/** A BtClient that remembers every SQL text it sent (pages included) and how long each took. */
class RecordingBt extends BtClient {
  readonly sent: Array<{ query: string; ms: number }> = [];
  calls = 0;
  override async sql<Row = Record<string, unknown>>(query: string, opts: Parameters<BtClient['sql']>[1] = {}) {
    const t0 = performance.now();
    const r = await super.sql<Row>(query, opts as never);
    this.sent.push({ query, ms: performance.now() - t0 });
    return r;
  }
}

const s2 = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

interface Prepared {
  gen: { traces: number };
  seeded: { rows: number };
  genMs: number;
  seedMs: number;
}

/** Generates the logs into `dir/bt-sync` and seeds them into `dir/bench.duckdb` (closed again). */
async function prepare(dir: string, now: number): Promise<Prepared> {
  const t0 = performance.now();
  const gen = await generateSyntheticLogs(join(dir, 'bt-sync'), {
    spans: SPANS,
    projectId: PROJECT_ID,
    score: SCORE,
    facet: FACET,
    now,
    uuidIds: true,
    release: { version: 'v5', days: 3, slowdown: 3 },
  });
  const genMs = performance.now() - t0;
  const store = await Store.open(join(dir, 'bench.duckdb'));
  const t1 = performance.now();
  const seeded = await seedFromSyncDir(store, join(dir, 'bt-sync'), { projectName: 'bench' });
  const seedMs = performance.now() - t1;
  await store.close();
  return { gen: { traces: gen.traces }, seeded: { rows: seeded.rows }, genMs, seedMs };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'discover-bench-'));
  const loadAtStart = load();
  try {
    const NOW = Math.floor(Date.now() / 60_000) * 60_000;
    process.stdout.write(`generating ${SPANS} spans…\n`);
    // With the daemon, a child process generates and seeds: this process then holds no generated data or DuckDB
    // memory, like a worker (every \`bt\` start forks this process, and a fork costs more the larger it is).
    const prepared: Prepared =
      values.server === 'daemon'
        ? (await execa(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--spans', String(SPANS), '--prepare', dir, '--now', String(NOW)], { stdout: 'pipe', stderr: 'inherit' }), JSON.parse(readFileSync(join(dir, 'prepared.json'), 'utf8')) as Prepared)
        : await prepare(dir, NOW);
    const { gen, seeded, genMs, seedMs } = prepared;
    // In-process, this process serves the file; with the daemon, it opens it only for the direct pass (below).
    let store = values.server === 'in-process' ? await Store.open(join(dir, 'bench.duckdb')) : null;
    process.stdout.write(`  ${gen.traces} traces, seeded ${seeded.rows} rows in ${s2(seedMs)} (generated in ${s2(genMs)})\n`);

    const now = () => new Date(NOW);
    const served = store ? await serveStore(store, dir, { now }) : await serveByDaemon(dir, NOW);
    const { url, env } = served;
    const home = env.HOME;
    const agentDir = join(dir, 'agent');
    mkdirSync(agentDir, { recursive: true });
    const ctx: OrientContext = {
      workflowId: 'discover-bench',
      runDir: join(dir, 'runs'),
      project: { id: PROJECT_ID, name: 'bench', source: 'input', sourceDetail: 'bench' },
      org: 'local',
      appUrl: url,
      baseline: null,
      scoreColumns: [SCORE, 'helpful'],
      facetColumns: [FACET, 'Sentiment'],
      topicFacets: [],
      tagValues: ['beta', 'prod'],
      metadataKeys: ['model', 'region', 'version'],
      schemaWindowDays: 1,
      primaryScore: SCORE,
      binaryScores: ['helpful'],
      agentDir,
      evalFiles: [],
      evalFilesSource: 'bench',
      datasetName: 'flywheel-bench',
      instructionFiles: [],
      notes: [],
    };
    // Warm-up: bt's first start and the OS file cache.
    await execa(join(packageRoot, 'node_modules', '.bin', 'bt'), ['--version'], { env, extendEnv: false, stdin: 'ignore' });
    await discover(new BtClient({ env, cwd: home }), { ctx, goal: 'bench', windowDays: 7, iteration: 1, dir: join(dir, 'warm'), now: now(), concurrency: DISCOVER_CONCURRENCY });

    const rssAtRuns = process.memoryUsage().rss;
    const results: Array<{ c: number; walls: number[]; calls: number; sqlSum: number; evidence: string }> = [];
    let sequentialSent: Array<{ query: string; ms: number }> = [];
    for (const c of LEVELS) {
      const walls: number[] = [];
      let calls = 0;
      let sqlSum = 0;
      let evidence = '';
      for (let r = 0; r < RUNS; r++) {
        const bt = new RecordingBt({ env, cwd: home });
        const w0 = performance.now();
        const ev: DiscoverEvidence = await discover(bt, { ctx, goal: 'bench', windowDays: 7, iteration: 1, dir: join(dir, `run-${c}-${r}`), now: now(), concurrency: c });
        walls.push(performance.now() - w0);
        calls = bt.sent.length;
        sqlSum = bt.sent.reduce((a, x) => a + x.ms, 0);
        const { file: _f, ...rest } = ev;
        // Files go to each run's own directory; everything else must not depend on the concurrency.
        evidence = JSON.stringify(rest).split(join(dir, `run-${c}-${r}`)).join('<run>');
        if (c === LEVELS[0] && r === 0) sequentialSent = bt.sent;
      }
      results.push({ c, walls, calls, sqlSum, evidence });
      process.stdout.write(`  concurrency ${c}: discover ${walls.map(s2).join(', ')} (${calls} bt sql calls, their own times summed ${s2(sqlSum)})\n`);
    }
    const sameEvidence = results.every((r) => r.evidence === results[0]!.evidence);
    const views = readFileSync(join(dir, `run-${LEVELS[0]}-0`, 'evidence.json'), 'utf8');
    const drillIns = (JSON.parse(views) as DiscoverEvidence).examples.filter((e) => e.note).length;

    // The daemon owns the file while it runs (one DuckDB process per file): stop it and read the file here.
    if (!store) {
      await served.close();
      store = await Store.open(join(dir, 'bench.duckdb'));
    }
    // The same SQL texts directly in DuckDB: translated once (untimed), executed one after another.
    const translated = [];
    for (const s of sequentialSent) {
      const q = parseQuery(s.query);
      const src = await resolveSource(store, q);
      if (q.limit === undefined && q.groupBy.length === 0 && q.having === undefined) q.limit = DEFAULT_ROW_LIMIT;
      translated.push(translate(q, src, now()).sql);
    }
    // One untimed pass first: DuckDB's own cache warm, as the server's was after Discover's warm-up run.
    for (const sql of translated) await store.readJson(sql);
    const duckSums: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      let sum = 0;
      for (const sql of translated) {
        const d0 = performance.now();
        await store.readJson(sql);
        sum += performance.now() - d0;
      }
      duckSums.push(sum);
    }
    const duck = median(duckSums);
    process.stdout.write(`  DuckDB direct, the same ${translated.length} queries one after another: ${duckSums.map(s2).join(', ')}\n`);
    const loadAtEnd = load();
    if (values.server === 'in-process') await served.close();
    await store.close();
    const dbBytes = statSync(join(dir, 'bench.duckdb')).size;

    const nproc = (await execa('nproc')).stdout.trim();
    const seq = results[0]!;
    const lines = [
      `## Discover battery: \`bt sql\` through the bounded pool vs DuckDB direct (${new Date().toISOString().slice(0, 10)})`,
      '',
      'Generated by `npx tsx bench/discover-bench.ts --write` (see the header of that file for what it does).',
      '',
      `- Date: ${new Date().toISOString()}`,
      `- Machine: nproc=${nproc} (${cpus()[0]?.model ?? 'unknown CPU'}), memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(freemem() / 2 ** 30).toFixed(1)} GiB); load average (1/5/15 min) at start ${loadAtStart}, at end ${loadAtEnd}`,
      `- Node ${process.version}, bt 0.12.0; the local server runs ${values.server === 'daemon' ? 'in its own background process, as `flywheel run` starts it' : 'in the bench process (`--server in-process`)'} (DuckDB ${(dbBytes / 1e6).toFixed(0)} MB); this process's RSS when Discover ran: ${(rssAtRuns / 2 ** 20).toFixed(0)} MiB (every \`bt\` start forks it)`,
      `- Data: ${seeded.rows.toLocaleString('en-US')} spans in ${gen.traces.toLocaleString('en-US')} traces over 30 days (the btql-bench shape, uuid trace ids, a 3× slower release in the last 3 days); Discover's window: 7 days`,
      `- Battery: ${seq.calls} \`bt sql\` calls per Discover (pages included) plus \`bt datasets list\` and ${drillIns} \`bt view trace\` drill-ins; evidence identical at every concurrency: ${sameEvidence ? 'yes' : '**NO**'}`,
      '',
      `| concurrency | Discover wall time (median of ${RUNS}) | runs | × DuckDB direct |`,
      '|---:|---:|---|---:|',
      ...results.map((r) => `| ${r.c}${r.c === DISCOVER_CONCURRENCY ? ' (default)' : ''} | ${s2(median(r.walls))} | ${r.walls.map(s2).join(', ')} | ${(median(r.walls) / duck).toFixed(1)}× |`),
      `| DuckDB direct (the same ${translated.length} SQL texts, translated, one after another) | ${s2(duck)} | ${duckSums.map(s2).join(', ')} | 1× |`,
      '',
      `The sequential run's \`bt sql\` calls took ${s2(seq.sqlSum)} summed (${(seq.sqlSum / duck).toFixed(1)}× DuckDB direct): the rest of its wall time is \`bt datasets list\`, the drill-ins and file writes. The Discover wall time includes those non-SQL \`bt\` calls, which the DuckDB column does not have.`,
    ];
    const md = lines.join('\n');
    process.stdout.write(`\n${md}\n`);
    if (values.write) {
      writeBenchSection('discover-bench', md);
      process.stdout.write('wrote bench/BENCHMARKS.md\n');
    }
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`kept ${dir}\n`);
  }
}

(values.prepare ? prepare(values.prepare, Number(values.now)).then((p) => writeFileSync(join(values.prepare!, 'prepared.json'), JSON.stringify(p))) : main()).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

/** Serves the seeded file from the local server's background process, as `flywheel run` does. */
async function serveByDaemon(dir: string, now: number): Promise<ServedStore> {
  const daemon = await startDaemonServer(join(dir, 'bench.duckdb'), join(dir, 'daemon'), new Date(now));
  return { url: daemon.appUrl, env: benchBtEnv(dir, daemon.btEnv()), close: () => daemon.close() };
}
