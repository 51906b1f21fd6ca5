/**
 * The benchmarks' synthetic project logs, written in the `bt sync pull` layout (spec.json + data/part-*.jsonl):
 * traces of one root span (scores, metrics, metadata, facets, tags, sometimes an error) and three children
 * (llm, tool, score), created over 30 days. Deterministic for a given `now` (seeded generator).
 */
import { createWriteStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SyntheticLogsOptions {
  spans: number;
  projectId: string;
  score: string;
  facet: string;
  /** The instant the 30 days end at; default the real clock. */
  now?: number;
  /**
   * A release inside the window: traces of the last `days` days carry `metadata.version = version` and take
   * `slowdown` times as long (a change point for Discover's performance plane). Off by default, so the
   * btql-bench data stays what it always was.
   */
  release?: { version: string; days: number; slowdown: number };
  /** Trace ids shaped like the service's (random uuids, from a separate seeded generator) instead of `t<n>`. */
  uuidIds?: boolean;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export async function generateSyntheticLogs(root: string, o: SyntheticLogsOptions): Promise<{ file: string; bytes: number; traces: number }> {
  const spec = join(root, `project_logs_${o.projectId}`, 'bench0000000');
  mkdirSync(join(spec, 'data'), { recursive: true });
  writeFileSync(
    join(spec, 'spec.json'),
    JSON.stringify({ schema_version: 1, object_ref: `project_logs:${o.projectId}`, object_type: 'project_logs', object_name: 'bench', direction: 'pull', scope: 'all', window: '30d' }),
  );
  const file = join(spec, 'data', 'part-000001.jsonl');
  const out = createWriteStream(file);
  const rand = rng(42);
  const idRand = rng(7);
  const hex = (k: number) => Array.from({ length: k }, () => Math.floor(idRand() * 16).toString(16)).join('');
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const topics = ['billing', 'auth', 'shipping', 'returns', 'account', 'other'];
  const models = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet'];
  const now = o.now ?? Date.now();
  const releaseFrom = o.release ? now - o.release.days * 86400_000 : Infinity;
  const traces = Math.ceil(o.spans / 4);
  let written = 0;
  let pk = 0;
  const write = (x: unknown): Promise<void> | void => {
    if (!out.write(`${JSON.stringify(x)}\n`)) return new Promise((r) => out.once('drain', () => r()));
  };
  for (let t = 0; t < traces && written < o.spans; t++) {
    const createdMs = now - Math.floor(rand() * 30 * 86400_000);
    const created = new Date(createdMs).toISOString();
    const released = createdMs >= releaseFrom;
    const root = o.uuidIds ? uuid() : `t${t}`;
    const q = Math.round(rand() * 4) / 4;
    const dur = Math.floor((200 + rand() * rand() * 30000) * (released ? o.release!.slowdown : 1));
    const err = rand() < 0.05;
    const base = { project_id: o.projectId, log_id: 'g', created, root_span_id: root };
    const spans: Array<Record<string, unknown>> = [
      {
        ...base, id: root, span_id: root, is_root: true, _pagination_key: `p${String(++pk).padStart(12, '0')}`,
        input: { question: `customer question ${t} about ${topics[t % 6]}`, user_id: `u${t % 5000}` },
        output: err ? null : `answer ${t}`,
        error: err ? `Timeout after ${dur} ms calling search_kb` : null,
        scores: { [o.score]: q, helpful: rand() < 0.7 ? 1 : 0 },
        metrics: { duration_ms: dur, start: createdMs / 1000, end: createdMs / 1000 + dur / 1000, tokens: Math.floor(rand() * 2000) },
        metadata: { model: models[t % 3], version: released ? o.release!.version : `v${1 + (t % 4)}`, region: t % 2 ? 'eu' : 'us' },
        facets: { [o.facet]: topics[Math.floor(rand() * 6)], Sentiment: rand() < 0.3 ? 'negative' : 'positive' },
        tags: t % 10 === 0 ? ['beta'] : ['prod'],
        span_attributes: { name: 'support-agent', type: 'task' },
      },
      { ...base, id: `${root}-llm`, span_id: `${root}-llm`, span_parents: [root], _pagination_key: `p${String(++pk).padStart(12, '0')}`, input: [{ role: 'user', content: `q${t}` }], output: { content: `a${t}` }, metrics: { prompt_tokens: 500, completion_tokens: 80, tokens: 580 }, span_attributes: { name: 'openai.chat', type: 'llm' } },
      { ...base, id: `${root}-tool`, span_id: `${root}-tool`, span_parents: [root], _pagination_key: `p${String(++pk).padStart(12, '0')}`, input: { query: `kb ${t}` }, output: { hits: t % 7 }, span_attributes: { name: 'search_kb', type: 'tool' } },
      { ...base, id: `${root}-score`, span_id: `${root}-score`, span_parents: [root], _pagination_key: `p${String(++pk).padStart(12, '0')}`, scores: { [o.score]: q }, span_attributes: { name: o.score, type: 'score', purpose: 'scorer' } },
    ];
    for (const s of spans) {
      if (written >= o.spans) break;
      const w = write(s);
      if (w) await w;
      written++;
    }
  }
  await new Promise<void>((r) => out.end(() => r()));
  return { file, bytes: statSync(file).size, traces };
}
