/**
 * Regression drill-in end to end (Temporal dev server, local Braintrust server, real bt, real evals): a change agent
 * whose edit escalates billing questions makes eval rows regress against the baseline; the handoff explains the
 * largest drops — input, output before and after, the scorer's logged reason — with links to both experiments' rows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateSummary } from '../src/handoff/write.js';
import type { Summary } from '../schemas/summary.js';
import { makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal } from './support/temporal-harness.js';

describeTemporal('regression drill-in', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'defective' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('a change that breaks billing answers: the handoff drills into the regressed rows', async () => {
    const workflowId = `drilldown-${Date.now()}`;
    const breakBilling = ['sh', '-c', `sed -i "s/'ombudsman', 'refund'/'ombudsman', 'invoice', 'charge', 'refund'/" src/policy.ts`];
    const result = await env.execute(workflowId, env.input({ changeCommand: breakBilling, maxIterations: 1, outDir: join(env.home, 'out-drill'), datasetName: 'flywheel-drill' }));
    const summary = JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
    expect(await validateSummary(summary)).toEqual([]);
    const v = summary.verification;
    expect(v.regression_count, summary.loop_reasoning).toBeGreaterThan(0);
    const rows = v.regression_drilldown!;
    expect(rows.length).toBe(Math.min(3, v.comparison!.regressed));
    // The drilled rows are the largest drops the summary lists, with the row's texts and both links.
    expect(rows[0]!.row_id).toBe(v.regressions[0]!.row_id);
    for (const r of rows) {
      expect(r.input).toMatch(/"question":/);
      expect(r.output_after).toContain('"category":"escalation"');
      expect(r.output_before).not.toContain('"category":"escalation"');
      expect(r.url).toMatch(/\/experiments\/[^/?]+\?r=/);
      expect(r.baseline_url).toContain(`/experiments/${v.baseline!.id}?r=`);
      expect(r.scores.every((s) => s.delta < 0)).toBe(true);
    }
    expect(rows.some((r) => r.rationale.some((q) => q.score === 'correct_category' && q.after?.includes('"actual":"escalation"')))).toBe(true);
    // The agent change carries its diff; the narrative shows the drill-in.
    expect(summary.changes_detail.find((c) => c.artifact === 'agent')!.diff!.excerpt).toContain("+export const ESCALATION_KEYWORDS: readonly string[] = ['lawyer', 'legal action', 'chargeback', 'ombudsman', 'invoice', 'charge'");
    const md = readFileSync(result.narrativePath!, 'utf8');
    expect(md).toContain('#### Regressed rows');
    expect(md).toMatch(/Output after: .*escalation/);
  });
});
