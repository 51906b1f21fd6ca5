// eval_support.ts under the real `bt eval --no-send-logs --jsonl` (no server needed), both in
// place and in a flywheel-style working copy under /work/main/.flywheel/.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..');
const exampleDir = join(repoRoot, 'examples', 'support-agent');
const bt = join(repoRoot, 'node_modules', '.bin', 'bt');
let home: string;
let workRoot: string;

beforeAll(() => {
  mkdirSync(join(repoRoot, '.flywheel'), { recursive: true });
  workRoot = mkdtempSync(join(repoRoot, '.flywheel', 'example-eval-test-'));
  home = join(workRoot, 'home');
  mkdirSync(home);
});
afterAll(() => {
  rmSync(workRoot, { recursive: true, force: true });
});

interface Summary {
  projectName: string;
  experimentName: string;
  runMode: string;
  scores: Record<string, { name: string; score: number }>;
}

async function btEval(cwd: string, extraEnv: Record<string, string> = {}, args: string[] = [], argv: string[] = []) {
  const r = await execa(bt, ['eval', '--no-send-logs', '--jsonl', ...args, 'eval_support.ts', ...(argv.length ? ['--', ...argv] : [])], {
    cwd,
    stdin: 'ignore',
    reject: false,
    extendEnv: false,
    env: {
      PATH: `${join(repoRoot, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
      BRAINTRUST_NO_INPUT: '1',
      ...extraEnv,
    },
    timeout: 90_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{') && 'experimentName' in JSON.parse(l));
  if (!line) throw new Error(`no summary line (exit ${r.exitCode})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return { exitCode: r.exitCode, summary: JSON.parse(line) as Summary, stderr: r.stderr };
}

describe('eval_support.ts under bt eval', () => {
  it('runs the golden cases and reports the three scores', async () => {
    const { exitCode, summary } = await btEval(exampleDir);
    expect(exitCode).toBe(0);
    expect(summary.projectName).toBe('support-agent');
    expect(summary.runMode).toBe('full');
    expect(Object.keys(summary.scores).sort()).toEqual(['answer_quality', 'correct_category', 'no_tool_error']);
    expect(summary.scores.correct_category!.score).toBeCloseTo(23 / 28, 6);
    expect(summary.scores.no_tool_error!.score).toBeCloseTo(27 / 28, 6);
    expect(summary.scores.answer_quality!.score).toBeLessThan(0.75);
  });

  it('honors BRAINTRUST_DEFAULT_PROJECT, FLYWHEEL_EXPERIMENT_NAME and --first', async () => {
    const { summary } = await btEval(exampleDir, { BRAINTRUST_DEFAULT_PROJECT: 'other-proj', FLYWHEEL_EXPERIMENT_NAME: 'smoke-1' }, ['--first', '5']);
    expect(summary.projectName).toBe('other-proj');
    expect(summary.experimentName).toContain('smoke-1');
    expect(summary.runMode).toBe('first');
  });

  it('evaluates a fixed working copy under .flywheel/ (in place, and via FLYWHEEL_AGENT_DIR)', async () => {
    const copy = join(workRoot, 'agent');
    cpSync(exampleDir, copy, { recursive: true });
    const fix = await execa(process.execPath, [join(copy, 'change-agent.mjs')], {
      cwd: copy,
      input: 'Returns/refund questions are escalated; lookup_order tool errors for 8-digit ids.',
    });
    expect(fix.stdout).toMatch(/changed 2 file/);

    const inCopy = await btEval(copy);
    expect(inCopy.exitCode).toBe(0);
    expect(inCopy.summary.scores.correct_category!.score).toBe(1);
    expect(inCopy.summary.scores.no_tool_error!.score).toBe(1);
    expect(inCopy.summary.scores.answer_quality!.score).toBeGreaterThan(0.9);

    const viaEnv = await btEval(exampleDir, { FLYWHEEL_AGENT_DIR: join(copy, 'src') });
    expect(viaEnv.summary.scores).toEqual(inCopy.summary.scores);
  });
});

// ------------------------------------------------------------------------------------------
// FLYWHEEL_EVAL_DATASET: dataset rows come from a loopback stub serving the SDK's dataset calls.
describe('eval_support.ts with FLYWHEEL_EVAL_DATASET (loopback stub)', () => {
  let server: Server;
  let url: string;
  const requests: Array<{ method: string; path: string; body: unknown }> = [];
  const rows = [
    // labeled, train: a returns case the defective agent fails
    { id: 'r1', input: { question: 'What is your refund policy?', locale: 'de', customer_tier: 'enterprise' }, expected: { category: 'returns', keywords: ['30 days', 'return label', 'refund'] }, metadata: { split: 'train' } },
    // labeled, validation: an 8-digit order id the defective agent fails
    { id: 'r2', input: { question: 'Where is my order ORD-12345678?', locale: 'de' }, expected: { category: 'shipping', keywords: ['ORD-12345678', 'tracking'] }, metadata: { split: 'validation' } },
    // labeled, validation: passes
    { id: 'r3', input: { question: 'Where can I download my invoices?', locale: 'es' }, expected: { category: 'billing', keywords: ['invoice', 'Settings > Billing'] }, metadata: { split: 'validation' } },
    // unlabeled: skipped
    { id: 'r4', input: { question: 'Has order ORD-87654321 shipped yet?' }, expected: null, metadata: { split: 'validation' } },
  ];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const path = (req.url ?? '').split('?')[0]!;
        let parsed: unknown = null;
        try { parsed = body ? JSON.parse(body) : null; } catch { parsed = body; }
        requests.push({ method: req.method ?? '', path, body: parsed });
        const send = (status: number, obj: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(obj));
        };
        if (path === '/api/apikey/login') return send(200, { org_info: [{ id: 'org-1', name: 'test-org' }] });
        if (path === '/api/dataset/register') return send(200, { project: { id: 'proj-1', name: 'support-agent' }, dataset: { id: 'ds-1', name: 'support-agent-curated', project_id: 'proj-1' } });
        if (path === '/btql') return send(200, { data: rows.map((r) => ({ ...r, _xact_id: '1', created: '2025-06-01T00:00:00Z', dataset_id: 'ds-1', project_id: 'proj-1' })), cursor: null });
        if (path === '/version') return send(200, {});
        return send(404, { error: `no route ${path}` });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const env = (split: string) => ({
    BRAINTRUST_API_KEY: 'test-key',
    BRAINTRUST_APP_URL: url,
    BRAINTRUST_API_URL: url,
    FLYWHEEL_EVAL_DATASET: 'support-agent-curated',
    FLYWHEEL_EVAL_SPLIT: split,
    FLYWHEEL_EVAL_GOLDEN: '0',
  });

  it('adds labeled rows of the requested split and skips unlabeled rows', async () => {
    const validation = await btEval(exampleDir, env('validation'));
    expect(validation.exitCode, validation.stderr).toBe(0);
    // r2 fails (tool error), r3 passes; r4 is unlabeled
    expect(validation.summary.scores.no_tool_error!.score).toBeCloseTo(0.5, 6);
    expect(validation.summary.scores.correct_category!.score).toBe(1);
    expect(validation.summary.scores.answer_quality!.score).toBeCloseTo(0.5, 6);
    expect(requests.some((r) => r.path === '/api/dataset/register' && (r.body as { dataset_name?: string }).dataset_name === 'support-agent-curated')).toBe(true);

    const train = await btEval(exampleDir, env('train'));
    expect(train.summary.scores.correct_category!.score).toBe(0);
    expect(train.summary.scores.no_tool_error!.score).toBe(1);

    // `--param split=X` and `-- --split X` override FLYWHEEL_EVAL_SPLIT
    const viaParam = await btEval(exampleDir, env('train'), ['--param', 'split="validation"']);
    expect(viaParam.summary.scores).toEqual(validation.summary.scores);

    const all = await btEval(exampleDir, env('train'), [], ['--split', 'all']);
    expect(all.summary.scores.correct_category!.score).toBeCloseTo(2 / 3, 6);
  });
});
