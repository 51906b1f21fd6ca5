/**
 * The Python example (examples/travel-agent) without Temporal: the LLM client needs its key, the generated
 * traces look like the service's (Topics summaries and labels, tokens on LLM spans, the hand-made dataset in
 * sync layout), the defects show in them, the labeler labels from the question only, and the scripted change
 * agent fixes both defects idempotently.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePython, generateTravelTraces, GOLDEN_DATASET_NAME, TRAVEL_EXAMPLE_DIR } from '../examples/travel-agent/generate-traces.js';
import { TEST_NOW } from './support/test-clock.js';

const python = examplePython();
const tmp = mkdtempSync(join(tmpdir(), 'example-python-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Row = Record<string, any>;
function rowsOf(dir: string, prefix: string): { spec: Row; rows: Row[] } {
  const objectDir = readdirSync(dir).find((d) => d.startsWith(prefix))!;
  const specDir = join(dir, objectDir, readdirSync(join(dir, objectDir))[0]!);
  const spec = JSON.parse(readFileSync(join(specDir, 'spec.json'), 'utf8')) as Row;
  const rows = readFileSync(join(specDir, 'data', 'part-000001.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
  return { spec, rows };
}

const py = (code: string, env: Record<string, string> = {}) =>
  execa(python, ['-c', code], { cwd: TRAVEL_EXAMPLE_DIR, reject: false, extendEnv: false, env: { PATH: process.env.PATH ?? '', PYTHONDONTWRITEBYTECODE: '1', ...env } });

describe('travel-agent example', () => {
  it('the LLM client refuses to work without EXAMPLE_LLM_API_KEY', async () => {
    const code = 'from travel_agent import answer\nprint(answer({"question": "When does online check-in open?"})["answer"])';
    const without = await py(code);
    expect(without.exitCode).not.toBe(0);
    expect(without.stderr).toMatch(/MissingAPIKeyError: EXAMPLE_LLM_API_KEY is not set/);
    const withKey = await py(code, { EXAMPLE_LLM_API_KEY: 'exk-test-key-123456' });
    expect(withKey.exitCode, withKey.stderr).toBe(0);
    expect(withKey.stdout).toMatch(/24 hours/);
  });

  describe('generated traces', () => {
    let logs: { spec: Row; rows: Row[] };
    let dataset: { spec: Row; rows: Row[] };
    beforeAll(() => {
      const res = generateTravelTraces({ outDir: join(tmp, 'sync'), traces: 600 });
      expect(res).toMatchObject({ traces: 600, datasetRows: 13 });
      logs = rowsOf(join(tmp, 'sync'), 'project_logs_');
      dataset = rowsOf(join(tmp, 'sync'), 'dataset_');
    }, 60_000);

    it('are deterministic and placed before the fixed clock', () => {
      const again = generateTravelTraces({ outDir: join(tmp, 'sync2'), traces: 600 });
      expect(rowsOf(join(tmp, 'sync2'), 'project_logs_').rows).toEqual(logs.rows);
      expect(again.traces).toBe(600);
      const latest = Math.max(...logs.rows.map((r) => r.metrics.end));
      expect(latest * 1000).toBeLessThanOrEqual(TEST_NOW.getTime());
      expect(latest * 1000).toBeGreaterThan(TEST_NOW.getTime() - 86_400_000);
    });

    it('carry Topics as the service writes them: free-text summaries, no_match, labels in classifications', () => {
      const roots = logs.rows.filter((r) => r.is_root);
      for (const r of roots) {
        for (const f of ['Task', 'Sentiment', 'Issues']) expect(typeof r.facets[f]).toBe('string');
        expect(r.classifications.Task[0].label).toEqual(expect.any(String));
        // A facet with nothing to say is `no_match`, and such a trace has no topic for it.
        expect(r.facets.Issues === 'no_match').toBe(r.classifications.Issues === undefined);
      }
      expect(new Set(roots.map((r) => r.facets.Task)).size).toBeGreaterThan(100); // summaries, not labels
      expect(new Set(roots.map((r) => r.classifications.Task[0].label))).toEqual(
        new Set(['Flight changes', 'Cancellations & refunds', 'Baggage', 'Check-in & boarding passes', 'Miles & status', 'Complaints & compensation']),
      );
    });

    it('keep tokens on LLM spans (with the model) and latency in metrics.start/end', () => {
      for (const r of logs.rows) {
        expect(r.metrics.end).toBeGreaterThan(r.metrics.start);
        if (r.span_attributes.type === 'llm') {
          expect(r.metrics.tokens).toBe(r.metrics.prompt_tokens + r.metrics.completion_tokens);
          expect(r.metadata.model).toBe('wayfarer-mini-2025-05');
        } else expect(r.metrics.tokens).toBeUndefined();
      }
    });

    it('show the planted defects: cancellations deflected, lookup_booking errors', () => {
      const roots = logs.rows.filter((r) => r.is_root);
      const cancel = roots.filter((r) => r.classifications.Task[0].label === 'Cancellations & refunds');
      expect(cancel.length).toBeGreaterThan(50);
      expect(cancel.every((r) => r.scores.answer_quality === 0 && r.output.intent === 'complaint')).toBe(true);
      const others = roots.filter((r) => r.classifications.Task[0].label !== 'Cancellations & refunds');
      expect(others.reduce((a, r) => a + r.scores.answer_quality, 0) / others.length).toBeGreaterThan(0.7);
      const tools = logs.rows.filter((r) => r.span_attributes.type === 'tool');
      expect(tools.filter((r) => r.error).length).toBeGreaterThan(20);
      expect(tools.filter((r) => !r.error).length).toBeGreaterThan(20);
    });

    it('include the hand-made dataset as a project dataset, without cancellation or miles rows', () => {
      expect(dataset.spec).toMatchObject({ object_type: 'dataset', object_name: GOLDEN_DATASET_NAME });
      expect(dataset.rows).toHaveLength(13);
      expect(new Set(dataset.rows.map((r) => r.project_id))).toEqual(new Set([logs.rows[0]!.project_id]));
      const topics = new Set(dataset.rows.map((r) => r.metadata.topic));
      expect(topics.has('Flight changes')).toBe(true);
      expect(topics.has('Cancellations & refunds')).toBe(false);
      expect(topics.has('Miles & status')).toBe(false);
    });
  });

  it('the labeler labels from the question only', async () => {
    const rows = [
      { id: 'a', input: { question: 'Hi, How do I cancel booking k4xq7m? Thanks.' }, output: { answer: 'wrong' } },
      { id: 'b', input: { question: 'Something unrelated' } },
    ];
    const r = await execa(python, [join(TRAVEL_EXAMPLE_DIR, 'labeler.py')], { input: JSON.stringify(rows), reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { id: 'a', expected: { intent: 'cancellation', keywords: ['K4XQ7M', '7 business days', 'voucher'] } },
      { id: 'b', expected: null },
    ]);
  });

  it('the change agent fixes both defects from a brief, idempotently, and the fixed agent answers', async () => {
    const copy = join(tmp, 'copy');
    cpSync(TRAVEL_EXAMPLE_DIR, copy, { recursive: true, filter: (s) => !s.endsWith('.env') && !s.includes('__pycache__') });
    const brief = 'Cancellations & refunds: answer_quality 0, deflected to the care team. lookup_booking tool errors (no_tool_error).';
    const first = await execa(python, [join(copy, 'change_agent.py')], { cwd: copy, input: brief });
    expect(first.stdout).toMatch(/changed 2 file\(s\)/);
    const second = await execa(python, [join(copy, 'change_agent.py')], { cwd: copy, input: brief });
    expect(second.stdout).toMatch(/no change/);
    const code = [
      'import json, sys', 'sys.path.insert(0, ".")', 'from travel_agent import answer', 'from questions import label_question', 'from scorers import score_all',
      'qs = ["How do I cancel booking KX4WQP?", "Can I add a checked suitcase to booking zt4wqe?"]',
      'print(json.dumps([score_all(None, answer({"question": q}), label_question(q)) for q in qs]))',
    ].join('\n');
    const r = await execa(python, ['-c', code], { cwd: copy, env: { EXAMPLE_LLM_API_KEY: 'exk-test-key-123456', PYTHONDONTWRITEBYTECODE: '1' } });
    expect(JSON.parse(r.stdout)).toEqual([
      { correct_intent: 1, answer_quality: 1, no_tool_error: 1 },
      { correct_intent: 1, answer_quality: 1, no_tool_error: 1 },
    ]);
  });
});
