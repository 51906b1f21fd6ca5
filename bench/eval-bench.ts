/**
 * Where the time of the flywheel's evals goes: the six `runEval` activities of one autonomous run (baseline on the
 * golden cases; before train/validation, smoke, full train/validation on golden + curated dataset rows), called
 * directly (no Temporal) against a fresh in-process local Braintrust server seeded with example production traces.
 *
 *   npx tsx bench/eval-bench.ts [--traces 3000] [--dataset-rows 60] [--reps 2] [--json FILE] [--debug]
 *
 * Per eval it reports: the runEval wall time; `bt eval`'s wall time; the row loading after it (`bt sql` calls);
 * the local server's requests during the eval by route (count, summed time in the server), from its
 * BT_LOCAL_SERVER_DEBUG lines; and the bt start-up cost (`bt --version`, through the bt path the activities use
 * and the native binary). Numbers are printed, nothing is appended to BENCHMARKS.md. --debug prints every server
 * request line.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { generateExampleTraces } from '../examples/support-agent/generate-traces.js';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import { createActivities } from '../src/activities/index.js';
import { BtClient } from '../src/bt/client.js';
import { resolveBtBinary } from '../src/bt/run.js';
import { startLocalServer } from '../src/local-server/index.js';
import { defaultBtPath, packageRoot } from '../src/paths.js';

const { values: opts } = parseArgs({
  options: {
    traces: { type: 'string', default: '3000' },
    'dataset-rows': { type: 'string', default: '60' },
    reps: { type: 'string', default: '2' },
    json: { type: 'string' },
    debug: { type: 'boolean', default: false },
    /** Which bt the wrapper runs, alternating per repetition: the path as configured (npm launcher) and/or the native binary. */
    variants: { type: 'string', default: 'as-configured' },
  },
});
const TRACES = Number(opts.traces);
const DATASET_ROWS = Number(opts['dataset-rows']);
const REPS = Number(opts.reps);
const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-agent');

const log = (m: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

// The local server's debug lines ("[local-server] done <status> <ms> ms <method> <path>"), captured from stderr.
process.env.BT_LOCAL_SERVER_DEBUG = '1';
interface ServerRequest {
  at: number;
  status: number;
  ms: number;
  route: string;
}
const requests: ServerRequest[] = [];
const realWrite = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  if (text.startsWith('[local-server]')) {
    const m = /^\[local-server\] done (\d+) ([\d.]+) ms (\S+) (\S+)/.exec(text);
    if (m) {
      const path = m[4]!.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '{id}');
      requests.push({ at: Date.now(), status: Number(m[1]), ms: Number(m[2]), route: `${m[3]} ${path}` });
    }
    if (opts.debug) return (realWrite as (c: string) => boolean)(text);
    return true;
  }
  return (realWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stderr.write;

/** bt through a bash wrapper that logs start, end and subcommand of every call. */
function writeBtWrapper(dir: string, logFile: string, target: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'bt');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    path,
    ['#!/bin/bash', 'start=$EPOCHREALTIME', `${q(target)} "$@"`, 'rc=$?', `printf '%s\\t%s\\t%s\\n' "$start" "$EPOCHREALTIME" "$1" >> ${q(logFile)}`, 'exit $rc', ''].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

function btCalls(logFile: string): Array<{ start: number; end: number; command: string }> {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [s, e, c] = l.split('\t');
      return { start: Number(s) * 1000, end: Number(e) * 1000, command: c ?? '?' };
    });
}

async function startupMs(bin: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await execa(bin, ['--version']);
    out.push(performance.now() - t);
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'eval-bench-'));
  const home = join(root, 'home');
  mkdirSync(join(home, '.config'), { recursive: true });
  log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')}; directory ${root}`);
  const gen = await generateExampleTraces({ outDir: join(root, 'sync'), projectName: 'support-agent', variant: 'defective', traces: TRACES, seed: 42, now: new Date() });
  const server = await startLocalServer({ port: 0, dataFile: join(root, 'bt.duckdb') });
  try {
    const seeded = await server.seedFromSyncDir(gen.dir, { projectName: 'support-agent' });
    log(`${TRACES} traces, ${seeded.rows} rows seeded`);
    const btLog = join(root, 'bt-calls.tsv');
    const btEnv = { ...server.btEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), PATH: process.env.PATH ?? '' };
    const variants = opts.variants.split(',').map((v) => v.trim());
    const activitiesBy = new Map(
      variants.map((v) => {
        const target = v === 'native' ? resolveBtBinary(defaultBtPath()) : defaultBtPath();
        return [v, createActivities({ btEnv, appUrl: server.appUrl, btPath: writeBtWrapper(join(root, `bin-${v}`), btLog, target) })] as const;
      }),
    );
    const acts = activitiesBy.get(variants[0]!)!;
    const config = flywheelInputSchema.parse({ project: 'support-agent', agentDir: EXAMPLE_DIR, outDir: join(root, 'out'), runsDir: join(root, 'runs') });
    const ctx = await acts.orient(config, 'eval-bench', 'run-1');

    // A curated dataset shaped like curate.ts's: golden questions as production inputs, split train/validation.
    const cases = JSON.parse(readFileSync(join(EXAMPLE_DIR, 'cases.json'), 'utf8')) as Array<{ input: unknown; expected: unknown; metadata?: Record<string, unknown> }>;
    const rows = Array.from({ length: DATASET_ROWS }, (_, i) => {
      const c = cases[i % cases.length]!;
      return { id: `bench-row-${i}`, input: c.input, expected: c.expected, tags: ['production', 'flywheel-curated'], metadata: { ...c.metadata, split: i % 3 === 2 ? 'validation' : 'train', bucket: 'failing' } };
    });
    const bt = new BtClient({ env: btEnv, btPath: defaultBtPath() });
    await bt.datasetsCreate(ctx.project.name, ctx.datasetName, { description: 'eval-bench' });
    await bt.datasetsUpdate(ctx.project.name, ctx.datasetName, { rows, idField: 'id' });
    log(`dataset ${ctx.datasetName}: ${rows.length} rows`);

    const launcher = await startupMs(defaultBtPath(), 5);
    const native = resolveBtBinary(defaultBtPath());
    const nativeMs = native !== defaultBtPath() ? await startupMs(native, 5) : [];
    log(`bt --version: ${defaultBtPath()} median ${median(launcher).toFixed(0)} ms${nativeMs.length ? `; native ${native} median ${median(nativeMs).toFixed(0)} ms` : ''}`);

    const EVALS = [
      { name: 'baseline', split: 'all', runMode: 'baseline', useDataset: false },
      { name: 'before-train', split: 'train', runMode: 'baseline', useDataset: true },
      { name: 'before-validation', split: 'validation', runMode: 'baseline', useDataset: true },
      { name: 'smoke', split: 'train', runMode: 'smoke', useDataset: true },
      { name: 'full-train', split: 'train', runMode: 'full', useDataset: true },
      { name: 'full-validation', split: 'validation', runMode: 'full', useDataset: true },
    ] as const;
    const results: Array<Record<string, unknown>> = [];
    const totals = new Map<string, number[]>();
    for (let rep = 0; rep < REPS * variants.length; rep++) {
      const variant = variants[rep % variants.length]!;
      const acts = activitiesBy.get(variant)!;
      let total = 0;
      for (const e of EVALS) {
        const callsBefore = btCalls(btLog).length;
        const reqBefore = requests.length;
        const t0 = performance.now();
        const r = await acts.runEval({ ctx, cwd: ctx.agentDir, split: e.split, runMode: e.runMode, experimentName: `bench-${rep}-${e.name}`, useDataset: e.useDataset, iteration: rep + 1 });
        const wall = performance.now() - t0;
        const endEpoch = Date.now();
        total += wall;
        const calls = btCalls(btLog).slice(callsBefore);
        const evalCall = calls.find((c) => c.command === 'eval');
        const sql = calls.filter((c) => c.command === 'sql');
        const evalEnd = evalCall?.end ?? Infinity;
        const during = requests.slice(reqBefore).filter((q) => q.at <= evalEnd + 5);
        const byRoute = new Map<string, { n: number; ms: number }>();
        for (const q of during) {
          const x = byRoute.get(q.route) ?? { n: 0, ms: 0 };
          x.n++;
          x.ms += q.ms;
          byRoute.set(q.route, x);
        }
        const row = {
          rep,
          variant,
          eval: e.name,
          rows: r.rowCount,
          wallMs: Math.round(wall),
          btEvalMs: evalCall ? Math.round(evalCall.end - evalCall.start) : null,
          afterEvalMs: evalCall ? Math.round(endEpoch - evalCall.end) : null,
          sqlCalls: sql.length,
          sqlMs: Math.round(sql.reduce((s, c) => s + c.end - c.start, 0)),
          serverRequests: during.length,
          serverMs: Math.round(during.reduce((s, q) => s + q.ms, 0)),
          routes: Object.fromEntries([...byRoute].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => [k, `${v.n}× ${v.ms.toFixed(0)} ms`])),
        };
        results.push(row);
        log(
          `rep ${rep} ${e.name.padEnd(17)} rows ${String(r.rowCount).padStart(3)}  runEval ${sec(wall)}  bt eval ${row.btEvalMs !== null ? sec(row.btEvalMs) : '?'}  ` +
            `after ${row.afterEvalMs !== null ? sec(row.afterEvalMs) : '?'} (${row.sqlCalls} bt sql, ${sec(row.sqlMs)})  server ${row.serverRequests} req ${sec(row.serverMs)}`,
        );
        log(`    ${Object.entries(row.routes).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
      }
      log(`rep ${rep} ${variant}: six runEval ${sec(total)} (load ${loadavg()[0]!.toFixed(2)})`);
      totals.set(variant, [...(totals.get(variant) ?? []), total]);
    }
    for (const [v, t] of totals) log(`${v}: six runEval ${t.map(sec).join(', ')} (median ${sec(median(t))})`);
    const summary = { traces: TRACES, totals: Object.fromEntries(totals), datasetRows: DATASET_ROWS, load: loadavg(), btStartupMs: { launcher, native: nativeMs }, results };
    if (opts.json) writeFileSync(opts.json, JSON.stringify(summary, null, 2));
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    realWrite(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
