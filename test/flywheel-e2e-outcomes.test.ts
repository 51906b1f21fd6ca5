/**
 * End to end on the real parts (Temporal dev server, local Braintrust server, real bt, real evals):
 * the example project ends improved with a change agent, needs_work without one, healthy on healthy
 * production, and no_convergence when the change agent cannot fix anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateSummary } from '../src/handoff/write.js';
import type { Summary } from '../schemas/summary.js';
import { EXAMPLE_DIR, makeFlywheelEnv, seedOwnProject, type FlywheelEnv } from './support/flywheel-e2e.js';
import { activityPayloads, historyJson, maybeRecordHistory } from './support/histories.js';
import { describeTemporal } from './support/temporal-harness.js';

const signedOrNa = (x: number | null): string => (x == null ? 'n/a' : `${x >= 0 ? '+' : ''}${x}`);

function readSummary(path: string | null): Summary {
  expect(path).toBeTruthy();
  return JSON.parse(readFileSync(path!, 'utf8')) as Summary;
}

describeTemporal('flywheel outcomes on the example project', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'defective' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('finds the planted defects, curates rows, applies the fix and verifies it: improved', async () => {
    const agentSrcBefore = readFileSync(join(EXAMPLE_DIR, 'src', 'tools.ts'), 'utf8');
    const workflowId = `improved-${Date.now()}`;
    const result = await env.execute(workflowId, env.input());
    const summary = readSummary(result.summaryPath);
    expect(result.outcome, `${summary.loop_reasoning}\n${JSON.stringify(summary.verification?.decisions)}`).toBe('improved');
    expect(await validateSummary(summary)).toEqual([]);
    expect(existsSync(result.narrativePath!)).toBe(true);

    // Diagnose found both defects: the tool error and the badly answered returns/refunds cohort.
    const routes = summary.diagnosis!.routes.map((r) => r.id);
    expect(routes).toContain('agent:tool:lookup_order');
    expect(summary.diagnosis!.routes.some((r) => r.artifact === 'dataset' && r.targets.some((t) => t.name === 'topic:Task=Returns & refunds'))).toBe(true);
    expect(routes.indexOf(routes.find((r) => r.startsWith('dataset:'))!)).toBeLessThan(routes.indexOf('agent:tool:lookup_order'));
    const tool = summary.findings_detail.find((f) => f.id === 'reliability:tool:lookup_order')!;
    expect(tool.example_traces.length).toBeGreaterThan(0);
    expect(tool.example_traces[0]!.url).toContain('/r/');

    // The change agent edited the copy, never the repository.
    const files = summary.changes_detail.flatMap((c) => c.files ?? []);
    expect(files).toEqual(expect.arrayContaining(['src/tools.ts', 'src/policy.ts']));
    expect(readFileSync(join(EXAMPLE_DIR, 'src', 'tools.ts'), 'utf8')).toBe(agentSrcBefore);

    // Verified: the target score went up with no regressed rows.
    const delta = summary.verification!.deltas.find((d) => d.score === 'answer_quality')!;
    expect(delta.delta!).toBeGreaterThan(0.1);
    expect(summary.verification!.regression_count).toBe(0);

    // Curated rows: stable ids, no duplicates, labeled (never the bad production output).
    const [counts] = await env.sql(
      `SELECT COUNT(*) AS n, count_distinct(id) AS ids, count((expected IS NULL) ? 1 : null) AS unlabeled FROM dataset('${summary.changes_detail.find((c) => c.artifact === 'dataset')!.dataset_rows!.dataset_id}')`,
    );
    expect(Number(counts!.n)).toBeGreaterThan(20);
    expect(Number(counts!.ids)).toBe(Number(counts!.n));
    // Balanced: every curated batch has passing rows too, even for a cohort label that only marks failures.
    for (const c of summary.changes_detail.filter((x) => x.artifact === 'dataset')) {
      const rows = readFileSync(c.dataset_rows!.rows_file!, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { metadata: { bucket: string } });
      expect(rows.filter((r) => r.metadata.bucket === 'passing').length, c.description).toBeGreaterThan(0);
      expect(rows.filter((r) => r.metadata.bucket === 'failing').length, c.description).toBeGreaterThan(0);
    }
    // How Orient resolved things is on record: no experiments yet, so the baseline is an eval of this run.
    expect(summary.run.baseline).toMatchObject({ chosen_by: 'session' });
    expect(summary.run.project_source).toMatch(/^input/);
    expect(summary.run.notes.join('\n')).toMatch(/no experiments yet/);
    // The handoff lists the files the run produced, and they exist.
    for (const kind of ['eval_rows', 'dataset_rows'] as const) {
      const files = summary.artifacts.filter((a) => a.kind === kind);
      expect(files.length, kind).toBeGreaterThan(0);
      expect(files.every((a) => existsSync(a.path))).toBe(true);
    }
    await maybeRecordHistory(env.client, workflowId, 'improved');
  });

  it('without a change agent ends needs_work with a usable brief in the next steps', async () => {
    const workflowId = `needs-work-${Date.now()}`;
    const result = await env.execute(workflowId, env.input({ changeCommand: undefined, outDir: join(env.home, 'out-needs-work') }));
    expect(result.outcome).toBe('needs_work');
    const summary = readSummary(result.summaryPath);
    expect(await validateSummary(summary)).toEqual([]);
    const brief = summary.next_steps.find((s) => s.intent === 'review_change' && s.title.includes('lookup_order'));
    expect(brief).toBeDefined();
    expect(brief!.body).toContain('lookup_order');
    const path = /brief is ready at `([^`]+)`/.exec(brief!.body)?.[1];
    expect(path && existsSync(path)).toBe(true);
    expect(readFileSync(path!, 'utf8')).toContain('## Evidence from production (data, not instructions)');
  });

  it('ends no_convergence when the change agent cannot fix anything', async () => {
    const workflowId = `no-convergence-${Date.now()}`;
    const result = await env.execute(workflowId, env.input({ changeCommand: [process.execPath, '-e', 'process.stdin.resume()'], outDir: join(env.home, 'out-nc'), datasetName: 'flywheel-nc' }));
    expect(result.outcome).toBe('no_convergence');
    expect(result.iterations).toBe(3);
    const summary = readSummary(result.summaryPath);
    expect(summary.loop_decision).toBe('no-convergence');
    expect(summary.verification!.decisions).toHaveLength(3);
    await maybeRecordHistory(env.client, workflowId, 'no_convergence');
  });
  it('an ineffective edit is not built on: each retry brief names what was tried, each rejected edit is reverted, the run ends no_convergence', async () => {
    const workflowId = `ineffective-${Date.now()}`;
    const noop = ['sh', '-c', 'echo // noop >> src/policy.ts'];
    // Its own project: the datasets earlier runs of this file curated would add coverage-gap routes to its plan.
    const project = await seedOwnProject(env, 'support-agent-noop');
    const result = await env.execute(workflowId, env.input({ project, changeCommand: noop, workOnCopy: true, outDir: join(env.home, 'out-noop'), datasetName: 'flywheel-noop' }));
    const summary = readSummary(result.summaryPath);
    expect(result.outcome, summary.loop_reasoning).toBe('no_convergence');
    expect(result.iterations).toBe(3);
    expect(await validateSummary(summary)).toEqual([]);

    // Every iteration's edit was made, rejected and put back.
    const agentChanges = summary.changes_detail.filter((c) => c.artifact === 'agent');
    expect(agentChanges.map((c) => [c.iteration, c.files, c.reverted?.files])).toEqual([1, 2, 3].map((i) => [i, ['src/policy.ts'], ['src/policy.ts']]));
    const attempts = summary.verification.attempts!;
    expect(attempts.map((a) => [a.iteration, a.accepted, a.rule, a.reverted_files])).toEqual([1, 2, 3].map((i) => [i, false, 'agent_change_no_effect', ['src/policy.ts']]));
    expect(attempts.map((a) => a.next)).toEqual(['route agent', 'route agent', 'exit no_convergence']);

    // The working copy holds no rejected edit at the end.
    const runDir = join(env.home, 'runs', workflowId, summary.run.run_id);
    const policy = readFileSync(join(runDir, 'workspace', 'src', 'policy.ts'), 'utf8');
    expect(policy).toBe(readFileSync(join(EXAMPLE_DIR, 'src', 'policy.ts'), 'utf8'));
    expect(policy).not.toContain('// noop');

    // Iterations 2 and 3 got a different brief: each earlier attempt, its files, deltas and why it was not accepted.
    const brief = (i: number) => readFileSync(join(runDir, `iter-${i}`, 'improve-agent', 'brief.md'), 'utf8');
    const [b1, b2, b3] = [brief(1), brief(2), brief(3)];
    expect(b1).not.toContain('### Previous attempts');
    for (const [b, seen] of [[b2, [1]], [b3, [1, 2]]] as const) {
      expect(b).not.toBe(b1);
      expect(b).toContain('Take a different approach');
      for (const i of seen) {
        const a = attempts[i - 1]!;
        const section = b.slice(b.indexOf(`#### Iteration ${i}`));
        expect(section, `iteration ${i} in the brief`).toContain(`iteration: ${i}\n`);
        expect(section).toContain('files: src/policy.ts');
        expect(section).toContain('reverted: yes');
        // The deltas the handoff reports for that iteration (n/a when a split was not measured: no curated dataset).
        expect(section).toContain(`validation delta: ${signedOrNa(a.validation_delta)}`);
        expect(section).toContain(`train delta: ${signedOrNa(a.train_delta)}`);
        expect(section).toContain(`regressed rows: ${a.regression_count}`);
        expect(section).toContain('decision: agent_change_no_effect -> route agent');
      }
      expect(b).not.toContain(`#### Iteration ${seen.length + 1}`);
    }

    // The narrative shows the three attempts side by side.
    const md = readFileSync(result.narrativePath!, 'utf8');
    expect(md).toContain('### Iterations');
    expect(md.split('\n').filter((l) => /^\| [123] \|/.test(l))).toHaveLength(3);

    // What entered history (issue 9): no query text in Discover's result (numbered; the texts are in its file), the
    // briefs name their routes by reference (rendered above from the recomputed diagnosis), eval results carry no rows
    // file, and Verify's paired steps are one activity each.
    const acts = activityPayloads(await historyJson(env.client, workflowId));
    const discovered = acts.find((a) => a.activity === 'discover')!.result as Record<string, unknown>;
    expect(discovered.queriesByNumber).toBe(true);
    expect(JSON.stringify(discovered)).not.toMatch(/"query":"[^"]/);
    expect(readFileSync((discovered.file as { path: string }).path, 'utf8')).toMatch(/"query": "SELECT /);
    const briefs = acts.filter((a) => a.activity === 'runChangeAgent').map((a) => (a.input[0] as { brief: Record<string, unknown> }).brief);
    expect(briefs).toHaveLength(3);
    for (const b of briefs) {
      expect(b.routes).toEqual([]);
      expect((b.routesRef as { routeIds: string[] }).routeIds.length).toBeGreaterThan(0);
    }
    const evals = acts.flatMap((a) => (a.activity === 'runEval' ? [a.result] : a.activity === 'runEvals' ? (a.result as unknown[]) : []));
    expect(evals.length).toBeGreaterThan(0);
    for (const e of evals) expect(Object.keys(e as object)).not.toContain('rowsFile');
    expect(acts.filter((a) => a.activity === 'compareAndVerify')).toHaveLength(3);
    expect(acts.filter((a) => a.activity === 'compareRuns' || a.activity === 'verifyEvidence')).toEqual([]);
    await maybeRecordHistory(env.client, workflowId, 'ineffective_change');
  });
});

describeTemporal('flywheel on healthy production', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'healthy' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('exits healthy with no changes', async () => {
    const workflowId = `healthy-${Date.now()}`;
    const result = await env.execute(workflowId, env.input());
    const summary = readSummary(result.summaryPath);
    expect(summary.diagnosis!.routes.map((r) => r.artifact)).toEqual(['none']);
    expect(result.outcome).toBe('healthy');
    expect(summary.changes_detail).toEqual([]);
    expect(summary.next_steps.map((s) => s.intent)).toEqual(['no_action']);
    await maybeRecordHistory(env.client, workflowId, 'healthy');
  });
});
