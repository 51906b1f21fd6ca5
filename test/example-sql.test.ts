// Every seed SQL template (shared/seed/references/bt-sql-patterns.md, built by src/bt/sql.ts) run through
// the real `bt sql` against the local server seeded with the support-agent example, and every result
// checked against values computed here from the generated jsonl rows (and, for experiments, from the
// golden cases scored in-process) — never against the server's own numbers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateExampleTraces, readSpecRows } from '../examples/support-agent/generate-traces.js';
import { BtClient } from '../src/bt/client.js';
import {
  errorsQuery,
  experimentRegressionsQuery,
  experimentRowsQuery,
  experimentScoreDistributionQuery,
  experimentScoreStatsQuery,
  facetDistributionQuery,
  highLatencyQuery,
  lowScoresQuery,
  projectLogs,
  schemaDiscoveryQuery,
  scoreDistributionQuery,
  since,
} from '../src/bt/sql.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import {
  DAY_MS,
  EXAMPLE_DIR,
  btEnvFor,
  generateAtFixedClock,
  goldenScores,
  type Row,
  type WindowedTraces,
} from './support/example-window.js';

const PROJECT = 'support-agent';
const OLD_PROJECT = 'support-agent-old';
const SCORES = ['answer_quality', 'correct_category', 'no_tool_error'] as const;

let home: string;
let server: LocalServerHandle;
let bt: BtClient;
let env: Record<string, string>;
let data: WindowedTraces;
let projectId: string;
let oldProjectId: string;
let oldRows: Row[];

async function sql(query: string): Promise<Row[]> {
  const res = await bt.sql(query);
  return res.data as Row[];
}

/**
 * Every row of a template's query: its trailing LIMIT dropped, read through the cursor in pages (the service allows
 * LIMIT ≤ 1000, and ≤ 100 with large fields such as output).
 */
async function allRows(query: string, pageSize = 1000): Promise<Row[]> {
  const base = query.replace(/ LIMIT \d+$/, '');
  const res = await bt.sqlPages(base, { pageSize, maxRows: 100_000 });
  expect(res.truncated).toBe(false);
  return res.data as Row[];
}

/** Value counts keyed by JSON (null included), e.g. {"0": 12, "1": 300, "null": 5}. */
function countBy<T>(items: readonly T[], key: (x: T) => unknown): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) {
    const k = JSON.stringify(key(x) ?? null);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const roots = (days: number) => data.rows.filter((r) => r.is_root === true && data.inWindow(r, days));
const byId = () => new Map(data.rows.map((r) => [r.id as string, r]));

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'example-sql-'));
  server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  data = await generateAtFixedClock({ outDir: join(home, 'sync'), projectName: PROJECT, traces: 2000, seed: 42 });
  projectId = data.rows[0]!.project_id as string;
  await server.seedFromSyncDir(data.gen.dir, { projectName: PROJECT });
  // A second project whose newest trace is 3 days old: the schema-discovery ladder must widen past 1 day.
  const old = await generateExampleTraces({
    outDir: join(home, 'sync-old'),
    projectName: OLD_PROJECT,
    traces: 60,
    days: 10,
    seed: 7,
    now: new Date(data.t0 - 3 * DAY_MS),
  });
  oldRows = readSpecRows(old.dir);
  oldProjectId = oldRows[0]!.project_id as string;
  await server.seedFromSyncDir(old.dir, { projectName: OLD_PROJECT });
  env = btEnvFor(server.btEnv(), home);
  bt = new BtClient({ env, cwd: home });
});

afterAll(async () => {
  await server?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('example data sanity (what the templates will see)', () => {
  it('the generated rows carry root scores, facets and metrics start/end but no metrics.duration_ms', () => {
    const r7 = roots(7);
    expect(r7.length).toBeGreaterThan(300);
    expect(data.rows.filter((r) => r.is_root).length).toBe(2000);
    for (const r of r7) {
      expect(Object.keys(r.scores).sort()).toEqual([...SCORES]);
      expect(typeof r.metrics.start).toBe('number');
      expect(typeof r.metrics.end).toBe('number');
      expect(r.metrics.duration_ms).toBeUndefined();
      expect(r.error).toBeNull();
    }
    // Errors exist only on non-root (tool) spans.
    expect(data.rows.some((r) => r.is_root === false && r.error)).toBe(true);
  });
});

describe('schema discovery (1 → 7 → 30 days)', () => {
  for (const days of [1, 7, 30]) {
    it(`${days} day: one root row from the window, identical to the generated row`, async () => {
      const rows = await sql(schemaDiscoveryQuery(projectId, days));
      expect(rows).toHaveLength(1);
      const got = rows[0]!;
      const want = byId().get(got.id as string);
      expect(want, `row ${String(got.id)} is not a generated row`).toBeDefined();
      expect(want!.is_root).toBe(true);
      expect(got.is_root).toBe(true);
      const created = Date.parse(got.created as string);
      expect(created).toBe(Date.parse(want!.created as string));
      expect(data.inWindow(want!, days)).toBe(true);
      expect(created).toBeLessThanOrEqual(data.t0);
      // The full column set is there for orient to read score, facet and metadata keys from.
      expect(got.scores).toEqual(want!.scores);
      expect(got.facets).toEqual(want!.facets);
      expect(got.metadata).toEqual(want!.metadata);
      expect(got.input).toEqual(want!.input);
      expect(got.output).toEqual(want!.output);
      expect(got.metrics).toEqual(want!.metrics);
      expect(got.span_attributes).toEqual(want!.span_attributes);
      expect(got.root_span_id).toBe(want!.root_span_id);
    });
  }

  it('widens: a project with nothing in the last day is empty at 1 day and found at 7 and 30', async () => {
    const newest = Math.max(...oldRows.map((r) => Date.parse(r.created as string)));
    expect(Date.now() - newest).toBeGreaterThan(3 * DAY_MS);
    expect(await sql(schemaDiscoveryQuery(oldProjectId, 1))).toEqual([]);
    const oldIds = new Set(oldRows.filter((r) => r.is_root).map((r) => r.id));
    for (const days of [7, 30]) {
      const rows = await sql(schemaDiscoveryQuery(oldProjectId, days));
      expect(rows).toHaveLength(1);
      expect(oldIds.has(rows[0]!.id)).toBe(true);
      // Never a row of the other project.
      expect(rows[0]!.project_id).toBe(oldProjectId);
    }
  });
});

describe('discovery templates (7-day window)', () => {
  it('errors: root spans never carry the error in this example, so the template finds none', async () => {
    const want = roots(7).filter((r) => r.error != null);
    expect(want).toEqual([]);
    expect(await sql(errorsQuery(projectId))).toEqual([]);
  });

  it('errors without is_root: the lookup_order tool errors (the same template on spans)', async () => {
    const errSpans = data.rows.filter((r) => r.error != null && data.inWindow(r, 7));
    expect(errSpans.length).toBeGreaterThan(20);
    for (const r of errSpans) expect(r.span_attributes.name).toBe('lookup_order');
    const q = `SELECT id, error FROM ${projectLogs(projectId)} WHERE error IS NOT NULL AND ${since(7)} LIMIT 20`;
    const rows = await sql(q);
    expect(rows).toHaveLength(20);
    const want = new Map(errSpans.map((r) => [r.id as string, r.error]));
    for (const r of rows) expect(r.error).toBe(want.get(r.id as string));
    const all = await allRows(`SELECT id, error FROM ${projectLogs(projectId)} WHERE error IS NOT NULL AND ${since(7)}`);
    expect(new Set(all.map((r) => r.id))).toEqual(new Set(want.keys()));
  });

  for (const score of SCORES) {
    it(`low scores (${score} <= 0.5): the first 20 and the full set`, async () => {
      const want = new Map(roots(7).filter((r) => r.scores[score] !== null && r.scores[score] <= 0.5).map((r) => [r.id as string, r.scores[score] as number]));
      expect(want.size).toBeGreaterThan(20);
      const page = await sql(lowScoresQuery(projectId, score));
      expect(page).toHaveLength(20);
      for (const r of page) {
        expect(want.has(r.id as string), `${String(r.id)} is not a low-${score} root in the window`).toBe(true);
        expect(r[score]).toBe(want.get(r.id as string));
      }
      const all = await allRows(lowScoresQuery(projectId, score));
      expect(all).toHaveLength(want.size);
      expect(new Map(all.map((r) => [r.id as string, r[score]]))).toEqual(want);
    });
  }

  it('high latency, as written (metrics.duration_ms): the example logs no duration_ms, so nothing matches', async () => {
    expect(data.rows.some((r) => r.metrics?.duration_ms !== undefined)).toBe(false);
    expect(await sql(highLatencyQuery(projectId))).toEqual([]);
  });

  it('tokens live on the LLM spans, not the root: the root-span token template finds nothing', async () => {
    expect(roots(7).some((r) => r.metrics.tokens !== undefined)).toBe(false);
    expect(await sql(highLatencyQuery(projectId, { metric: 'tokens', thresholdMs: 320 }))).toEqual([]);
    const llm = data.rows.filter((r) => r.span_attributes?.type === 'llm' && data.inWindow(r, 7));
    const [row] = await sql(`SELECT SUM(metrics.tokens) AS tokens FROM ${projectLogs(projectId)} WHERE span_attributes.type = 'llm' AND ${since(7)}`);
    expect(row!.tokens).toBe(llm.reduce((a, r) => a + (r.metrics.tokens as number), 0));
  });

  it('high latency from metrics."end" - metrics."start" (seconds) > 2.2, slowest first', async () => {
    const dur = (r: Row) => (r.metrics.end as number) - (r.metrics.start as number);
    const want = roots(7)
      .filter((r) => dur(r) > 2.2)
      .map((r) => ({ id: r.id as string, v: dur(r) }))
      .sort((a, b) => b.v - a.v);
    expect(want.length).toBeGreaterThan(20);
    const d = 'metrics."end" - metrics."start"';
    const q = `SELECT id, ${d} AS duration_s FROM ${projectLogs(projectId)} WHERE is_root = true AND ${d} > 2.2 AND ${since(7)} ORDER BY ${d} DESC LIMIT 20`;
    const rows = await sql(q);
    expect(rows).toHaveLength(20);
    rows.forEach((r, i) => expect(r.duration_s as number).toBeCloseTo(want[i]!.v, 9));
    const wantV = new Map(want.map((x) => [x.id, x.v]));
    for (const r of rows) expect(r.duration_s as number).toBeCloseTo(wantV.get(r.id as string)!, 9);
  });

  for (const score of SCORES) {
    it(`score distribution of ${score}: one group per value, ascending, counts from the jsonl`, async () => {
      const want = sorted(countBy(roots(7), (r) => r.scores[score]));
      expect(want.length).toBeGreaterThanOrEqual(2);
      const rows = await sql(scoreDistributionQuery(projectId, score));
      expect(rows.map((r) => Object.keys(r).sort())).toEqual(rows.map(() => ['count', score].sort()));
      const got = rows.map((r) => [JSON.stringify(r[score] ?? null), r.count] as [string, number]);
      expect(new Map(got)).toEqual(new Map(want));
      // ORDER BY the score: ascending values.
      const values = rows.map((r) => r[score] as number);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(got.reduce((a, [, c]) => a + c, 0)).toBe(roots(7).length);
    });
  }

  /** Traces with any span in the window (the traces shape keeps every span of a matching trace). */
  const windowTraces = () => new Set(data.rows.filter((r) => data.inWindow(r, 7)).map((r) => r.root_span_id as string));

  for (const facet of ['Task', 'Sentiment', 'Issues']) {
    it(`facet distribution of ${facet} (traces shape): traces per value, most frequent first`, async () => {
      const traceIds = windowTraces();
      const traceRoots = data.rows.filter((r) => r.is_root && traceIds.has(r.root_span_id));
      // The facet lives on the root span: one count per trace for every non-null value.
      const perValue = countBy(traceRoots.filter((r) => r.facets?.[facet] != null), (r) => r.facets[facet]);
      expect(perValue.size).toBeGreaterThanOrEqual(2);
      const rows = await sql(facetDistributionQuery(projectId, facet));
      const nonNull = rows.filter((r) => r[facet] != null);
      expect(new Map(nonNull.map((r) => [JSON.stringify(r[facet]), r.count as number]))).toEqual(perValue);
      // The aggregate runs over every span of the matching traces: child spans (no facets) and roots whose
      // facet is null are counted under null (possibly split in two groups, see the known-bug test below).
      const nullSpans = data.rows.filter((r) => traceIds.has(r.root_span_id) && r.facets?.[facet] == null).length;
      expect(rows.filter((r) => r[facet] == null).reduce((a, r) => a + (r.count as number), 0)).toBe(nullSpans);
      const counts = rows.map((r) => r.count as number);
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
    });
  }

  // KNOWN BUG (local server): a nested JSON path that holds JSON null ({"Issues": null} on a root) and a
  // missing one (child spans) group separately, giving two `null` rows. src/local-server/btql/translate.ts
  // `ident` returns the raw json_extract(...) for nested non-score/metric paths (JSON 'null' ≠ SQL NULL) and
  // GROUP BY uses that expression verbatim. Braintrust treats both as null: one group.
  it('facet distribution of Issues has a single null group (JSON null and missing are both null)', async () => {
    const rows = await sql(facetDistributionQuery(projectId, 'Issues'));
    expect(rows.filter((r) => r.Issues == null)).toHaveLength(1);
  });

  it('the Task topic labels (classifications.Task[0].label) show the example traffic mix (returns ~20%, shipping ~28%)', async () => {
    const label = 'classifications."Task"[0].label';
    const rows = await sql(`SELECT ${label} AS topic, COUNT(*) AS count FROM ${projectLogs(projectId)} WHERE is_root = true AND ${since(7)} GROUP BY ${label} ORDER BY count DESC`);
    const total = rows.reduce((a, r) => a + (r.count as number), 0);
    expect(total).toBe(roots(7).length);
    expect(rows.some((r) => r.topic == null || r.topic === 'no_match')).toBe(false);
    const share = (t: string) => (rows.find((r) => r.topic === t)?.count as number) / total;
    expect(share('Returns & refunds')).toBeGreaterThan(0.12);
    expect(share('Returns & refunds')).toBeLessThan(0.28);
    expect(share('Order status & shipping')).toBeGreaterThan(0.2);
  });
});

describe('experiment templates (a real `bt eval` of eval_support.ts on the golden cases)', () => {
  let experimentId: string;
  const golden = goldenScores();

  beforeAll(async () => {
    const evalBt = new BtClient({
      env: { ...env, BRAINTRUST_DEFAULT_PROJECT: PROJECT, FLYWHEEL_EXPERIMENT_NAME: 'golden-baseline' },
      cwd: EXAMPLE_DIR,
    });
    const r = await evalBt.eval(['eval_support.ts'], { cwd: EXAMPLE_DIR, project: PROJECT });
    expect(r.exitCode).toBe(0);
    expect(r.summaries).toHaveLength(1);
    experimentId = r.summaries[0]!.experimentId as string;
    expect(experimentId).toBeTruthy();
  }, 180_000);

  it('the golden cases are 28 and the shipped agent fails some of them', () => {
    expect(golden).toHaveLength(28);
    expect(golden.some((g) => g.scores.answer_quality! < 0.5)).toBe(true);
  });

  for (const score of SCORES) {
    const values = () => golden.map((g) => g.scores[score]!);

    it(`sample rows (${score}): 20 rows; every ${score} value is one the golden cases produce`, async () => {
      const rows = await sql(experimentRowsQuery(experimentId, score));
      expect(rows).toHaveLength(20);
      for (const r of rows) expect(Object.keys(r).sort()).toEqual(['id', 'output', score].sort());
      const allowed = new Set(values());
      for (const r of rows) if (r[score] != null) expect(allowed.has(r[score] as number)).toBe(true);
      // All rows: the score appears exactly once per golden case (on its scorer span).
      const all = await allRows(experimentRowsQuery(experimentId, score), 100);
      const scored = all.filter((r) => r[score] != null).map((r) => r[score] as number);
      expect(scored.sort()).toEqual(values().sort());
    });

    it(`score statistics (${score}): AVG/MIN/MAX over the golden cases`, async () => {
      const rows = await sql(experimentScoreStatsQuery(experimentId, score));
      expect(rows).toHaveLength(1);
      const v = values();
      expect(rows[0]!.avg_score as number).toBeCloseTo(mean(v), 9);
      expect(rows[0]!.min_score).toBe(Math.min(...v));
      expect(rows[0]!.max_score).toBe(Math.max(...v));
    });

    it(`regressions (${score} < 0.5): exactly the failing golden cases`, async () => {
      const rows = await sql(experimentRegressionsQuery(experimentId, score));
      const want = values().filter((x) => x < 0.5);
      expect(rows).toHaveLength(want.length);
      expect(rows.map((r) => r[score] as number).sort()).toEqual(want.sort());
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    });

    it(`scorer distribution (${score}): value counts of the golden cases`, async () => {
      const rows = await sql(experimentScoreDistributionQuery(experimentId, score));
      const got = new Map(rows.map((r) => [JSON.stringify(r[score] ?? null), r.count as number]));
      const want = countBy(values(), (x) => x);
      for (const [value, count] of want) expect(got.get(value), `${score}=${value}`).toBe(count);
      // Spans without this score (eval root, task span, the other two scorer spans of each case) form the null group.
      expect(got.get('null')).toBe(4 * golden.length);
      expect(got.size).toBe(want.size + 1);
      const nonNull = rows.filter((r) => r[score] != null).map((r) => r[score] as number);
      expect(nonNull).toEqual([...nonNull].sort((a, b) => a - b));
    });
  }

  it('the experiment means match bt eval of the same cases computed in-process', async () => {
    const rows = await sql(
      `SELECT ${SCORES.map((s, i) => `AVG(scores.${s}) AS m${i}`).join(', ')} FROM experiment('${experimentId}')`,
    );
    SCORES.forEach((s, i) => expect(rows[0]![`m${i}`] as number).toBeCloseTo(mean(golden.map((g) => g.scores[s]!)), 9));
  });
});
