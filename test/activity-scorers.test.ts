/**
 * The measurement route's scorer activities on real parts (the real `bt` against the local server):
 * - a scorer that lives only in Braintrust (an LLM judge, inline code) is pulled with `bt functions view` into a
 *   working file, edited by a change agent, and pushed back by the separate pushScorers activity — not by the
 *   change-agent activity; a retried push leaves one function; a revert pushes the pulled version again;
 * - a scorer that compares with `expected` while production carries no labels asks for labels;
 * - errored or empty answers scored high are counted by checkScoreBehaviour and become a measurement finding.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities/index.js';
import { SCORER_WORKDIR } from '../src/activities/scorers.js';
import { BtClient } from '../src/bt/client.js';
import { clockFromEnv } from '../src/clock.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import type { Route } from '../src/workflows/logic/diagnose.js';
import { contradictionFindings, scorersNeedingLabels } from '../src/workflows/logic/measurement.js';
import type { OrientContext } from '../src/workflows/types.js';
import { repoRoot } from './support/cli-flywheel.js';

const tmp = mkdtempSync(join(tmpdir(), 'activity-scorers-'));
const PROJECT = 'hosted-scorers';
let server: LocalServerHandle;
let env: Record<string, string>;
let projectId: string;
let acts: ReturnType<typeof createActivities>;
let bt: BtClient;

async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(server.apiUrl.replace(/\/$/, '') + path, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const JUDGE_PROMPT = 'Is this answer helpful to the customer? {{output}}';
const judge = (slug: string, content: string) => ({
  project_id: projectId,
  name: slug,
  slug,
  function_type: 'scorer',
  function_data: { type: 'prompt' },
  prompt_data: {
    prompt: { type: 'chat', messages: [{ role: 'system', content }] },
    options: { model: 'gpt-4o-mini', params: { temperature: 0 } },
    parser: { type: 'llm_classifier', use_cot: true, choice_scores: { Yes: 1, No: 0 } },
  },
});

beforeAll(async () => {
  server = await startLocalServer({ port: 0, dataFile: join(tmp, 'bt.duckdb') });
  env = { ...server.btEnv(), HOME: tmp, XDG_CONFIG_HOME: join(tmp, '.config'), XDG_CACHE_HOME: join(tmp, '.cache'), PATH: process.env.PATH ?? '' };
  acts = createActivities({ btEnv: env, appUrl: server.appUrl });
  bt = new BtClient({ env, cwd: tmp });
  projectId = (await api<{ id: string }>('POST', '/v1/project', { name: PROJECT })).body.id;
  // Scorers made in the Braintrust UI: an LLM judge and inline Node code, through the REST API the UI uses.
  for (const fn of [
    judge('helpfulness', JUDGE_PROMPT),
    judge('correctness', 'Does the answer {{output}} agree with the reference {{expected}}?'),
    {
      project_id: projectId,
      name: 'concise',
      slug: 'concise',
      function_type: 'scorer',
      function_data: { type: 'code', data: { type: 'inline', runtime_context: { runtime: 'node', version: '20' }, code: 'function handler({ output }) {\n  return String(output ?? "").length < 200 ? 1 : 0;\n}\n' } },
    },
  ]) {
    const r = await api('POST', '/v1/function', fn);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  // Production: two answered traces, four errored and one empty one — all rated 1 by helpfulness; none has `expected`.
  const now = new Date(clockFromEnv(process.env)().getTime() - 3_600_000).toISOString();
  const root = (id: string, extra: Record<string, unknown>) => ({ id, span_id: id, root_span_id: id, project_id: projectId, log_id: 'g', created: now, is_root: true, input: { q: id }, ...extra });
  const rows = [
    root('ok-1', { output: 'Your order shipped.', scores: { helpfulness: 1 } }),
    root('ok-2', { output: 'Refund issued.', scores: { helpfulness: 0.5 } }),
    ...[1, 2, 3, 4].map((i) => root(`err-${i}`, { error: 'tool lookup_order failed', scores: { helpfulness: 1 } })),
    root('empty-1', { output: '', scores: { helpfulness: 1 } }),
  ];
  expect((await api('POST', '/logs3', { api_version: 2, rows })).status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function ctx(agentDir: string): OrientContext {
  return {
    workflowId: 'wf-scorers', runDir: join(tmp, 'runs', 'wf-scorers'),
    project: { id: projectId, name: PROJECT, source: 'input', sourceDetail: 'test' },
    org: 'local', appUrl: server.appUrl, baseline: null, scoreColumns: ['helpfulness'], facetColumns: [], metadataKeys: [],
    schemaWindowDays: 7, primaryScore: 'helpfulness', binaryScores: [], agentDir, evalFiles: [], evalFilesSource: 'test',
    datasetName: 'flywheel-hosted', instructionFiles: [], notes: [],
  };
}

const route = (score: string): Route => ({
  id: `measurement:score:${score}`, artifact: 'measurement', title: `Fix the ${score} scorer`, rationale: 'stuck at 1',
  evidence: [`${score} is 1 on 98% of traces`], counterevidence: [], confidence: 'high',
  targets: [{ kind: 'score', name: score }], findingIds: [`quality:${score}:stuck_one`], exampleTraceIds: [],
});

function repo(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir'); // braintrust must resolve for the push
  writeFileSync(join(dir, 'src', 'scorers.ts'), 'export function answer_quality() { return 1; }\n');
  return dir;
}

const promptOf = (fn: { prompt_data?: unknown }) => JSON.stringify((fn.prompt_data as { prompt?: unknown })?.prompt ?? null);

describe('scorers hosted in Braintrust', () => {
  it('are pulled into working files, edited by the change agent, pushed by pushScorers (idempotent), and re-pushed as pulled on revert', async () => {
    const dir = repo('repo-hosted');
    const c = ctx(dir);
    const prep: Awaited<ReturnType<typeof acts.prepareScorers>> = await new MockActivityEnvironment().run(acts.prepareScorers, { ctx: c, scores: ['helpfulness', 'concise', 'answer_quality', 'ghost'], windowDays: 7, iteration: 1 });
    const by = Object.fromEntries(prep.scorers.map((s) => [s.score, s]));
    expect(by.answer_quality).toMatchObject({ where: 'local', localFiles: ['src/scorers.ts'], editable: true });
    expect(by.ghost).toMatchObject({ where: 'not_found', editable: false });
    expect(by.helpfulness).toMatchObject({ where: 'braintrust', slug: 'helpfulness', kind: 'prompt', file: `${SCORER_WORKDIR}/helpfulness.ts`, editable: true, readsExpected: false });
    expect(by.concise).toMatchObject({ where: 'braintrust', slug: 'concise', kind: 'code_inline', file: `${SCORER_WORKDIR}/concise.ts`, editable: true });
    expect(prep.labels).toBeNull();
    expect(readFileSync(join(dir, SCORER_WORKDIR, 'helpfulness.ts'), 'utf8')).toContain(JSON.stringify(JUDGE_PROMPT));

    // The change agent edits both working files; the activity records them but pushes nothing.
    const agent = join(tmp, 'scorer-agent.mjs');
    writeFileSync(agent, `import { readFileSync, writeFileSync } from 'node:fs';
const brief = readFileSync(0, 'utf8');
writeFileSync('brief.txt', brief);
const edit = (f, a, b) => writeFileSync(f, readFileSync(f, 'utf8').replace(a, b));
edit('${SCORER_WORKDIR}/helpfulness.ts', 'Is this answer helpful', 'Does this answer resolve the request without errors; is it helpful');
edit('${SCORER_WORKDIR}/concise.ts', '< 200', '< 120');`);
    const brief = { ctx: c, goal: 'g', iteration: 1, artifact: 'measurement' as const, routes: [route('helpfulness'), route('concise')], findings: [], scorers: prep.scorers };
    const res: Awaited<ReturnType<typeof acts.runChangeAgent>> = await new MockActivityEnvironment().run(acts.runChangeAgent, { brief, command: [process.execPath, agent], timeoutMs: 60_000, scorerPush: 'separate' as const });
    const seen = readFileSync(join(dir, 'brief.txt'), 'utf8');
    expect(seen).toContain('### Where the scorers live');
    expect(seen).toContain(`working file: ${SCORER_WORKDIR}/helpfulness.ts`);
    expect(res.pushedScorers).toEqual([]);
    expect(res.scorerFiles!.sort()).toEqual([`${SCORER_WORKDIR}/concise.ts`, `${SCORER_WORKDIR}/helpfulness.ts`]);
    expect(promptOf(await bt.functionsView(PROJECT, 'helpfulness'))).toContain('Is this answer helpful');

    // pushScorers pushes them; a retry pushes again and still leaves one function per slug.
    const pushed: Awaited<ReturnType<typeof acts.pushScorers>> = await new MockActivityEnvironment().run(acts.pushScorers, { ctx: c, files: res.scorerFiles! });
    expect(pushed.pushed.sort()).toEqual(res.scorerFiles!.sort());
    const again: Awaited<ReturnType<typeof acts.pushScorers>> = await new MockActivityEnvironment().run(acts.pushScorers, { ctx: c, files: [...res.scorerFiles!, 'gone.ts'] });
    expect(again.missing).toEqual(['gone.ts']);
    const view = await bt.functionsView(PROJECT, 'helpfulness');
    expect(promptOf(view)).toContain('without errors');
    expect(view.function_type).toBe('scorer');
    expect((view.prompt_data as { parser?: unknown }).parser).toMatchObject({ type: 'llm_classifier', choice_scores: { Yes: 1, No: 0 } });
    const concise = await bt.functionsView(PROJECT, 'concise');
    expect((concise.function_data as { type: string; data: { type: string } }).data.type).toBe('bundle');
    const fns = await bt.functionsList(PROJECT, { type: 'scorer' });
    expect(fns.filter((f) => f.slug === 'helpfulness')).toHaveLength(1);

    // A rejected change is reverted: the working file goes back to the pulled version, which is pushed again.
    const reverted: Awaited<ReturnType<typeof acts.revertChange>> = await new MockActivityEnvironment().run(acts.revertChange, { ctx: c, iteration: 1, artifact: 'measurement' as const, changeId: 'i1-measurement', pushedScorers: pushed.pushed });
    expect(reverted.repushedScorers.sort()).toEqual(res.scorerFiles!.sort());
    expect(promptOf(await bt.functionsView(PROJECT, 'helpfulness'))).not.toContain('without errors');
    expect(promptOf(await bt.functionsView(PROJECT, 'helpfulness'))).toContain('Is this answer helpful');

    // A later iteration keeps the working file as it is instead of pulling over it.
    writeFileSync(join(dir, SCORER_WORKDIR, 'helpfulness.ts'), readFileSync(join(dir, SCORER_WORKDIR, 'helpfulness.ts'), 'utf8') + '// kept\n');
    await new MockActivityEnvironment().run(acts.prepareScorers, { ctx: c, scores: ['helpfulness'], windowDays: 7, iteration: 2 });
    expect(readFileSync(join(dir, SCORER_WORKDIR, 'helpfulness.ts'), 'utf8')).toContain('// kept');
  });

  it('a hosted scorer that compares with expected, while production has no labels, asks for labels', async () => {
    const dir = repo('repo-labels');
    const prep: Awaited<ReturnType<typeof acts.prepareScorers>> = await new MockActivityEnvironment().run(acts.prepareScorers, { ctx: ctx(dir), scores: ['correctness'], windowDays: 7, iteration: 1 });
    expect(prep.scorers[0]).toMatchObject({ score: 'correctness', where: 'braintrust', readsExpected: true });
    expect(prep.labels).toMatchObject({ rows: 7, labeledRows: 0, windowDays: 7 });
    const needs = scorersNeedingLabels(prep);
    expect(needs.map((n) => [n.score, n.slug, n.rows, n.labeledRows])).toEqual([['correctness', 'correctness', 7, 0]]);
    expect(needs[0]!.reason).toContain('only 0 of 7 production traces');
  });
});

describe('bt functions view by slug', () => {
  it('a slug that looks like a function id (fn_…) is still looked up as a slug', async () => {
    expect((await api('POST', '/v1/function', judge('fn_judge', 'Rate {{output}}'))).status).toBe(200);
    const fn = await bt.functionsView(PROJECT, 'fn_judge');
    expect([fn.slug, fn.function_type]).toEqual(['fn_judge', 'scorer']);
  });
});

describe('the local server refuses malformed function definitions, as the service does', () => {
  it.each([
    ['no function_data', { name: 'x', slug: 'x' }],
    ['an unknown function_data type', { name: 'x', slug: 'x', function_data: { type: 'shell' } }],
    ['inline code without a runtime', { name: 'x', slug: 'x', function_data: { type: 'code', data: { type: 'inline', code: 'function handler() {}' } } }],
    ['a prompt function without prompt_data', { name: 'x', slug: 'x', function_data: { type: 'prompt' } }],
    ['a classifier parser without choice scores', { ...judge('x', 'hi'), prompt_data: { prompt: { type: 'chat', messages: [] }, parser: { type: 'llm_classifier' } } }],
  ])('POST /v1/function with %s is a 400', async (_what, fn) => {
    const r = await api('POST', '/v1/function', { project_id: projectId, ...fn });
    expect(r.status).toBe(400);
  });

  it('POST /v1/function with an existing slug returns the existing function unmodified', async () => {
    const r = await api<{ slug: string; prompt_data: unknown }>('POST', '/v1/function', judge('helpfulness', 'something else entirely'));
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.body.prompt_data)).not.toContain('something else entirely');
  });
});

describe('score vs behaviour', () => {
  it('counts errored and empty answers scored high, and they become a measurement finding', async () => {
    const ev: Awaited<ReturnType<typeof acts.checkScoreBehaviour>> = await new MockActivityEnvironment().run(acts.checkScoreBehaviour, { ctx: ctx(tmp), scores: ['helpfulness'], windowDays: 7 });
    expect(ev.scores).toEqual([{ score: 'helpfulness', erroredScored: 4, erroredHigh: 4, emptyScored: 1, emptyHigh: 1, exampleTraceIds: ['empty-1', 'err-1', 'err-2', 'err-3', 'err-4'] }]);
    const c = contradictionFindings(ev, { from: 'a', to: 'b', days: 7 });
    expect(c.findings.map((f) => [f.id, f.severity])).toEqual([['quality:helpfulness:contradicts_behaviour', 'critical']]);
    expect(c.routes.map((r) => r.id)).toEqual(['measurement:score:helpfulness']);
  });
});
