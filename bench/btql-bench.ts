/**
 * Benchmark of the local Braintrust server on a synthetic project of ~1M spans.
 *
 *   npx tsx bench/btql-bench.ts [--spans 1000000] [--runs 3] [--keep]
 *
 * 1. Writes a `bt sync pull`-layout directory (spec.json + data/part-*.jsonl): traces of one root span
 *    (scores, metrics, metadata, facets, sometimes an error) and three children (llm, tool, score).
 * 2. Seeds it into a fresh DuckDB file (timed).
 * 3. Times the seed skill's discovery queries end to end through the REAL `bt sql` (process start, login,
 *    HTTP, parse, translate, DuckDB, JSON) next to hand-written DuckDB SQL over the same table.
 * 4. Writes its section of bench/BENCHMARKS.md (between the `btql-bench` markers; the rest is left alone).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { seedFromSyncDir } from '../src/local-server/seed.js';
import { Store } from '../src/local-server/store.js';
import { defaultBtPath } from '../src/paths.js';
import { median, serveStore, time, writeBenchSection } from './support.js';
import { generateSyntheticLogs } from './synthetic-logs.js';

const { values } = parseArgs({
  options: { spans: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' }, keep: { type: 'boolean', default: false } },
});
const SPANS = Number(values.spans);
const RUNS = Number(values.runs);
const PROJECT_ID = '5f0c6a53-3c55-4d8e-9f6b-b3a5a0d6c001';
const SCORE = 'Response Quality';
const FACET = 'Topic';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'btql-bench-'));
  try {
    process.stdout.write(`generating ${SPANS} spans…\n`);
    const [genMs, gen] = await time(() => generateSyntheticLogs(join(dir, 'bt-sync'), { spans: SPANS, projectId: PROJECT_ID, score: SCORE, facet: FACET }));
    process.stdout.write(`  ${gen.traces} traces, ${(gen.bytes / 1e6).toFixed(0)} MB in ${(genMs / 1000).toFixed(1)} s\n`);

    const store = await Store.open(join(dir, 'bench.duckdb'));
    const [seedMs, seeded] = await time(() => seedFromSyncDir(store, join(dir, 'bt-sync'), { projectName: 'bench' }));
    process.stdout.write(`seeded ${seeded.rows} rows in ${(seedMs / 1000).toFixed(1)} s\n`);
    const [reseedMs, reseeded] = await time(() => seedFromSyncDir(store, join(dir, 'bt-sync'), { projectName: 'bench' }));
    const total = Number((await store.read(`SELECT count(*)::INTEGER AS n FROM rows`))[0]!.n);
    process.stdout.write(`re-seeded (idempotent) ${reseeded.rows} rows in ${(reseedMs / 1000).toFixed(1)} s; table holds ${total}\n`);

    const served = await serveStore(store, dir);
    const env = served.env;
    const P = PROJECT_ID;
    const W = `created >= NOW() - INTERVAL 7 day`;
    const base = `object_type = 'project_logs' AND object_id = '${P}'`;
    const DW = `created >= now()::TIMESTAMP - INTERVAL 7 DAY`;
    const sc = `TRY_CAST(json_extract(scores, '$."${SCORE}"') AS DOUBLE)`;
    const queries: Array<{ name: string; btql: string; duck: string }> = [
      {
        name: 'schema discovery (1 root, 1 day)',
        btql: `SELECT * FROM project_logs('${P}') WHERE is_root = true AND created >= NOW() - INTERVAL 1 day LIMIT 1`,
        duck: `SELECT * FROM rows WHERE ${base} AND is_root AND created >= now()::TIMESTAMP - INTERVAL 1 DAY ORDER BY _pk DESC LIMIT 1`,
      },
      {
        name: 'errors',
        btql: `SELECT id, error FROM project_logs('${P}') WHERE is_root = true AND error IS NOT NULL AND ${W} LIMIT 20`,
        duck: `SELECT id, error FROM rows WHERE ${base} AND is_root AND error IS NOT NULL AND ${DW} ORDER BY _pk DESC LIMIT 20`,
      },
      {
        name: 'low scores',
        btql: `SELECT id, scores."${SCORE}" FROM project_logs('${P}') WHERE is_root = true AND scores."${SCORE}" <= 0.5 AND ${W} LIMIT 20`,
        duck: `SELECT id, ${sc} FROM rows WHERE ${base} AND is_root AND ${sc} <= 0.5 AND ${DW} ORDER BY _pk DESC LIMIT 20`,
      },
      {
        name: 'score distribution',
        btql: `SELECT scores."${SCORE}", COUNT(*) AS count FROM project_logs('${P}') WHERE is_root = true AND ${W} GROUP BY scores."${SCORE}" ORDER BY scores."${SCORE}"`,
        duck: `SELECT ${sc} AS s, count(*) FROM rows WHERE ${base} AND is_root AND ${DW} GROUP BY s ORDER BY s`,
      },
      {
        name: 'facet distribution (traces shape)',
        btql: `SELECT facets."${FACET}", COUNT(*) AS count FROM project_logs('${P}', shape => 'traces') WHERE ${W} GROUP BY facets."${FACET}" ORDER BY count DESC`,
        duck: `SELECT json_extract(facets, '$."${FACET}"') AS f, count(*) AS c FROM rows WHERE ${base} AND root_span_id IN (SELECT root_span_id FROM rows WHERE ${base} AND ${DW}) GROUP BY f ORDER BY c DESC`,
      },
      {
        name: 'high latency',
        btql: `SELECT id, metrics.duration_ms FROM project_logs('${P}') WHERE is_root = true AND metrics.duration_ms > 10000 AND ${W} ORDER BY metrics.duration_ms DESC LIMIT 20`,
        duck: `SELECT id, TRY_CAST(json_extract(metrics, '$.duration_ms') AS DOUBLE) AS d FROM rows WHERE ${base} AND is_root AND d > 10000 AND ${DW} ORDER BY d DESC LIMIT 20`,
      },
      {
        name: 'full-text search() (30 days)',
        btql: `SELECT id FROM project_logs('${P}') WHERE is_root AND created >= NOW() - INTERVAL 30 day AND search('timeout') LIMIT 20`,
        duck: `SELECT id FROM rows WHERE ${base} AND is_root AND created >= now()::TIMESTAMP - INTERVAL 30 DAY AND regexp_matches(CAST(error AS VARCHAR), '(?i)\\btimeout\\b') ORDER BY _pk DESC LIMIT 20`,
      },
    ];
    const results: Array<{ name: string; bt: number; duck: number; rows: number }> = [];
    // Warm-up: bt binary start and the OS file cache.
    await execa(defaultBtPath(), ['projects', 'list', '--json'], { env, extendEnv: false, stdin: 'ignore' });
    for (const q of queries) {
      const btTimes: number[] = [];
      const duckTimes: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS; i++) {
        const [ms, r] = await time(() => execa(defaultBtPath(), ['sql', '--json', q.btql], { env, extendEnv: false, stdin: 'ignore', reject: false }));
        if (r.exitCode !== 0) throw new Error(`${q.name}: bt exited ${r.exitCode}: ${r.stderr}`);
        rows = (JSON.parse(String(r.stdout)) as { data: unknown[] }).data.length;
        btTimes.push(ms);
        const [dms] = await time(() => store.read(q.duck));
        duckTimes.push(dms);
      }
      results.push({ name: q.name, bt: median(btTimes), duck: median(duckTimes), rows });
      process.stdout.write(`  ${q.name.padEnd(36)} bt sql ${median(btTimes).toFixed(0).padStart(6)} ms   DuckDB ${median(duckTimes).toFixed(0).padStart(6)} ms   (${rows} rows)\n`);
    }
    const [btStartMs] = await time(() => execa(defaultBtPath(), ['--version'], { env, extendEnv: false, stdin: 'ignore' }));
    await served.close();
    await store.close();
    const dbBytes = statSync(join(dir, 'bench.duckdb')).size;

    const mem = (totalmem() / 2 ** 30).toFixed(1);
    const nproc = (await execa('nproc')).stdout.trim();
    const lines = [
      '# Local Braintrust server benchmarks',
      '',
      'Generated by `npx tsx bench/btql-bench.ts` (see the header of that file for what it does).',
      '',
      `- Date: ${new Date().toISOString()}`,
      `- Machine: nproc=${nproc} (${cpus()[0]?.model ?? 'unknown CPU'}), memory ${mem} GiB (free at start ${(freemem() / 2 ** 30).toFixed(1)} GiB), shared with other work`,
      `- Node ${process.version}, @duckdb/node-api 1.5.6-r.1, bt 0.12.0`,
      `- Data: ${seeded.rows.toLocaleString('en-US')} spans in ${gen.traces.toLocaleString('en-US')} traces (root + llm + tool + score span), created over 30 days; NDJSON ${(gen.bytes / 1e6).toFixed(0)} MB; DuckDB file ${(dbBytes / 1e6).toFixed(0)} MB`,
      '',
      '## Seeding (bt sync pull layout → DuckDB)',
      '',
      '| step | time |',
      '|---|---|',
      `| generate NDJSON | ${(genMs / 1000).toFixed(1)} s |`,
      `| seed into an empty store | ${(seedMs / 1000).toFixed(1)} s (${Math.round(seeded.rows / (seedMs / 1000)).toLocaleString('en-US')} rows/s) |`,
      `| seed the same snapshot again (replaces, no duplicates: table holds ${total.toLocaleString('en-US')}) | ${(reseedMs / 1000).toFixed(1)} s |`,
      '',
      `## Discovery queries (median of ${RUNS})`,
      '',
      '"bt sql" is end to end: a new `bt` process (its bare start-up is about ' +
        `${btStartMs.toFixed(0)} ms), login, HTTP, BTQL parse/translate, DuckDB, JSON. "DuckDB" is hand-written SQL over the same table, in process.`,
      '',
      '| query | bt sql | DuckDB direct | rows |',
      '|---|---:|---:|---:|',
      ...results.map((r) => `| ${r.name} | ${r.bt.toFixed(0)} ms | ${r.duck.toFixed(0)} ms | ${r.rows} |`),
      '',
    ];
    writeBenchSection('btql-bench', lines.join('\n'));
    process.stdout.write('wrote its section of bench/BENCHMARKS.md\n');
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`kept ${dir}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
