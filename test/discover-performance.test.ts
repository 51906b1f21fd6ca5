// Discover's performance/cost plane (src/activities/performance.ts) on scripted query answers: which dimensions
// are examined, how change points are found, before/after statistics, cost estimation, sampling, and that no
// trace-derived value ever reaches the SQL.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MODEL_PRICES_USD_PER_MTOK,
  PERF_PLANE_MAX_KEYS,
  PERF_PLANE_MAX_TRACES,
  perfDimensions,
  performancePlane,
  priceOf,
  sampleBound,
  sideStats,
  spanCostUsd,
  type PerfQueries,
  type PerfTrace,
} from '../src/activities/performance.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('pricing and statistics', () => {
  it('prices a model by exact name or its dated name, longest known prefix first', () => {
    expect(priceOf('gpt-4o-mini')).toEqual(MODEL_PRICES_USD_PER_MTOK['gpt-4o-mini']);
    expect(priceOf('gpt-4o-mini-2024-07-18')).toEqual(MODEL_PRICES_USD_PER_MTOK['gpt-4o-mini']);
    expect(priceOf('gpt-4o-2024-08-06')).toEqual(MODEL_PRICES_USD_PER_MTOK['gpt-4o']);
    expect(priceOf('GPT-4o')).toEqual(MODEL_PRICES_USD_PER_MTOK['gpt-4o']);
    expect(priceOf('gpt-4oz')).toBeNull();
    expect(priceOf('my-local-llama')).toBeNull();
    expect(priceOf(null)).toBeNull();
  });

  it('estimates a span cost from prompt and completion tokens, or a total as input tokens', () => {
    const p = MODEL_PRICES_USD_PER_MTOK['gpt-4o']!;
    expect(spanCostUsd('gpt-4o', 1000, 200, 1200)).toBeCloseTo((1000 * p.input + 200 * p.output) / 1e6, 12);
    expect(spanCostUsd('gpt-4o', null, null, 1200)).toBeCloseTo((1200 * p.input) / 1e6, 12);
    expect(spanCostUsd('unknown-model', 1000, 200, 1200)).toBeNull();
    expect(spanCostUsd('gpt-4o', null, null, null)).toBeNull();
  });

  it('side statistics: nearest-rank percentiles, means over the traces that have each metric', () => {
    const t = (id: string, latencyMs: number | null, tokens: number | null, costUsd: number | null, score: number | null): PerfTrace => ({
      id, createdMs: 0, latencyMs, tokens, costUsd, score, dims: {},
    });
    const s = sideStats([t('a', 300, 100, 0.001, 1), t('b', 100, 300, null, 0), t('c', 200, null, 0.003, null), t('d', null, 200, 0.002, 0.5)]);
    expect(s).toEqual({
      traces: 4,
      latencyTraces: 3,
      p50LatencyMs: 200,
      p95LatencyMs: 200, // floor(0.95 × 2) = index 1 of [100, 200, 300]
      tokenTraces: 3,
      meanTokens: 200,
      p50Tokens: 200,
      costTraces: 3,
      meanCostUsd: expect.closeTo(0.002, 12),
      p50CostUsd: 0.002,
      meanScore: 0.5,
    });
    expect(sideStats([])).toMatchObject({ traces: 0, p50LatencyMs: null, meanTokens: null, meanCostUsd: null, meanScore: null });
  });

  it('examines version-like keys first, caps the keys, and leaves out names it cannot quote', () => {
    const keys = ['category', 'locale', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'prompt_version', 'bad\\key', "app's_version", 'model'];
    const dims = perfDimensions(keys);
    const root = dims.filter((d) => d.source === 'root');
    expect(root).toHaveLength(PERF_PLANE_MAX_KEYS);
    expect(root.slice(0, 3).map((d) => d.key)).toEqual(["app's_version", 'model', 'prompt_version']);
    expect(dims.map((d) => d.key)).not.toContain('bad\\key');
    expect(root[0]!.path).toBe(`metadata."app's_version"`);
    expect(dims[dims.length - 1]).toMatchObject({ source: 'llm', key: 'model', label: 'llm.metadata.model' });
  });

  it('samples by trace-id prefix only above the cap', () => {
    expect(sampleBound(1)).toBeNull();
    expect(sampleBound(0.5)).toBe('80000000');
    expect(sampleBound(0.1)).toBe('19999999');
    expect(sampleBound(1e-12)).toBe('00000001');
  });
});

const NOW = new Date('2025-03-10T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
// A hostile release name: quotes, a comment, a backslash. It must never appear in a query.
const NEW = "2.0'; DROP TABLE logs; --\\x";

/** 40 traces before the release (1 s, 1000 tokens on gpt-4o-mini) and 40 after it (3 s, the new value, gpt-4o). */
function scripted(opts: { traces?: number } = {}) {
  const releaseMs = NOW.getTime() - 3 * DAY;
  const roots: Record<string, unknown>[] = [];
  const llm: Record<string, unknown>[] = [];
  for (let i = 0; i < 80; i++) {
    const afterRelease = i >= 40;
    const created = afterRelease ? releaseMs + i * 60_000 : NOW.getTime() - 6.5 * DAY + i * 60_000;
    const id = `t${String(i).padStart(3, '0')}`;
    const s = created / 1000;
    roots.push({ root_span_id: id, created: iso(created), s, e: s + (afterRelease ? 3 + (i % 5) * 0.1 : 1 + (i % 5) * 0.1), score: 0.9, d0: afterRelease ? NEW : '1.9', d1: i % 2 ? 'billing' : 'returns' });
    llm.push({ root_span_id: id, model: afterRelease ? 'gpt-4o' : 'gpt-4o-mini', pt: 800, ct: 200, t: 1000 });
  }
  const queries: string[] = [];
  const q: PerfQueries = {
    async run(query) {
      queries.push(query);
      if (query.startsWith('SELECT count_distinct') && query.includes('is_root = true')) return [{ a0: 2, e0: 1, a1: 2, e1: 2 }];
      if (query.startsWith('SELECT count_distinct')) return [{ a0: 2, e0: 1 }];
      if (query.includes('metadata."app_version" AS value'))
        return [{ value: '1.9', n: 40, first_seen: iso(NOW.getTime() - 6.9 * DAY) }, { value: NEW, n: 40, first_seen: iso(releaseMs) }];
      if (query.includes('metadata."model" AS value') && query.includes("'llm'"))
        return [{ value: 'gpt-4o-mini', n: 40, first_seen: iso(NOW.getTime() - 6.9 * DAY) }, { value: 'gpt-4o', n: 40, first_seen: iso(releaseMs + 1000) }];
      throw new Error(`unexpected query ${query}`);
    },
    async pages(base) {
      queries.push(base);
      return { rows: base.includes("'llm'") ? llm : roots, truncated: false };
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'perf-plane-'));
  dirs.push(dir);
  const params = {
    src: "project_logs('p1')",
    window: 'created >= NOW() - INTERVAL 7 day',
    days: 7,
    now: NOW,
    traces: opts.traces ?? 80,
    spans: (opts.traces ?? 80) * 3,
    scorePath: 'scores."Factuality"',
    metadataKeys: ['category', 'app_version'],
    dir,
  };
  return { q, queries, params };
}

describe('performancePlane on scripted answers', () => {
  it('finds the release and the model change, and compares before vs after each', async () => {
    const { q, queries, params } = scripted();
    const plane = await performancePlane(q, params);
    expect(plane.dimensions).toEqual(['metadata.app_version', 'metadata.category', 'llm.metadata.model']);
    expect(plane.changes.map((c) => `${c.source}:${c.key}=${c.value}`)).toEqual([`root:app_version=${NEW}`, 'llm:model=gpt-4o']);
    const release = plane.changes[0]!;
    expect(release.previousValues).toEqual(['1.9']);
    expect(release.afterShare).toBe(1);
    expect(release.before).toMatchObject({ traces: 40, latencyTraces: 40, tokenTraces: 40, costTraces: 40, meanTokens: 1000, meanScore: expect.closeTo(0.9, 9) });
    expect(release.after).toMatchObject({ traces: 40, meanTokens: 1000 });
    // Latencies are 1.0–1.4 s before and 3.0–3.4 s after (eight of each): p50 index floor(0.5 × 39) = 19.
    expect(release.before.p50LatencyMs).toBeCloseTo(1200, 3);
    expect(release.after.p50LatencyMs).toBeCloseTo(3200, 3);
    const mini = MODEL_PRICES_USD_PER_MTOK['gpt-4o-mini']!;
    const big = MODEL_PRICES_USD_PER_MTOK['gpt-4o']!;
    expect(release.before.meanCostUsd).toBeCloseTo((800 * mini.input + 200 * mini.output) / 1e6, 12);
    expect(release.after.meanCostUsd).toBeCloseTo((800 * big.input + 200 * big.output) / 1e6, 12);
    // Examples: slowest traces after the release (latency 3.4 s: i % 5 === 4), typical ones before.
    expect(release.slowestAfterTraceIds).toEqual(['t044', 't049', 't054']);
    expect(release.typicalBeforeTraceIds.every((id) => Number(id.slice(1)) < 40)).toBe(true);
    expect(plane.sample).toEqual({ traces: 80, llmSpans: 80, fraction: 1, truncated: false });
    expect(release.query).toContain('metadata."app_version" AS value');
    // Rows go to the run directory, not into the evidence.
    expect(plane.rowsFile!.rows).toBe(80);
    const lines = readFileSync(plane.rowsFile!.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { trace_id: string; dimensions: Record<string, string[]> });
    expect(lines.find((l) => l.trace_id === 't050')!.dimensions).toEqual({ 'metadata.app_version': [NEW], 'llm.metadata.model': ['gpt-4o'] });
    expect(JSON.stringify(plane).length).toBeLessThan(8000);
    // The category (same values on the first day as later) is examined but not read per trace; no value reaches SQL.
    for (const query of queries) {
      expect(query).not.toContain('DROP');
      expect(query).not.toContain('\\');
      expect(query).not.toContain("'1.9'");
    }
    expect(queries.some((x) => x.includes('metadata."category" AS value'))).toBe(false);
  });

  it('a model recorded on the root and on the LLM spans is one change, reported under the root key', async () => {
    const { q, params } = scripted();
    const both: PerfQueries = {
      async run(query) {
        if (query.startsWith('SELECT count_distinct') && query.includes('is_root = true')) return [{ a0: 1, e0: 1, a1: 2, e1: 1, a2: 2, e2: 2 }];
        if (query.includes('metadata."model" AS value'))
          return [{ value: 'gpt-4o-mini', n: 40, first_seen: iso(NOW.getTime() - 6.9 * DAY) }, { value: 'gpt-4o', n: 40, first_seen: iso(NOW.getTime() - 3 * DAY) }];
        return q.run(query);
      },
      pages: q.pages,
    };
    const plane = await performancePlane(both, { ...params, metadataKeys: ['app_version', 'category', 'model'] });
    expect(plane.changes.map((c) => `${c.source}:${c.key}=${c.value}`)).toEqual(['root:model=gpt-4o']);
  });

  it('no change point: no per-trace reads, an empty plane', async () => {
    const { q, queries, params } = scripted();
    const quiet: PerfQueries = {
      run: async (query) => (queries.push(query), query.includes('is_root') ? [{ a0: 1, e0: 1, a1: 2, e1: 2 }] : [{ a0: 1, e0: 1 }]),
      pages: q.pages,
    };
    const plane = await performancePlane(quiet, params);
    expect(plane.changes).toEqual([]);
    expect(plane.rowsFile).toBeNull();
    expect(queries).toHaveLength(2);
  });

  it('above the cap, reads a trace-id-prefix sample of both roots and LLM spans', async () => {
    const { q, queries, params } = scripted({ traces: PERF_PLANE_MAX_TRACES * 4 });
    const plane = await performancePlane(q, params);
    expect(plane.sample.fraction).toBeCloseTo(0.25, 9);
    const reads = queries.filter((x) => x.includes('root_span_id <'));
    expect(reads).toHaveLength(2);
    for (const r of reads) expect(r).toContain("root_span_id < '40000000'");
  });
});
