// The scripted change agent: targeted, deterministic, idempotent fixes of the planted defects.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgent } from '../examples/support-agent/load-agent.js';
import { scoreAll } from '../examples/support-agent/scorers.js';

const exampleDir = join(import.meta.dirname, '..', 'examples', 'support-agent');
const changeAgent = join(exampleDir, 'change-agent.mjs');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function copyExample(): string {
  const d = mkdtempSync(join(tmpdir(), 'support-agent-copy-'));
  dirs.push(d);
  cpSync(exampleDir, d, { recursive: true });
  return d;
}

const BRIEF = `# Improve: agent

## Findings
- Topic "Returns & refunds": answer_quality 0.16 vs >0.7 elsewhere; the agent routes return/refund
  questions to the escalation hand-off ("please contact support") instead of the returns policy.
- Tool errors: \`lookup_order\` fails with OrderLookupError for 8-digit and lower-case order ids (no_tool_error = 0).
`;

const run = (cwd: string, input: string) =>
  execa(process.execPath, [changeAgent], { cwd, input, extendEnv: false, env: { PATH: process.env.PATH ?? '' } });

const read = (d: string): [string, string, string] => [
  readFileSync(join(d, 'src', 'policy.ts'), 'utf8'),
  readFileSync(join(d, 'src', 'tools.ts'), 'utf8'),
  readFileSync(join(d, 'src', 'agent.ts'), 'utf8'),
];

interface GoldenCase { id: string; input: { question: string; customer_tier?: string; locale?: string }; expected: { category: string; keywords: string[] } }
const cases = JSON.parse(readFileSync(join(exampleDir, 'cases.json'), 'utf8')) as GoldenCase[];
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function goldenScores(srcDir: string) {
  const agent = await loadAgent(srcDir);
  const scores = cases.map((c) => scoreAll({ input: c.input, output: agent.answer(c.input), expected: c.expected }));
  return {
    correct_category: mean(scores.map((s) => s.correct_category!)),
    answer_quality: mean(scores.map((s) => s.answer_quality!)),
    no_tool_error: mean(scores.map((s) => s.no_tool_error!)),
    agent,
  };
}

describe('change-agent.mjs', () => {
  it('fixes both defects from a brief, improves the scorers, and is idempotent', async () => {
    const originals = read(exampleDir);
    // ESM modules are cached per path: score the unmodified agent from a separate copy.
    const before = await goldenScores(join(copyExample(), 'src'));
    const d = copyExample();

    const first = await run(d, BRIEF);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/\(a\) .*policy\.ts: removed 'refund', 'return' from ESCALATION_KEYWORDS/);
    expect(first.stdout).toMatch(/\(b\) .*tools\.ts: ORDER_ID_PATTERN now accepts 6- and 8-digit/);
    expect(first.stdout).toMatch(/changed 2 file\(s\)/);
    const [policy, tools, agentSrc] = read(d);
    expect(policy).toContain("export const ESCALATION_KEYWORDS: readonly string[] = ['lawyer', 'legal action', 'chargeback', 'ombudsman'];");
    expect(tools).toContain('export const ORDER_ID_PATTERN = /^ORD-(\\d{6}|\\d{8})$/;');
    expect(tools).toContain('return raw.trim().toUpperCase();');
    expect(agentSrc).toBe(originals[2]);

    const after = await goldenScores(join(d, 'src'));
    expect(after.correct_category).toBe(1);
    expect(after.no_tool_error).toBe(1);
    expect(after.answer_quality).toBeGreaterThan(before.answer_quality + 0.15);
    expect(before.correct_category).toBeLessThan(0.85);
    // the previously defective cases
    const refund = after.agent.answer({ question: 'What is your refund policy?' });
    expect(refund.category).toBe('returns');
    expect(refund.answer).toContain('30 days');
    for (const id of ['ORD-19384756', 'ord-482913']) {
      const out = after.agent.answer({ question: `Where is my order ${id}?` });
      expect(out.tool_calls[0]!.error).toBeUndefined();
      expect(out.answer).toContain(id.toUpperCase());
    }
    const returnWithOrder = after.agent.answer({ question: 'I want to return order ord-12345678, how does that work?' });
    expect(returnWithOrder.category).toBe('returns');
    expect(returnWithOrder.tool_calls[0]!.result?.order_id).toBe('ORD-12345678');

    const second = await run(d, BRIEF);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toMatch(/no change\s*$/);
    expect(read(d)).toEqual([policy, tools, agentSrc]);
    // the example itself is untouched
    expect(read(exampleDir)).toEqual(originals);
  });

  it('only fixes what the brief mentions', async () => {
    const d = copyExample();
    const [policy0, tools0] = read(d);
    const r = await run(d, 'The lookup_order tool throws for 8-digit order ids.');
    expect(r.exitCode).toBe(0);
    const [policy1, tools1] = read(d);
    expect(policy1).toBe(policy0);
    expect(tools1).not.toBe(tools0);
    const r2 = await run(d, 'Returns questions get the generic contact-support hand-off.');
    expect(r2.stdout).toMatch(/changed 1 file/);
    expect(read(d)[0]).not.toBe(policy0);
  });

  it('prints "no change" for a brief it does not recognize, or with no brief', async () => {
    const d = copyExample();
    const before = read(d);
    for (const brief of ['Improve latency of the billing page.', '']) {
      const r = await run(d, brief);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.trim()).toBe('no change');
    }
    const noStdin = await execa(process.execPath, [changeAgent], { cwd: d, stdin: 'ignore' });
    expect(noStdin.stdout.trim()).toBe('no change');
    expect(read(d)).toEqual(before);
  });
});
