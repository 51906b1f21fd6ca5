/**
 * End to end on the real parts (Temporal dev server, local Braintrust server, real bt, real evals): each row of the
 * seed's routing table that Verify reaches from its own evidence lands on that row.
 *
 *   new failure pattern            → focused Discover → dataset     (the change brings a crash the baseline never had)
 *   improved + new edge cases      → dataset                        (the fix leaves a curated cohort failing)
 *   datasets do not cover cases    → dataset                        (no failing case of the curated cohort evaluated)
 *   production failure unmeasured  → measurement                    (production carries no scores at all)
 *   trace data cannot support it   → instrumentation                (recent root spans lost their output and scores)
 *
 * The other rows have their scenarios elsewhere: improved, healthy and "metric did not move despite an agent change"
 * in flywheel-e2e-outcomes.test.ts. Runs that end at their first decision use `maxIterations: 1`, so the decision
 * is recorded as the row that fired, with the route it would take ("instead of routing to …").
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSummary } from '../src/handoff/write.js';
import type { Summary } from '../schemas/summary.js';
import { EXAMPLE_DIR, makeFlywheelEnv, seedOwnProject, type FlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal } from './support/temporal-harness.js';

const SCRIPTED = (mode: 'agent-only' | 'tools-only' | 'fix-and-break') => [process.execPath, join(__dirname, 'support', 'scripted-change-agent.mjs'), mode];
/** The crash `fix-and-break` plants (test/support/scripted-change-agent.mjs). */
const BILLING_CRASH = 'BillingTemplateError: the billing answer template failed to render';

function readSummary(path: string | null): Summary {
  expect(path).toBeTruthy();
  return JSON.parse(readFileSync(path!, 'utf8')) as Summary;
}

type DecisionRow = Summary['verification']['decisions'][number];
const why = (s: Summary) => `${s.loop_reasoning}\n${JSON.stringify(s.verification?.decisions, null, 1)}`;

/** The first decision landed on `rule`, routing to `route` (or, at the iteration limit, stopping instead of it). */
function expectRow(s: Summary, rule: string, route: string): DecisionRow {
  const d = s.verification.decisions[0];
  expect(d, why(s)).toBeDefined();
  expect(d!.rule, why(s)).toBe(rule);
  if (d!.stopped_at_limit) expect(d!.reason).toContain(`instead of routing to ${route}`);
  else expect(d!.route).toBe(route);
  return d!;
}


describeTemporal('routing rows on the example project (defective production)', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'defective' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('new failure pattern → focused Discover → dataset: the crash the change brought is named, the change is undone, the next iteration only curates', async () => {
    const workflowId = `route-new-pattern-${Date.now()}`;
    const result = await env.execute(
      workflowId,
      env.input({ changeCommand: SCRIPTED('fix-and-break'), maxIterations: 2, outDir: join(env.home, 'out-new-pattern'), datasetName: 'flywheel-new-pattern' }),
    );
    const s = readSummary(result.summaryPath);
    expect(await validateSummary(s)).toEqual([]);
    const d = expectRow(s, 'new_failure_pattern', 'dataset');
    expect(d.stopped_at_limit).toBe(false);
    // The pattern is the planted crash, as an error shape, counted in the validation run's rows.
    expect(d.reason).toContain(`new error ${JSON.stringify(BILLING_CRASH)} in`);
    expect(d.reason).toMatch(/in \d+ rows/);
    expect(d.reason).toContain('focused Discover first');
    // Not accepted, so the edit was put back before the next attempt.
    const agent = s.changes_detail.filter((c) => c.artifact === 'agent');
    expect(agent.map((c) => [c.iteration, c.reverted?.files])).toEqual([[1, expect.arrayContaining(['src/agent.ts'])]]);
    expect(s.verification.attempts![0]!.accepted).toBe(false);
    expect(s.verification.attempts![0]!.why_not_accepted.join('\n')).toContain('new failure pattern');
    // Iteration 2: Discover ran again, and the plan was the dataset route alone.
    const runDir = join(env.home, 'runs', workflowId, s.run.run_id);
    expect(existsSync(join(runDir, 'iter-2', 'discover', 'evidence.json'))).toBe(true);
    const second = s.changes_detail.filter((c) => c.iteration === 2);
    expect(second.length, JSON.stringify(s.changes_detail.map((c) => [c.iteration, c.artifact]))).toBeGreaterThan(0);
    expect(second.every((c) => c.artifact === 'dataset')).toBe(true);
    expect(s.verification.decisions).toHaveLength(2);
  });

  it('metric improved and new edge cases were found → dataset: the cohort the fix did not reach is named', async () => {
    const workflowId = `route-edge-cases-${Date.now()}`;
    const result = await env.execute(
      workflowId,
      env.input({ project: await seedOwnProject(env, 'support-agent-edge'), changeCommand: SCRIPTED('tools-only'), maxIterations: 1, outDir: join(env.home, 'out-edge') }),
    );
    const s = readSummary(result.summaryPath);
    expect(await validateSummary(s)).toEqual([]);
    const d = expectRow(s, 'improved_new_edge_cases', 'dataset');
    expect(s.verification.validation_delta!, why(s)).toBeGreaterThan(0.01);
    // The still-failing cohort is a dataset route of this run, its curated failing cases counted.
    const routes = s.changes_detail.filter((c) => c.artifact === 'dataset').map((c) => c.route_id);
    expect(routes.length).toBeGreaterThan(0);
    const named = routes.filter((r) => d.reason.includes(`cohort of route ${JSON.stringify(r)}`));
    expect(named.length, d.reason).toBeGreaterThan(0);
    expect(d.reason).toMatch(/\d+ of \d+ curated failing cases still fail after the change/);
    expect(result.outcome).toBe('needs_work');
  });

  it('datasets do not cover eval-discovered cases → dataset: unlabeled failing cases never reach the eval', async () => {
    const workflowId = `route-gaps-${Date.now()}`;
    // No labeler: failing production cases are curated without a label, so the eval cannot score them; no change agent.
    const result = await env.execute(
      workflowId,
      env.input({ project: await seedOwnProject(env, 'support-agent-gaps'), changeCommand: undefined, labeler: undefined, maxIterations: 1, outDir: join(env.home, 'out-gaps') }),
    );
    const s = readSummary(result.summaryPath);
    expect(await validateSummary(s)).toEqual([]);
    const dataset = s.changes_detail.filter((c) => c.artifact === 'dataset');
    expect(dataset.length).toBeGreaterThan(0);
    expect(dataset.every((c) => c.dataset_rows!.needs_label > 0)).toBe(true);
    const d = expectRow(s, 'dataset_gaps_remain', 'dataset');
    expect(d.reason).toContain('none of its failing production cases was evaluated');
    expect(dataset.some((c) => d.reason.includes(JSON.stringify(c.route_id)))).toBe(true);
  });
});

describe.each([
  {
    variant: 'unscored' as const,
    title: 'production failure is real but unmeasured → measurement',
    rule: 'unmeasured_failure',
    route: 'measurement',
    text: 'production failure is real but unmeasured: Production traffic is not scored',
    planned: 'measurement:unmeasured',
  },
  {
    variant: 'instrumentation-gap' as const,
    title: 'trace data cannot support diagnosis → instrumentation',
    rule: 'instrumentation_blocked',
    route: 'instrumentation',
    text: 'trace data cannot support diagnosis: ',
    planned: 'instrumentation:',
  },
])('routing rows on production that is $variant', ({ variant, title, rule, route, text, planned }) => {
  describeTemporal(variant, () => {
    let env: FlywheelEnv;
    beforeAll(async () => {
      env = await makeFlywheelEnv({ variant });
    });
    afterAll(async () => {
      await env?.teardown();
    });

    it(`${title}: the agent is fixed and verified, yet the route is ${route}`, async () => {
      const workflowId = `route-${variant}-${Date.now()}`;
      const result = await env.execute(workflowId, env.input({ changeCommand: SCRIPTED('agent-only'), maxIterations: 1, outDir: join(env.home, `out-${variant}`) }));
      const s = readSummary(result.summaryPath);
      expect(await validateSummary(s)).toEqual([]);
      // Diagnose planned the route first, and the change agent left it alone (it only edits agent code)...
      const routes = s.diagnosis!.routes.map((r) => r.id);
      expect(routes[0], routes.join('\n')).toContain(planned);
      expect(s.changes_detail.filter((c) => c.artifact === route).every((c) => (c.files ?? []).length === 0)).toBe(true);
      // ...while the agent change was made and evaluated against the baseline.
      expect(s.changes_detail.some((c) => c.artifact === 'agent' && (c.files ?? []).length > 0)).toBe(true);
      expect(s.verification.comparison).not.toBeNull();
      const d = expectRow(s, rule, route);
      expect(d.reason).toContain(text);
    });
  });
});

// The example's own files are never touched by these runs (they work on a copy).
afterAll(() => {
  expect(readFileSync(join(EXAMPLE_DIR, 'src', 'agent.ts'), 'utf8')).not.toContain('BillingTemplateError');
});
