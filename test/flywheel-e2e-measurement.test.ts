/**
 * The measurement route end to end on the real parts (Temporal dev server, local Braintrust server, real bt), on the
 * example's stuck-scorer traffic where `answer_quality` is a scorer that lives only in Braintrust (the agent's
 * repository does not define it):
 * - an LLM judge that compares with `{{expected}}`, while production carries no labels: the run ends needs_work with
 *   a blocking label_data next step, and the change agent never runs;
 * - a judge that does not need labels: it is pulled into a working file, the change agent edits it, and the
 *   pushScorers activity — scheduled after runChangeAgent, not inside it — pushes the edit to Braintrust.
 * And on healthy traffic with errored answers scored 1: a score-vs-behaviour finding puts the scorer first in the plan.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateSummary } from '../src/handoff/write.js';
import type { Summary } from '../schemas/summary.js';
import { BtClient } from '../src/bt/client.js';
import { clockFromEnv } from '../src/clock.js';
import { packageRoot } from '../src/paths.js';
import { makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal } from './support/temporal-harness.js';

const judge = (projectId: string, content: string) => ({
  project_id: projectId,
  name: 'answer_quality',
  slug: 'answer-quality-judge',
  function_type: 'scorer',
  function_data: { type: 'prompt' },
  prompt_data: {
    prompt: { type: 'chat', messages: [{ role: 'system', content }] },
    options: { model: 'gpt-4o-mini' },
    parser: { type: 'llm_classifier', use_cot: false, choice_scores: { Good: 1, Bad: 0 } },
  },
  if_exists: 'replace',
});

describeTemporal('the measurement route for a scorer hosted in Braintrust', () => {
  let env: FlywheelEnv;
  let projectId: string;
  let agentDir: string;
  let bt: BtClient;

  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(env.server.apiUrl.replace(/\/$/, '') + path, {
      method,
      headers: { authorization: `Bearer ${env.server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };

  const activityTypes = async (workflowId: string): Promise<string[]> => {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
  };

  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'stuck-scorer', traces: 400 });
    bt = new BtClient({ env: env.btEnv, cwd: env.home });
    projectId = (await bt.projectsList()).find((p) => p.name === 'support-agent')!.id;
    // The agent's repository: its code, but no scorer definition (the scorer lives in Braintrust), and no evals.
    agentDir = join(env.home, 'agent-repo');
    mkdirSync(join(agentDir, 'src'), { recursive: true });
    writeFileSync(join(agentDir, 'src', 'agent.ts'), 'export const answer = (q: string) => q;\n');
    symlinkSync(join(packageRoot, 'node_modules'), join(agentDir, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('a hosted judge that needs labels production lacks: needs_work with a label_data next step, no change agent run', async () => {
    await api('POST', '/insert-functions', { functions: [judge(projectId, 'Does {{output}} match the reference answer {{expected}}?')] });
    const marker = join(env.home, 'change-agent-ran');
    const workflowId = `measurement-labels-${Date.now()}`;
    const result = await env.execute(
      workflowId,
      env.input({ agentDir, changeCommand: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`], outDir: join(env.home, 'out-labels') }),
    );
    const summary = JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
    expect(result.outcome, summary.loop_reasoning).toBe('needs_work');
    expect(await validateSummary(summary)).toEqual([]);
    const label = summary.next_steps.find((s) => s.intent === 'label_data' && s.title.includes('answer_quality'));
    expect(label, JSON.stringify(summary.next_steps.map((s) => s.title))).toBeDefined();
    expect(label!.blocking).toBe(true);
    expect(summary.next_steps[0]!.intent).toBe('label_data'); // labelling is what unblocks the run: it leads
    expect(readFileSync(result.narrativePath!, 'utf8')).toContain('Label production traces for the answer\\_quality scorer');
    expect(label!.body).toMatch(/only 0 of \d+ production traces/);
    const types = await activityTypes(workflowId);
    expect(types).toContain('checkScoreBehaviour');
    expect(types).toContain('prepareScorers');
    expect(types).not.toContain('runChangeAgent');
    expect(() => readFileSync(marker)).toThrow();
  });

  it('a hosted judge is pulled, edited by the change agent and pushed by its own activity', async () => {
    await api('POST', '/insert-functions', { functions: [judge(projectId, 'Rate the answer {{output}} to {{input}}.')] });
    // A change agent that edits the working files the brief names.
    const agent = join(env.home, 'edit-working-files.mjs');
    writeFileSync(
      agent,
      `import { readFileSync, writeFileSync } from 'node:fs';
const brief = readFileSync(0, 'utf8');
for (const m of brief.matchAll(/working file: (\\S+)/g)) writeFileSync(m[1], readFileSync(m[1], 'utf8').replace('Rate the answer', 'Rate strictly (an apology or an error is Bad) the answer'));`,
    );
    const workflowId = `measurement-push-${Date.now()}`;
    const result = await env.execute(workflowId, env.input({ agentDir, changeCommand: [process.execPath, agent], outDir: join(env.home, 'out-push') }));
    const summary = JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
    // No eval files to verify with: the change is made and pushed, and the run says it could not verify it.
    expect(result.outcome, summary.loop_reasoning).toBe('needs_work');
    const change = summary.changes_detail.find((c) => c.artifact === 'measurement')!;
    expect(change.files).toEqual(['bt-flywheel-scorers/answer-quality-judge.ts']);
    expect(change.description).toContain('pulled from Braintrust');
    const fn = await bt.functionsView('support-agent', 'answer-quality-judge');
    expect(JSON.stringify(fn.prompt_data)).toContain('Rate strictly');
    const types = await activityTypes(workflowId);
    const agentAt = types.indexOf('runChangeAgent');
    expect(agentAt).toBeGreaterThan(types.indexOf('prepareScorers'));
    expect(types.indexOf('pushScorers')).toBeGreaterThan(agentAt);
    // The repository itself is untouched (the run worked on its copy).
    expect(() => readFileSync(join(agentDir, 'bt-flywheel-scorers', 'answer-quality-judge.ts'))).toThrow();
  });
});

describeTemporal('score vs behaviour on otherwise healthy traffic', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'healthy', traces: 400 });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('errored answers scored 1 make a measurement finding and route the plan to the scorer first', async () => {
    const bt = new BtClient({ env: env.btEnv, cwd: env.home });
    const projectId = (await bt.projectsList()).find((p) => p.name === 'support-agent')!.id;
    const at = new Date(clockFromEnv(process.env)().getTime() - 3_600_000).toISOString();
    const rows = Array.from({ length: 10 }, (_, i) => {
      const id = `errored-${i}`;
      return {
        id, span_id: id, root_span_id: id, project_id: projectId, log_id: 'g', created: at, is_root: true,
        span_attributes: { name: 'support_agent', type: 'task' }, input: { question: `order ${i}?` }, output: null,
        error: 'OrderServiceTimeout: lookup_order timed out', scores: { answer_quality: 1, correct_category: 1, no_tool_error: 1 },
        metadata: { agent_version: '1.4.0' }, metrics: { start: 1, end: 2 },
      };
    });
    const res = await fetch(env.server.apiUrl.replace(/\/$/, '') + '/logs3', {
      method: 'POST',
      headers: { authorization: `Bearer ${env.server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ api_version: 2, rows }),
    });
    expect(res.status).toBe(200);
    const workflowId = `measurement-contradiction-${Date.now()}`;
    const result = await env.execute(workflowId, env.input({ changeCommand: undefined, outDir: join(env.home, 'out-contradiction') }));
    const summary = JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
    expect(result.outcome, summary.loop_reasoning).toBe('needs_work');
    expect(await validateSummary(summary)).toEqual([]);
    const ids = summary.findings_detail.map((f) => f.id);
    expect(ids).toContain('quality:answer_quality:contradicts_behaviour');
    expect(summary.diagnosis!.routes[0]!.artifact).toBe('measurement');
    expect(summary.diagnosis!.routes.map((r) => r.id)).toContain('measurement:score:answer_quality');
    const brief = summary.next_steps.find((s) => s.intent === 'review_change' && s.title.includes('measurement'));
    expect(brief, JSON.stringify(summary.next_steps.map((s) => s.title))).toBeDefined();
  });
});
