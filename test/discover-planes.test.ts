// Discover as a planner over evidence planes (src/activities/discover/), on the real parts: the real `bt` against
// the local server seeded with the example's defective traffic at the suite's fixed clock.
// - the bounded pool: never more calls in flight than its bound, results and the query log in issue order whatever
//   finishes first, the first failure stops everything queued (and is the error reported), cancellation too;
// - the planner: the same evidence and the same queries.jsonl one query at a time or in the pool, each query
//   logged under its plane, progress for every plane;
// - one row per plane: each plane module alone returns exactly its part of the evidence;
// - the planes' pure readers on tables of rows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover, DISCOVER_CONCURRENCY, errorShape, QueryPool, windowClause, type QueryLogEntry } from '../src/activities/discover.js';
import { alignmentPlane } from '../src/activities/discover/alignment.js';
import { changePlane } from '../src/activities/discover/change.js';
import { EXAMPLES_PER_COHORT, LOW, type PlaneContext } from '../src/activities/discover/context.js';
import { cohortExamples, coveragePlane, examplesOfCohorts } from '../src/activities/discover/coverage.js';
import { pickExamples, readSpanTree, safeName, spanTreeText } from '../src/activities/discover/examples.js';
import { instrumentationPlane, staleColumns } from '../src/activities/discover/instrumentation.js';
import { performanceEvidence, perfStats } from '../src/activities/discover/performance.js';
import { qualityPlane } from '../src/activities/discover/quality.js';
import { rankErrorShapes, reliabilityPlane } from '../src/activities/discover/reliability.js';
import { trafficPlane } from '../src/activities/discover/traffic.js';
import { BtClient } from '../src/bt/client.js';
import { BtError } from '../src/bt/errors.js';
import { fieldPath, projectLogs } from '../src/bt/sql.js';
import { clockFromEnv } from '../src/clock.js';
import type { LocalServerHandle } from '../src/local-server/index.js';
import type { DiscoverEvidence, ScoreStats } from '../src/workflows/logic/evidence.js';
import type { OrientContext } from '../src/workflows/types.js';
import { seedDefectiveExample, type SeededExample } from './support/seeded-example.js';

const PROJECT = 'support-agent';
const now = clockFromEnv(process.env)();
let home: string;
let server: LocalServerHandle;
let env: Record<string, string>;
let ctx: OrientContext;

/** A BtClient that counts the `bt sql` processes it started and the most running at once. */
class CountingBt extends BtClient {
  started = 0;
  running = 0;
  peak = 0;
  override async sql<Row = Record<string, unknown>>(query: string, opts: Parameters<BtClient['sql']>[1] = {}) {
    this.started++;
    this.peak = Math.max(this.peak, ++this.running);
    try {
      return await super.sql<Row>(query, opts as never);
    } finally {
      this.running--;
    }
  }
}
const newBt = () => new CountingBt({ env, cwd: home });

let seeded: SeededExample | undefined;

beforeAll(async () => {
  seeded = await seedDefectiveExample({ prefix: 'discover-planes', workflowId: 'discover-planes', project: PROJECT });
  ({ home, server, env, ctx } = seeded);
}, 300_000);

afterAll(async () => {
  await seeded?.close();
});

const W = () => windowClause(7);
const src = () => projectLogs(ctx.project.id);
/**
 * Different work per query (group by different keys), so completion order differs from issue order. Grouped rows are
 * ordered: without ORDER BY the engine may return groups in any order, run to run.
 */
const battery = () => [
  `SELECT COUNT(*) AS n FROM ${src()} WHERE ${W()}`,
  `SELECT span_attributes.name AS k, COUNT(*) AS n FROM ${src()} WHERE ${W()} GROUP BY span_attributes.name ORDER BY span_attributes.name`,
  `SELECT root_span_id FROM ${src()} WHERE is_root = true AND ${W()} ORDER BY root_span_id LIMIT 3`,
  `SELECT metadata.category AS k, COUNT(*) AS n FROM ${src()} WHERE is_root = true AND ${W()} GROUP BY metadata.category ORDER BY metadata.category`,
  `SELECT error, COUNT(*) AS n FROM ${src()} WHERE error IS NOT NULL AND ${W()} GROUP BY error ORDER BY error`,
  `SELECT count_distinct(root_span_id) AS n FROM ${src()} WHERE ${W()}`,
];

describe('the bounded pool', () => {
  it('keeps at most its bound in flight, answers by position and logs in issue order', async () => {
    const bt = newBt();
    const pool = new QueryPool(bt, { concurrency: 2 });
    const a = pool.plane('a');
    const b = pool.plane('b');
    const queries = battery();
    // Interleaved between two planes: each plane's log keeps its own issue order, planes in creation order.
    const answers = await Promise.all(queries.map((q, i) => (i % 2 ? b : a).run(q)));
    expect(bt.peak).toBe(2);
    expect(pool.peak).toBe(2);
    const sequential = [];
    for (const q of queries) sequential.push((await newBt().sql(q)).data);
    expect(answers).toEqual(sequential);
    const log = pool.entries();
    expect(log.map((e) => [e.plane, e.query])).toEqual([
      ...queries.filter((_, i) => i % 2 === 0).map((q) => ['a', q]),
      ...queries.filter((_, i) => i % 2 === 1).map((q) => ['b', q]),
    ]);
    expect(log.map((e) => e.rows)).toEqual([0, 2, 4, 1, 3, 5].map((i) => answers[i]!.length));
  }, 120_000);

  it('a branch logs in the place it was opened, whenever its queries run', async () => {
    const pool = new QueryPool(newBt(), { concurrency: 2 });
    const q = pool.plane('x');
    const [x1, x2, x3] = battery();
    const first = q.run(x1!);
    const a = q.branch();
    const b = q.branch();
    await b.run(x2!);
    await a.run(x3!);
    await first;
    expect(pool.entries().map((e) => e.query)).toEqual([x1, x3, x2]);
  }, 120_000);

  it('a permanent error stops the queue and is the error reported; nothing queued starts', async () => {
    const bt = newBt();
    const pool = new QueryPool(bt, { concurrency: 1 });
    const q = pool.plane('x');
    // Undocumented SQL: the local server answers 400 naming the construct, as the service would reject it.
    const bad = `SELECT CASE WHEN error IS NULL THEN 1 ELSE 0 END AS ok FROM ${src()} WHERE ${W()} LIMIT 1`;
    const runs = [q.run(bad), ...battery().map((x) => q.run(x))];
    const settled = await Promise.allSettled(runs);
    await pool.drain();
    const first = settled[0]!;
    expect(first.status).toBe('rejected');
    const err = (first as PromiseRejectedResult).reason as BtError;
    expect(err).toBeInstanceOf(BtError);
    expect(err.kind).toBe('bad_query');
    expect(err.retryable).toBe(false);
    expect(pool.failure).toBe(err);
    expect(bt.started).toBe(1);
    for (const s of settled.slice(1)) expect(((s as PromiseRejectedResult).reason as BtError).kind).toBe('cancelled');
    expect(pool.entries()).toEqual([]);
  }, 120_000);

  it('an optional call may fail without stopping the pool', async () => {
    const pool = new QueryPool(newBt(), { concurrency: 2 });
    const q = pool.plane('x');
    await expect(q.call((bt, signal) => bt.datasetsList('no-such-project-anywhere', { signal }), { optional: true })).rejects.toBeInstanceOf(BtError);
    expect(pool.failure).toBeUndefined();
    expect(await q.run(battery()[0]!)).toHaveLength(1);
  }, 120_000);

  it('cancellation kills what runs and starts nothing more', async () => {
    const bt = newBt();
    const ac = new AbortController();
    const pool = new QueryPool(bt, { concurrency: 1, signal: ac.signal });
    const q = pool.plane('x');
    const runs = battery().map((x) => q.run(x));
    setTimeout(() => ac.abort(), 20);
    const settled = await Promise.allSettled(runs);
    await pool.drain();
    expect(settled.every((s) => s.status === 'rejected' && (s.reason as BtError).kind === 'cancelled')).toBe(true);
    expect(bt.started).toBe(1);
  }, 120_000);

  it('rejects a bound that is not a positive integer', () => {
    expect(() => new QueryPool(newBt(), { concurrency: 0 })).toThrow(RangeError);
    expect(() => new QueryPool(newBt(), { concurrency: 1.5 })).toThrow(RangeError);
  });
});

describe('the planner', () => {
  const runs: Record<number, { evidence: DiscoverEvidence; log: QueryLogEntry[]; progress: string[]; bt: CountingBt; dir: string }> = {};
  const strip = (e: DiscoverEvidence, dir: string) => {
    const { file: _file, ...rest } = e;
    return JSON.parse(JSON.stringify(rest).split(dir).join('<dir>')) as unknown;
  };
  beforeAll(async () => {
    for (const concurrency of [1, DISCOVER_CONCURRENCY]) {
      const dir = join(home, `run-${concurrency}`);
      const bt = newBt();
      const progress: string[] = [];
      const evidence = await discover(bt, { ctx, goal: 'g', windowDays: 7, iteration: 1, dir, now, concurrency }, undefined, (w) => progress.push(w));
      const log = readFileSync(join(dir, 'queries.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as QueryLogEntry);
      runs[concurrency] = { evidence, log, progress, bt, dir };
    }
  }, 300_000);

  it('the pool really overlaps calls, and one at a time really is one at a time', () => {
    expect(runs[1]!.bt.peak).toBe(1);
    expect(runs[DISCOVER_CONCURRENCY]!.bt.peak).toBeGreaterThan(1);
    expect(runs[DISCOVER_CONCURRENCY]!.bt.peak).toBeLessThanOrEqual(DISCOVER_CONCURRENCY);
  });

  it('gives the same evidence and the same query log whichever query finishes first', () => {
    const one = runs[1]!;
    const many = runs[DISCOVER_CONCURRENCY]!;
    expect(strip(many.evidence, many.dir)).toEqual(strip(one.evidence, one.dir));
    expect(many.log.map((e) => [e.plane, e.query, e.rows])).toEqual(one.log.map((e) => [e.plane, e.query, e.rows]));
    // The evidence is real: the example's planted failures are in it.
    expect(one.evidence.reliability.toolErrors.find((t) => t.tool === 'lookup_order')!.errors).toBeGreaterThan(0);
    expect(one.evidence.cohorts.some((c) => c.dimension === 'topic' && c.value === 'Returns & refunds')).toBe(true);
  });

  it('cohort examples: one shared query finds what one query per cohort finds; a full answer falls back per cohort', async () => {
    const worst = runs[1]!.evidence.cohorts.filter((c) => c.lowScoreShare !== null && c.lowScoreShare > 0);
    const shared = worst.filter((c) => c.dimension === 'tag' || c.dimension === 'metadata');
    expect(shared.length).toBeGreaterThan(1);
    expect(worst.length).toBeGreaterThan(shared.length); // topic cohorts keep their own query
    const rest = `is_root = true AND ${W()} AND ${fieldPath('scores', ctx.primaryScore!)} <= ${LOW}`;
    const alone: string[][] = [];
    for (const c of worst) alone.push(await cohortExamples(new QueryPool(newBt(), { concurrency: 1 }).plane('x'), src(), c, rest));
    expect(alone.filter((ids) => ids.length === EXAMPLES_PER_COHORT).length).toBeGreaterThan(1);
    for (const [cap, queries] of [
      [1000, 1 + worst.length - shared.length], // 800 traces: the shared answer holds every match
      [3, 1 + worst.length], // a full answer of 3 rows: every shared cohort asks again on its own
    ] as const) {
      const pool = new QueryPool(newBt(), { concurrency: 2 });
      expect(await examplesOfCohorts(pool.plane('x'), src(), worst, rest, { cap })).toEqual(alone);
      expect(pool.entries()).toHaveLength(queries);
    }
  });

  it('logs every query under its plane, planes in evidence order', () => {
    const planes = [...new Set(runs[1]!.log.map((e) => e.plane))];
    // The follow-up pass runs after the battery, so it logs last.
    expect(planes).toEqual(['traffic', 'quality', 'reliability', 'coverage', 'performance', 'change', 'instrumentation', 'follow-up']);
    // Every `bt sql` process is accounted for: one per logged query, or its pages for a paged read.
    expect(runs[1]!.log.reduce((a, e) => a + (e.requests ?? 1), 0)).toBe(runs[1]!.bt.started);
  });

  it('reports progress for every plane, and when each is done', () => {
    const p = runs[DISCOVER_CONCURRENCY]!.progress;
    for (const what of ['measuring traffic', 'quality: score distributions', 'reliability: errors and tool failures', 'coverage: cohorts vs eval datasets', 'change correlation', 'instrumentation health', 'drilling into example traces', 'following up the candidate causes'])
      expect(p).toContain(what);
    for (const plane of ['quality', 'reliability', 'coverage', 'performance', 'change', 'instrumentation', 'alignment']) expect(p.some((x) => x.startsWith(`${plane} done`))).toBe(true);
  });

  it('a permanent error in one plane fails Discover with that error, not with the cancellations it caused', async () => {
    const bt = newBt();
    // A baseline experiment that does not exist: the alignment plane's query fails while the other planes run.
    const broken = { ...ctx, baseline: { id: '00000000-0000-4000-8000-00000000dead', name: 'gone', chosenBy: 'env' as const } };
    const err = (await discover(bt, { ctx: broken, goal: 'g', windowDays: 7, iteration: 1, dir: join(home, 'broken'), now }).then(
      () => null,
      (e: unknown) => e,
    )) as BtError;
    expect(err).toBeInstanceOf(BtError);
    expect(err.kind).not.toBe('cancelled');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/experiment/);
    // It stopped early: far fewer bt sql processes than a whole Discover.
    expect(bt.started).toBeLessThan(runs[1]!.bt.started);
  }, 120_000);

  describe('each plane alone returns exactly its part of the evidence', () => {
    const pcOf = (plane: string, dir = join(home, `alone-${plane}`)): PlaneContext => {
      const pool = new QueryPool(newBt());
      const e = runs[1]!.evidence;
      return {
        q: pool.plane(plane),
        ctx,
        src: src(),
        W: windowClause(e.window.days),
        roots: `${src()} WHERE is_root = true AND ${windowClause(e.window.days)}`,
        days: e.window.days,
        now,
        traces: e.traffic.traces,
        spans: e.traffic.spans,
        primary: ctx.primaryScore,
        scorePath: ctx.primaryScore ? fieldPath('scores', ctx.primaryScore) : null,
        dir,
        datasetId: null,
      };
    };
    const rows: Array<{ plane: string; alone: (pc: PlaneContext) => Promise<unknown>; part: (e: DiscoverEvidence) => unknown }> = [
      { plane: 'traffic', alone: async (pc) => trafficPlane(pc.q, { src: pc.src, windowDays: 7, now }), part: (e) => ({ traffic: e.traffic, window: e.window }) },
      { plane: 'quality', alone: qualityPlane, part: (e) => e.scores },
      { plane: 'reliability', alone: reliabilityPlane, part: (e) => e.reliability },
      { plane: 'coverage', alone: async (pc) => (({ cohorts, datasets }) => ({ cohorts, datasets }))(await coveragePlane(pc)), part: (e) => ({ cohorts: e.cohorts, datasets: e.datasets }) },
      {
        plane: 'performance',
        alone: async (pc) => {
          const p = await performanceEvidence(pc);
          return { performance: p.performance, changes: p.performancePlane.changes, sample: p.performancePlane.sample };
        },
        part: (e) => ({ performance: e.performance, changes: e.performancePlane!.changes, sample: e.performancePlane!.sample }),
      },
      { plane: 'change', alone: changePlane, part: (e) => e.changes },
      { plane: 'instrumentation', alone: instrumentationPlane, part: (e) => e.instrumentation },
      { plane: 'alignment', alone: (pc) => alignmentPlane(pc, Promise.resolve([] as ScoreStats[])), part: (e) => e.evalAlignment },
    ];
    it.each(rows)('$plane', async ({ plane, alone, part }) => {
      expect(await alone(pcOf(plane))).toEqual(part(runs[1]!.evidence));
    }, 120_000);
  });
});

describe("the planes' pure readers", () => {
  it.each([
    { message: 'Timeout after 1234 ms calling "search"', shape: 'Timeout after # ms calling "…"' },
    { message: "order 'AB-12' not found", shape: 'order "…" not found' },
    { message: 'trace 0f8fad5b-d9cb-469f-a165-70867728950e failed', shape: 'trace <id> failed' },
  ])('errorShape($message)', ({ message, shape }) => {
    expect(errorShape(message)).toBe(shape);
  });

  it('error groups fold by shape, biggest first, each with one raw message to query by', () => {
    const ranked = rankErrorShapes([
      { message: 'Timeout after 100 ms', count: 2 },
      { message: 'bad input', count: 3 },
      { message: 'Timeout after 250 ms', count: 4 },
    ]);
    expect(ranked).toEqual([
      { message: 'Timeout after # ms', count: 6, sample: 'Timeout after 100 ms' },
      { message: 'bad input', count: 3, sample: 'bad input' },
    ]);
  });

  it.each([
    { name: 'no recent rows: nothing can be said', recent: [], older: [{ scores: { a: 1 }, created: 'x' }], want: [] },
    { name: 'a column gone, a look-alike new', recent: [{ scores: { Fact_uality: 1 } }], older: [{ scores: { Factuality: 1 }, created: '2026-01-02' }, { scores: { Factuality: 0 }, created: '2026-01-03' }], want: [{ name: 'Factuality', lastSeen: '2026-01-03', likelyRenamedTo: 'Fact_uality' }] },
    { name: 'recent rows with no scores at all: every older column is gone', recent: [{ scores: null }], older: [{ scores: { a: 1 }, created: 'd' }], want: [{ name: 'a', lastSeen: 'd', likelyRenamedTo: null }] },
    { name: 'same columns: nothing stale', recent: [{ scores: { a: 1 } }], older: [{ scores: { a: 0 }, created: 'd' }], want: [] },
  ])('stale score columns: $name', ({ recent, older, want }) => {
    expect(staleColumns(recent, older)).toEqual(want);
  });

  it('latency and token statistics of a sample; null when it has neither', () => {
    const rows = [0, 1, 2, 3].map((i) => ({ root_span_id: `t${i}`, s: 100, e: 100 + (i + 1), tokens: i === 3 ? null : 10 * (i + 1) }));
    expect(perfStats(rows, 'Q')).toEqual({ p50LatencyMs: 2000, p95LatencyMs: 3000, meanTokens: 20, p95Tokens: 20, totalTokens: 60, exampleTraceIds: ['t3', 't2', 't1'], query: 'Q' });
    expect(perfStats([{ root_span_id: 'x', s: 'not a time', e: 'not a time', tokens: null }], 'Q')).toBeNull();
  });

  it('drill-ins: failing tools, worst cohorts, the first change point, low scores — once each, in that order', () => {
    const picked = pickExamples(
      { ctx, primary: 'answer_quality' },
      {
        toolErrors: [{ tool: 'lookup', errors: 3, exampleTraceIds: ['t1'] }, { tool: 'ok', errors: 0, exampleTraceIds: ['t9'] }],
        worstCohorts: [{ dimension: 'topic', key: 'Task', value: 'Returns', exampleTraceIds: ['t1', 't2'] } as never],
        performancePlane: { changes: [{ source: 'root', key: 'v', value: '2', slowestAfterTraceIds: ['t3'], typicalBeforeTraceIds: ['t4'] }] } as never,
        scores: [{ name: 'answer_quality', lowScoreExamples: ['t5'] } as never],
      },
    );
    expect(picked.map((e) => [e.traceId, e.reason])).toEqual([
      ['t1', 'tool error: lookup'],
      ['t3', 'slowest trace with metadata.v=2'],
      ['t4', 'typical trace before metadata.v=2'],
      ['t5', 'low answer_quality'],
    ]);
    expect(picked[0]!.url).toContain('t1');
  });

  const span = (name: string, type: string, over: Record<string, unknown> = {}) => ({ span_attributes: { name, type }, output: { content: 'ok' }, error: null, ...over });
  it.each([
    {
      name: 'a tool retried after an error',
      spans: [span('agent', 'task', { is_root: true }), span('lookup_order', 'tool', { error: 'not found', output: null }), span('lookup_order', 'tool'), span('chat', 'llm')],
      want: { spans: 4, toolSequence: ['lookup_order', 'lookup_order'], repeatedTools: [{ tool: 'lookup_order', calls: 2 }], errorSpans: ['lookup_order'], emptyOutputs: 1, refusal: false },
      text: '4 spans; tools: lookup_order → lookup_order; repeated: lookup_order ×2; errors in: lookup_order; 1 empty output',
    },
    {
      name: 'a refusal with no tool call',
      spans: [span('agent', 'task', { is_root: true, output: "I'm sorry, but I can't help with refunds." }), span('chat', 'llm', { output: { content: "Sorry, I can't do that" } })],
      want: { spans: 2, toolSequence: [], repeatedTools: [], errorSpans: [], emptyOutputs: 0, refusal: true },
      text: '2 spans; no tool calls; the answer reads as a refusal',
    },
    {
      name: 'empty answers, and a hostile tool name quoted safely',
      spans: [span('agent', 'task', { is_root: true, output: '' }), span('x`]|<b>\nDROP', 'tool', { output: [] }), span('score', 'score', { output: null })],
      want: { spans: 3, toolSequence: ['x b DROP'], repeatedTools: [], errorSpans: [], emptyOutputs: 2, refusal: false },
      text: '3 spans; tools: x b DROP; 2 empty outputs',
    },
  ])('span tree: $name', ({ spans, want, text }) => {
    const t = readSpanTree(spans);
    expect(t).toEqual(want);
    expect(spanTreeText(t)).toBe(text);
  });

  it.each([
    ["I'm sorry, I can't resolve this here. Please contact our support team.", true],
    ['I’m sorry, I can’t help with that.', true],
    ['Sorry, but I cannot do that.', true],
    ['I am unable to assist with this request.', true],
    ["I'm sorry for the delay! Your order shipped on Monday.", false],
    ["I'm sorry, I couldn't look up your order right now. Please try again later.", false], // an apology for an error, not a refusal
    ['Your refund was issued; I can not see any other charges.', false],
  ])('refusal reading: %s → %s', (answer, refusal) => {
    expect(readSpanTree([span('agent', 'task', { is_root: true, output: answer })]).refusal).toBe(refusal);
  });

  it('safeName keeps names readable and bounded', () => {
    expect(safeName('lookup_order')).toBe('lookup_order');
    expect(safeName('a'.repeat(80))).toHaveLength(60);
    expect(safeName(42)).toBe('(unnamed)');
  });
});
