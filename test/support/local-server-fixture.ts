/**
 * A tiny deterministic project-logs fixture: `traces` traces of a root span (scores, metrics,
 * metadata, facets on the root) with an LLM child and a tool child, spread over the last few days
 * (trace-0 newest, 6 h apart).
 */
export interface FixtureOptions {
  projectId: string;
  traces?: number;
  now?: number;
}

export function fixtureRows(opts: FixtureOptions): Array<Record<string, unknown>> {
  const n = opts.traces ?? 12;
  const now = opts.now ?? Date.now();
  const rows: Array<Record<string, unknown>> = [];
  const topics = ['billing', 'auth', 'shipping'];
  // Oldest trace first, as a live service would have ingested them.
  for (let i = n - 1; i >= 0; i--) {
    const root = `trace-${i}`;
    const created = new Date(now - i * 6 * 3600_000).toISOString();
    const quality = (i % 5) / 4; // 0, .25, .5, .75, 1
    rows.push({
      id: root,
      span_id: root,
      root_span_id: root,
      project_id: opts.projectId,
      log_id: 'g',
      created,
      input: { question: `How do I fix problem number ${i}?`, user: `u${i % 3}` },
      output: i % 4 === 3 ? null : `Answer ${i}: restart the router`,
      error: i % 4 === 3 ? `Timeout calling tool ${i}` : undefined,
      scores: { 'Response Quality': quality, helpful: i % 2 },
      metrics: { duration_ms: 1000 + i * 1500, start: now / 1000 - i * 21600, end: now / 1000 - i * 21600 + 1 + i * 1.5, tokens: 100 + i },
      metadata: { model: i % 2 ? 'gpt-small' : 'gpt-large', version: `v${1 + (i % 2)}` },
      facets: { Topic: topics[i % 3]!, Sentiment: i % 3 === 0 ? 'negative' : 'positive' },
      tags: i % 2 ? ['beta'] : ['prod', 'web'],
      span_attributes: { name: 'chat-agent', type: 'task' },
    });
    rows.push({
      id: `${root}-llm`,
      span_id: `${root}-llm`,
      root_span_id: root,
      span_parents: [root],
      project_id: opts.projectId,
      log_id: 'g',
      created,
      input: [{ role: 'user', content: `How do I fix problem number ${i}?` }],
      output: { content: `Answer ${i}` },
      metrics: { prompt_tokens: 50 + i, completion_tokens: 20, tokens: 70 + i },
      span_attributes: { name: 'openai.chat', type: 'llm' },
    });
    rows.push({
      id: `${root}-tool`,
      span_id: `${root}-tool`,
      root_span_id: root,
      span_parents: [root],
      project_id: opts.projectId,
      log_id: 'g',
      created,
      input: { query: `lookup ${i}` },
      output: { hits: i },
      span_attributes: { name: 'search_kb', type: 'tool' },
    });
  }
  return rows;
}
