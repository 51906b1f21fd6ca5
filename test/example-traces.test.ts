// The support-agent example: agent behaviour, trace generator determinism/layout, and the
// planted defects' statistics computed directly from the generated jsonl.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ISSUE_TOPIC,
  NO_MATCH,
  SENTIMENT_TOPIC,
  SLOW_RELEASE_DAYS_AGO,
  SLOW_RELEASE_EXTRA_PROMPT_TOKENS,
  SLOW_RELEASE_LATENCY_FACTOR,
  SLOW_RELEASE_VERSION,
  TASK_TOPIC,
  generateExampleTraces,
  readSpecRows,
} from '../examples/support-agent/generate-traces.js';
import { QUESTION_TEMPLATES, expectedFor, fillTemplate, labelQuestion } from '../examples/support-agent/questions.js';
import { scoreAll } from '../examples/support-agent/scorers.js';
import { answer, classify } from '../examples/support-agent/src/agent.js';

const NOW = new Date('2025-06-01T00:00:00Z');
const NOW_SEC = NOW.getTime() / 1000;
const DAY = 86400;
const repoRoot = join(import.meta.dirname, '..');
const exampleDir = join(repoRoot, 'examples', 'support-agent');

type Row = Record<string, any>;
const tmpRoots: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

describe('support agent (defective as shipped)', () => {
  it('routes returns/refund questions to the escalation hand-off (defect a)', () => {
    const out = answer({ question: 'What is your refund policy?', customer_tier: 'free', locale: 'en' });
    expect(out.category).toBe('escalation');
    expect(out.answer).toContain('contact our support team');
    expect(classify('Can I exchange a jacket for a bigger size?')).toBe('returns');
  });

  it('lookup_order fails for 8-digit and lower-case ids and the agent apologizes (defect b)', () => {
    const ok = answer({ question: 'Where is my order ORD-482913?' });
    expect(ok.tool_calls).toHaveLength(1);
    expect(ok.tool_calls[0]!.error).toBeUndefined();
    expect(ok.answer).toContain('ORD-482913');
    for (const id of ['ORD-19384756', 'ord-482913']) {
      const bad = answer({ question: `Where is my order ${id}?` });
      expect(bad.category).toBe('shipping');
      expect(bad.tool_calls[0]!.error).toMatch(/OrderLookupError: lookup_order failed: invalid order id/);
      expect(bad.answer).toMatch(/^I'm sorry, I couldn't look up your order/);
      expect(scoreAll({ output: bad, expected: { category: 'shipping', keywords: [id.toUpperCase(), 'tracking'] } })).toEqual({
        correct_category: 1,
        answer_quality: 0,
        no_tool_error: 0,
      });
    }
  });

  it('golden cases: baseline scores reflect the defects', () => {
    const cases = JSON.parse(readFileSync(join(exampleDir, 'cases.json'), 'utf8')) as Array<{ input: any; expected: any }>;
    expect(cases.length).toBe(28);
    const scores = cases.map((c) => scoreAll({ input: c.input, output: answer(c.input), expected: c.expected }));
    expect(mean(scores.map((s) => s.correct_category!))).toBeCloseTo(23 / 28, 6);
    expect(mean(scores.map((s) => s.no_tool_error!))).toBeCloseTo(27 / 28, 6);
    expect(mean(scores.map((s) => s.answer_quality!))).toBeLessThan(0.75);
  });

  it('labelQuestion recovers the ground truth of every template', () => {
    for (const t of QUESTION_TEMPLATES) {
      for (const id of t.text.includes('{order}') ? ['ORD-123456', 'ord-12345678'] : [undefined]) {
        const q = `Hallo, Third time asking! ${fillTemplate(t, id)} Thanks.`;
        expect(labelQuestion(q)).toEqual(expectedFor(t, id));
      }
    }
    expect(labelQuestion('Completely unrelated text')).toBeUndefined();
  });
});

describe('generateExampleTraces', () => {
  let outDir: string;
  let dir: string;
  let rows: Row[];
  let roots: Row[];

  beforeAll(async () => {
    outDir = tmp('example-traces-');
    const r = await generateExampleTraces({ outDir, now: NOW });
    expect(r.traces).toBe(3000);
    dir = r.dir;
    rows = readSpecRows(dir) as Row[];
    expect(rows.length).toBe(r.spans);
    roots = rows.filter((x) => x.is_root);
  });

  it('writes the bt sync pull layout', () => {
    const projectDir = readdirSync(outDir);
    expect(projectDir).toHaveLength(1);
    expect(projectDir[0]).toMatch(/^project_logs_[0-9a-f-]{36}$/);
    expect(dir).toMatch(/\/project_logs_[0-9a-f-]{36}\/[0-9a-f]{12}$/);
    expect(readdirSync(dir).sort()).toEqual(['data', 'manifest.json', 'spec.json', 'state.json']);
    expect(readdirSync(join(dir, 'data'))).toEqual(['part-000001.jsonl']);
    const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
    expect(spec).toMatchObject({ schema_version: 1, object_type: 'project_logs', direction: 'pull', scope: 'traces', window: '30d', limit: 3000 });
    const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    expect(dir.endsWith(hash.slice(0, 12))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ status: 'completed', spec_hash: hash, items_done: rows.length });
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ status: 'completed', phase: 'completed', items_done: rows.length });
    expect(state.root_ids).toHaveLength(3000);
  });

  it('rows have Braintrust log shape with sorted keys and consistent ids', () => {
    const firstLine = readFileSync(join(dir, 'data', 'part-000001.jsonl'), 'utf8').split('\n')[0]!;
    const keys = Object.keys(JSON.parse(firstLine));
    expect(keys).toEqual([...keys].sort());
    const rootIds = new Set(roots.map((r) => r.span_id));
    expect(rootIds.size).toBe(3000);
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    for (const r of rows) {
      expect(r.log_id).toBe('g');
      expect(r.project_id).toBe(rows[0]!.project_id);
      expect(typeof r.org_id).toBe('string');
      expect(r.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(r._xact_id).toMatch(/^\d+$/);
      expect(r._pagination_key).toMatch(/^p\d{20}$/);
      expect(r.metrics.end).toBeGreaterThanOrEqual(r.metrics.start);
      expect(rootIds.has(r.root_span_id)).toBe(true);
      if (r.is_root) {
        expect(r.span_parents).toBeNull();
        expect(r.span_id).toBe(r.root_span_id);
        expect(r.span_attributes).toEqual({ name: 'support_agent', type: 'task' });
        expect(Object.keys(r.scores).sort()).toEqual(['answer_quality', 'correct_category', 'no_tool_error']);
        expect(r.metadata).toMatchObject({ model: 'gpt-4o-mini', agent_version: '1.4.2' });
        // Where numbers live: latency from start/end only, tokens on the LLM spans and not the root.
        expect(Object.keys(r.metrics).sort()).toEqual(['end', 'start']);
        // Topics: free-text summaries per facet (no_match when nothing applies), topic labels in classifications.
        expect(Object.keys(r.facets).sort()).toEqual(['Issues', 'Sentiment', 'Task']);
        for (const f of ['Task', 'Sentiment'] as const) {
          expect(typeof r.facets[f]).toBe('string');
          expect(r.facets[f]).not.toBe(NO_MATCH);
          expect(r.classifications[f]).toHaveLength(1);
        }
        expect(Object.values(TASK_TOPIC)).toContain(r.classifications.Task[0].label);
        expect(Object.values(SENTIMENT_TOPIC)).toContain(r.classifications.Sentiment[0].label);
        if (r.facets.Issues === NO_MATCH) expect(r.classifications.Issues).toBeUndefined();
        else expect(Object.values(ISSUE_TOPIC)).toContain(r.classifications.Issues[0].label);
        for (const list of Object.values(r.classifications) as Array<Array<Record<string, unknown>>>) {
          expect(Object.keys(list[0]!).sort()).toEqual(['confidence', 'id', 'label']);
          expect(list[0]!.confidence).toBeGreaterThan(0);
          expect(list[0]!.confidence).toBeLessThanOrEqual(1);
        }
      } else {
        expect(r.span_parents).toEqual([r.root_span_id]);
        expect(['llm', 'tool']).toContain(r.span_attributes.type);
        if (r.span_attributes.type === 'llm') {
          expect(r.metrics.tokens).toBeGreaterThan(0);
          expect(r.metrics.tokens).toBe(r.metrics.prompt_tokens + r.metrics.completion_tokens);
        } else {
          expect(r.metrics.tokens).toBeUndefined();
        }
      }
      expect(r.metrics.duration_ms).toBeUndefined();
    }
    const times = roots.map((r) => r.metrics.start);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(NOW_SEC - 30 * DAY);
    expect(Math.max(...times)).toBeLessThanOrEqual(NOW_SEC);
  });

  it('is deterministic: same seed, same bytes; another seed differs', async () => {
    const files = (d: string): string[] =>
      ['spec.json', 'manifest.json', 'state.json', 'data/part-000001.jsonl'].map((f) => readFileSync(join(d, f), 'utf8'));
    const before = files(dir);
    const again = await generateExampleTraces({ outDir, now: NOW });
    expect(again.dir).toBe(dir);
    expect(files(dir)).toEqual(before);
    const other = await generateExampleTraces({ outDir: tmp('example-traces-seed-'), now: NOW, seed: 7, traces: 3000 });
    expect(readFileSync(join(other.dir, 'data/part-000001.jsonl'), 'utf8')).not.toBe(before[3]);
  });

  it('facets are varied free text, written per trace (not one string per topic)', () => {
    for (const f of ['Task', 'Sentiment'] as const) {
      const labels = new Set(roots.map((r) => r.classifications[f][0].label));
      const texts = new Set(roots.map((r) => r.facets[f]));
      expect(texts.size, f).toBeGreaterThan(labels.size * 2);
    }
    // Order ids appear in the Task summaries of questions about an order.
    expect(roots.some((r) => /ORD-\d+|ord-\d+/.test(r.facets.Task))).toBe(true);
    expect(roots.filter((r) => r.facets.Issues === NO_MATCH).length).toBeGreaterThan(roots.length / 2);
  });

  it('defect (a): low scores concentrated in the returns/refunds topic', () => {
    const byTopic = new Map<string, Row[]>();
    for (const r of roots) byTopic.set(r.classifications.Task[0].label, [...(byTopic.get(r.classifications.Task[0].label) ?? []), r]);
    const returns = byTopic.get('Returns & refunds')!;
    expect(returns.length).toBeGreaterThan(450);
    expect(mean(returns.map((r) => r.scores.answer_quality))).toBeLessThan(0.25);
    expect(mean(returns.map((r) => r.scores.correct_category))).toBeLessThan(0.25);
    for (const [topic, rs] of byTopic) {
      if (topic === 'Returns & refunds') continue;
      expect(mean(rs.map((r) => r.scores.answer_quality)), topic).toBeGreaterThan(0.7);
      expect(mean(rs.map((r) => r.scores.correct_category)), topic).toBe(1);
    }
    const deflected = roots.filter((r) => r.metadata.category === 'escalation' && r.classifications.Task[0].label === 'Returns & refunds');
    expect(deflected.length).toBeGreaterThan(400);
    expect(deflected.every((r) => r.classifications.Issues?.[0]?.label === ISSUE_TOPIC.deflected && r.facets.Issues !== NO_MATCH)).toBe(true);
    expect(deflected.every((r) => r.output.answer.includes('contact our support team'))).toBe(true);
  });

  it('defect (b): lookup_order tool errors for 8-digit and lower-case order ids, starting with the 8-digit rollout', () => {
    const tools = rows.filter((r) => r.span_attributes.name === 'lookup_order');
    const errors = tools.filter((r) => r.error);
    expect(tools.length).toBeGreaterThan(350);
    expect(errors.length).toBeGreaterThan(100);
    expect(errors.length / tools.length).toBeGreaterThan(0.2);
    for (const t of tools) {
      const legacy = /^ORD-\d{6}$/.test(t.input.order_id);
      expect(Boolean(t.error), t.input.order_id).toBe(!legacy);
      if (t.error) {
        expect(t.error).toMatch(/^OrderLookupError: lookup_order failed: invalid order id/);
        expect(t.output).toBeNull();
      }
    }
    const eightDigit = tools.filter((t) => /\d{8}$/.test(t.input.order_id));
    expect(eightDigit.length).toBeGreaterThan(50);
    expect(eightDigit.every((t) => t.metrics.start >= NOW_SEC - 14 * DAY)).toBe(true);
    const errRoots = new Set(errors.map((e) => e.root_span_id));
    const failedRoots = roots.filter((r) => errRoots.has(r.span_id));
    expect(failedRoots.every((r) => r.scores.no_tool_error === 0 && r.scores.answer_quality === 0)).toBe(true);
    expect(roots.filter((r) => r.scores.no_tool_error === 0).length).toBe(errRoots.size);
    // errors are concentrated in the recent window (after the 8-digit rollout)
    const recentRate = errors.filter((e) => e.metrics.start >= NOW_SEC - 14 * DAY).length / tools.filter((t) => t.metrics.start >= NOW_SEC - 14 * DAY).length;
    const olderRate = errors.filter((e) => e.metrics.start < NOW_SEC - 14 * DAY).length / tools.filter((t) => t.metrics.start < NOW_SEC - 14 * DAY).length;
    expect(recentRate).toBeGreaterThan(2 * olderRate);
  });

  it('cohort gap (c): locale de and tier enterprise are common in production but rare in the golden cases', () => {
    const cases = JSON.parse(readFileSync(join(exampleDir, 'cases.json'), 'utf8')) as Array<{ input: { locale: string; customer_tier: string } }>;
    const share = <T>(xs: T[], pred: (x: T) => boolean): number => xs.filter(pred).length / xs.length;
    expect(share(roots, (r) => r.metadata.locale === 'de')).toBeGreaterThan(0.2);
    expect(share(cases, (c) => c.input.locale === 'de')).toBeLessThan(0.05);
    expect(share(roots, (r) => r.metadata.customer_tier === 'enterprise')).toBeGreaterThan(0.1);
    expect(share(cases, (c) => c.input.customer_tier === 'enterprise')).toBeLessThan(0.05);
    expect(share(roots, (r) => r.metadata.locale === 'es')).toBeGreaterThan(0.04);
    expect(share(cases, (c) => c.input.locale === 'es')).toBe(0);
  });

  it('production questions can be labeled for dataset curation', () => {
    for (const r of roots.slice(0, 500)) {
      const label = labelQuestion(r.input.question);
      expect(label).toBeDefined();
      expect(scoreAll({ output: r.output, expected: label }).answer_quality).toBe(r.scores.answer_quality);
    }
  });
});

describe('generateExampleTraces variants', () => {
  const gen = async (variant: 'defective' | 'healthy' | 'stuck-scorer' | 'low-traffic' | 'instrumentation-gap' | 'slow-release' | 'unscored') => {
    const r = await generateExampleTraces({ outDir: tmp(`example-${variant}-`), now: NOW, traces: 1000, variant });
    const rows = readSpecRows(r.dir) as Row[];
    return { r, rows, roots: rows.filter((x) => x.is_root) };
  };

  it('healthy: the fixed agent, no defects visible', async () => {
    const { roots, rows } = await gen('healthy');
    // Only realistic noise: rare upstream timeouts of the order service, never the planted id bug.
    const tools = rows.filter((r) => r.span_attributes.type === 'tool');
    const toolErrors = tools.filter((r) => r.error);
    expect(tools.length).toBeGreaterThan(100);
    expect(toolErrors.length / tools.length).toBeLessThan(0.03);
    expect(toolErrors.every((r) => String(r.error).startsWith('OrderServiceTimeout'))).toBe(true);
    // Pass/fail scorers pass almost always, but not always (a scorer at exactly 1 everywhere reads as stuck).
    for (const score of ['correct_category', 'no_tool_error'] as const) {
      const values = roots.map((r) => r.scores[score]);
      expect(mean(values)).toBeGreaterThan(0.95);
      expect(new Set(values).size).toBe(2);
    }
    const returns = roots.filter((r) => r.classifications.Task[0].label === 'Returns & refunds');
    expect(mean(returns.map((r) => r.scores.answer_quality))).toBeGreaterThan(0.95);
    expect(mean(roots.map((r) => r.scores.answer_quality))).toBeGreaterThan(0.9);
    expect(roots.filter((r) => r.facets.Issues !== NO_MATCH).length / roots.length).toBeLessThan(0.03);
    expect(roots.filter((r) => r.classifications.Issues).length / roots.length).toBeLessThan(0.03);
  });

  it('stuck-scorer: answer_quality is constant 1 while the defects remain', async () => {
    const { roots } = await gen('stuck-scorer');
    expect(new Set(roots.map((r) => r.scores.answer_quality))).toEqual(new Set([1]));
    expect(mean(roots.map((r) => r.scores.correct_category))).toBeLessThan(0.9);
  });

  it('low-traffic: only a handful of traces in the last 7 days', async () => {
    const { roots } = await gen('low-traffic');
    expect(roots).toHaveLength(1000);
    const recent = roots.filter((r) => r.metrics.start >= NOW_SEC - 7 * DAY);
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.length).toBeLessThanOrEqual(5);
  });

  it('instrumentation-gap: many recent root spans lack output and scores', async () => {
    const { roots, rows } = await gen('instrumentation-gap');
    const missing = roots.filter((r) => r.output === null && r.scores === null);
    expect(missing.length / roots.length).toBeGreaterThan(0.25);
    expect(missing.every((r) => r.metadata.agent_version === '1.5.0' && r.metrics.start >= NOW_SEC - 10 * DAY)).toBe(true);
    expect(roots.filter((r) => r.metrics.start < NOW_SEC - 10 * DAY).every((r) => r.output !== null)).toBe(true);
    // child spans are still there
    expect(rows.length).toBeGreaterThan(roots.length * 3);
  });

  it('unscored: the defective traffic, trace for trace, with real tool failures but no scores anywhere', async () => {
    const defective = await gen('defective');
    const { roots, rows } = await gen('unscored');
    expect(roots).toHaveLength(defective.roots.length);
    expect(rows.every((r) => r.scores === null)).toBe(true);
    const byId = new Map(defective.roots.map((r) => [r.id, r]));
    for (const r of roots) {
      const d = byId.get(r.id)!;
      expect(d, r.id).toBeDefined();
      expect(r.input).toEqual(d.input);
      expect(r.output).toEqual(d.output);
      expect(d.scores).not.toBeNull();
    }
    // The failures are there to find: tool errors in the tool spans, and failing answers by the scorer's measure.
    const toolErrors = rows.filter((r) => r.span_attributes.type === 'tool' && r.error);
    expect(toolErrors.length).toBeGreaterThan(20);
    expect(mean(defective.roots.map((r) => r.scores.no_tool_error))).toBeLessThan(0.98);
  });

  it('slow-release: the healthy traffic, but release 1.6.0 is several times slower and costlier with the same answers', async () => {
    const healthy = await gen('healthy');
    const { roots, rows } = await gen('slow-release');
    const releaseAt = NOW_SEC - SLOW_RELEASE_DAYS_AGO * DAY;
    const before = roots.filter((r) => r.metrics.start < releaseAt);
    const after = roots.filter((r) => r.metrics.start >= releaseAt);
    expect(before.length).toBeGreaterThan(100);
    expect(after.length).toBeGreaterThan(50);
    expect(before.every((r) => r.metadata.agent_version !== SLOW_RELEASE_VERSION)).toBe(true);
    expect(after.every((r) => r.metadata.agent_version === SLOW_RELEASE_VERSION)).toBe(true);
    // Same questions, answers and scores as healthy production, trace for trace.
    const healthyById = new Map(healthy.roots.map((r) => [r.id, r]));
    for (const r of roots) {
      const h = healthyById.get(r.id)!;
      expect(h, r.id).toBeDefined();
      expect(r.input).toEqual(h.input);
      expect(r.output).toEqual(h.output);
      expect(r.scores).toEqual(h.scores);
    }
    // Slower and more tokens after the release, only there.
    const seconds = (r: Row) => r.metrics.end - r.metrics.start;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(median(after.map(seconds)) / median(before.map(seconds))).toBeGreaterThan(SLOW_RELEASE_LATENCY_FACTOR / 2);
    const composeTokens = (ids: Set<string>) => mean(rows.filter((r) => r.span_attributes.name === 'compose_answer' && ids.has(r.root_span_id)).map((r) => r.metrics.prompt_tokens));
    const afterIds = new Set(after.map((r) => r.root_span_id as string));
    const beforeIds = new Set(before.map((r) => r.root_span_id as string));
    expect(composeTokens(afterIds) - composeTokens(beforeIds)).toBeGreaterThan(SLOW_RELEASE_EXTRA_PROMPT_TOKENS * 0.8);
    const beforeHealthy = healthy.roots.filter((r) => r.metrics.start < releaseAt);
    expect(before.map((r) => r.metrics)).toEqual(beforeHealthy.map((r) => r.metrics));
  });

  it('has a CLI form', async () => {
    const out = tmp('example-cli-');
    const r = await execa(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(exampleDir, 'generate-traces.ts'), '--out', out, '--traces', '40', '--variant', 'healthy', '--now', NOW.toISOString()], { stdin: 'ignore' });
    const result = JSON.parse(r.stdout) as { dir: string; spans: number; traces: number };
    expect(result.traces).toBe(40);
    expect(readSpecRows(result.dir)).toHaveLength(result.spans);
    const bad = await execa(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(exampleDir, 'generate-traces.ts')], { stdin: 'ignore', reject: false });
    expect(bad.exitCode).toBe(2);
  });
});
