/**
 * The local server's store under an eval's load, by production-log volume: how long `/logs3` batches of an
 * experiment (inserts, then merges, as the SDK sends them) and the experiment/dataset reads the flywheel makes take
 * when the `rows` table also holds N production spans.
 *
 *   npx tsx bench/store-bench.ts [--spans 10000,100000,1000000] [--reps 3]
 *
 * Production spans are synthetic (inserted in SQL, ~1.3 KB of JSON each, like the example's), so large volumes
 * load in seconds; the experiment rows go through the server's own ingest (ingestRows) and reads through runBtql.
 * Prints medians per operation; nothing is appended anywhere.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBtql } from '../src/local-server/btql/run.js';
import { ingestRows } from '../src/local-server/ingest.js';
import { Store } from '../src/local-server/store.js';

const { values: opts } = parseArgs({
  options: {
    spans: { type: 'string', default: '10000,100000,1000000' },
    reps: { type: 'string', default: '3' },
  },
});
const VOLUMES = opts.spans.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
const REPS = Number(opts.reps);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const out = await fn();
  return [out, performance.now() - t];
}

/** N production spans of one project, ~1.3 KB of JSON each, 3 spans per trace, in one INSERT … SELECT. */
async function seedProduction(store: Store, projectId: string, n: number): Promise<void> {
  const pad = 'x'.repeat(400);
  await store.write(async (c) => {
    const base = store.allocPk(n);
    const xact = store.allocXact();
    await c.run(`INSERT INTO rows (object_type, object_id, id, _xact_id, _pk, created, org_id, project_id, log_id, span_id, root_span_id, span_parents, is_root,
        input, output, scores, metrics, metadata, span_attributes)
      SELECT 'project_logs', '${projectId}', 'span-' || i, ${xact}, ${base} + i, TIMESTAMP '2026-11-30 00:00:00' - INTERVAL (i) SECOND, 'org', '${projectId}', 'g',
        'span-' || i, 'span-' || (i - i % 3), CASE WHEN i % 3 = 0 THEN NULL ELSE json_array('span-' || (i - i % 3)) END, i % 3 = 0,
        json_object('question', 'question ' || i || ' ${pad}'), json_object('answer', 'answer ' || i || ' ${pad}'),
        CASE WHEN i % 3 = 0 THEN json_object('answer_quality', (i % 10) / 10.0) END, json_object('start', i, 'end', i + 1, 'tokens', i % 500),
        json_object('category', 'c' || (i % 7), 'locale', 'en'), json_object('type', CASE WHEN i % 3 = 2 THEN 'llm' ELSE 'task' END)
      FROM range(${n}) t(i)`);
  });
}

/** One eval's experiment rows the way the JS SDK logs them: a batch of new spans, then merges adding output and scores. */
function evalBatches(experimentId: string, evalRows: number, tag: string): Array<Array<Record<string, unknown>>> {
  const spans: Array<Record<string, unknown>> = [];
  const merges: Array<Record<string, unknown>> = [];
  for (let r = 0; r < evalRows; r++) {
    const root = `${tag}-root-${r}`;
    const common = { experiment_id: experimentId, root_span_id: root, created: new Date().toISOString() };
    spans.push({ ...common, id: root, span_id: root, span_parents: [], input: { question: `q ${r} ${'y'.repeat(120)}` }, expected: { category: 'billing', keywords: ['invoice'] }, metadata: { case: r, split: 'train' }, span_attributes: { type: 'eval', name: 'eval' } });
    const kids = ['task', 'correct_category', 'answer_quality', 'no_tool_error'];
    for (const k of kids) {
      const id = `${tag}-${k}-${r}`;
      spans.push({ ...common, id, span_id: id, span_parents: [root], span_attributes: { type: k === 'task' ? 'task' : 'score', name: k }, input: { question: `q ${r}` } });
      merges.push({ ...common, id, _is_merge: true, output: k === 'task' ? { answer: `a ${r} ${'z'.repeat(200)}` } : { score: 1 }, ...(k === 'task' ? {} : { scores: { [k]: r % 2 } }), metrics: { start: 1, end: 2 } });
    }
    merges.push({ ...common, id: root, _is_merge: true, output: { answer: `a ${r}` }, scores: {}, metrics: { start: 1, end: 3 } });
  }
  const all = [...spans, ...merges];
  const out: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < all.length; i += 100) out.push(all.slice(i, i + 100));
  return out;
}

async function main(): Promise<void> {
  process.stdout.write(`load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')}\n`);
  for (const n of VOLUMES) {
    const dir = mkdtempSync(join(tmpdir(), 'store-bench-'));
    const store = await Store.open(join(dir, 'bt.duckdb'));
    try {
      const project = await store.ensureProject('bench');
      const [, seedMs] = await timed(() => seedProduction(store, project.id, n));
      const dataset = await store.ensureDataset({ project_id: project.id, name: 'flywheel-bench' });
      await ingestRows(store, Array.from({ length: 120 }, (_, i) => ({ dataset_id: dataset.id, id: `d${i}`, input: { question: `dq ${i}` }, expected: { category: 'billing' }, metadata: { split: i % 5 === 0 ? 'validation' : 'train' } })));
      const ingest: number[] = [];
      const readKeys: number[] = [];
      const readDataset: number[] = [];
      const prodQuery: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const e = await store.createExperiment({ project_id: project.id, name: `e${rep}` });
        let sum = 0;
        for (const batch of evalBatches(e.id, 68, `r${rep}`)) sum += (await timed(() => ingestRows(store, batch)))[1];
        ingest.push(sum);
        readKeys.push(
          (await timed(() => runBtql(store, { query: `SELECT id, root_span_id, is_root, origin, metadata.record_id AS m_record_id, scores, error FROM experiment('${e.id}') WHERE is_root = true OR scores IS NOT NULL OR error IS NOT NULL ORDER BY _pagination_key ASC LIMIT 1000` })))[1],
        );
        readDataset.push((await timed(() => runBtql(store, { query: `select: * | from: dataset('${dataset.id}') | limit: 1000` })))[1]);
        prodQuery.push((await timed(() => runBtql(store, { query: `SELECT metadata.category AS value, COUNT(*) AS n FROM project_logs('${project.id}') WHERE is_root = true GROUP BY 1` })))[1]);
      }
      process.stdout.write(
        `${n.toLocaleString('en-US')} production spans (seeded in ${(seedMs / 1000).toFixed(1)} s): one eval's /logs3 batches ${median(ingest).toFixed(0)} ms; ` +
          `experiment key read ${median(readKeys).toFixed(0)} ms; dataset read ${median(readDataset).toFixed(0)} ms; production GROUP BY ${median(prodQuery).toFixed(0)} ms ` +
          `(medians of ${REPS}; load ${loadavg()[0]!.toFixed(2)})\n`,
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
