// push-scorers.ts registers the three code scorers the way `bt functions push` collects them.
import { describe, expect, it } from 'vitest';

describe('examples/support-agent/push-scorers.ts', () => {
  it('registers correct_category, answer_quality and no_tool_error as code scorers', async () => {
    const g = globalThis as unknown as { _lazy_load?: boolean; _evals?: { functions: Array<Record<string, any>> } };
    await import('braintrust');
    g._lazy_load = true; // what the push runner sets before loading the file
    g._evals!.functions.length = 0;
    await import('../examples/support-agent/push-scorers.js');
    const fns = g._evals!.functions;
    expect(fns.map((f) => [f.name, f.slug, f.type, f.project.name])).toEqual([
      ['correct_category', 'support-agent-correct-category', 'scorer', 'support-agent'],
      ['answer_quality', 'support-agent-answer-quality', 'scorer', 'support-agent'],
      ['no_tool_error', 'support-agent-no-tool-error', 'scorer', 'support-agent'],
    ]);
    const output = { answer: 'Order ORD-123456 has shipped (tracking number X).', category: 'shipping', tool_calls: [] };
    const expected = { category: 'shipping', keywords: ['ORD-123456', 'tracking', 'missing-word'] };
    expect(fns[0]!.handler({ output, expected }).score).toBe(1);
    expect(fns[1]!.handler({ output, expected }).score).toBeCloseTo(2 / 3, 5);
    expect(fns[2]!.handler({ output: { ...output, tool_calls: [{ name: 'lookup_order', error: 'boom' }] } }).score).toBe(0);
    g._lazy_load = false;
  });
});
