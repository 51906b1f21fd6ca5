/**
 * Regression drill-in on the real parts (the example's eval through the real bt against the local server): a change
 * that escalates billing questions makes rows regress; compareRuns drills into the largest drops — input, expected,
 * output before and after, and the scorer's logged reason — and the handoff carries them with links to both rows,
 * and the change's diff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DRILLDOWN_ROWS, type DrilldownDoc } from '../src/activities/drilldown.js';
import { saveChangeBackup, snapshotTree, diffSnapshots, writeChangeDiff } from '../src/activities/workspace.js';
import { validateSummary } from '../src/handoff/write.js';
import { cleanText } from '../src/untrusted.js';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import type { Summary } from '../schemas/summary.js';
import type { HandoffInput } from '../src/handoff/build.js';
import type { EvalResult } from '../src/workflows/logic/evidence.js';
import type { OrientContext } from '../src/workflows/types.js';
import { EXAMPLE_DIR, makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';

let env: FlywheelEnv;
let ctx: OrientContext;
beforeAll(async () => {
  env = await makeFlywheelEnv({ traces: 300 });
  const config = flywheelInputSchema.parse({ project: 'support-agent', agentDir: EXAMPLE_DIR, workOnCopy: true, outDir: join(env.home, 'out'), runsDir: join(env.home, 'runs') });
  ctx = await env.activities.orient(config, 'drilldown-test', 'run-1');
}, 300_000);
afterAll(async () => {
  await env?.teardown();
});

const evalOf = (name: string, runMode: 'baseline' | 'full'): Promise<EvalResult> =>
  env.activities.runEval({ ctx, cwd: ctx.agentDir, split: 'all', runMode, experimentName: name, useDataset: false, iteration: runMode === 'baseline' ? 0 : 1 });

it('drills into the rows a change broke: input, outputs before and after, the scorer rationale, in the handoff with links', async () => {
  const baseline = await evalOf('drill-baseline', 'baseline');
  // The change: billing words escalate to the generic hand-off.
  const policy = join(ctx.agentDir, 'src', 'policy.ts');
  const before = await snapshotTree(ctx.agentDir);
  writeFileSync(policy, readFileSync(policy, 'utf8').replace("'ombudsman', 'refund'", "'ombudsman', 'invoice', 'charge', 'refund'"));
  const after = await snapshotTree(ctx.agentDir);
  const changeDir = join(ctx.runDir, 'iter-1', 'improve-agent');
  await saveChangeBackup(changeDir, ctx.agentDir, before, after, diffSnapshots(before, after));
  const diff = (await writeChangeDiff(changeDir))!;
  expect(diff.excerpt).toMatch(/^-export const ESCALATION_KEYWORDS.*'ombudsman', 'refund', 'return'\];$/m);
  expect(diff.excerpt).toMatch(/^\+export const ESCALATION_KEYWORDS.*'invoice', 'charge', 'refund', 'return'\];$/m);

  const next = await evalOf('drill-broken', 'full');
  const cmp = await env.activities.compareRuns({ baseline, next, tolerance: 0.1, runDir: ctx.runDir, iteration: 1 });
  expect(cmp.regressed).toBeGreaterThan(0);
  expect(cmp.drilldownError).toBeUndefined();
  expect(cmp.drilldown).toBeDefined();
  const doc = JSON.parse(readFileSync(cmp.drilldown!.path, 'utf8')) as DrilldownDoc;
  expect(doc.rows.length).toBe(Math.min(DRILLDOWN_ROWS, cmp.regressed));
  expect(doc.rows.map((r) => r.key)).toEqual([...new Set(cmp.regressions.map((r) => r.key))].slice(0, DRILLDOWN_ROWS));

  for (const row of doc.rows) {
    // What the eval logged for this row, read back directly, is what the drill-in says.
    const [a] = await env.sql(`SELECT input, output FROM experiment('${next.experimentId}') WHERE is_root = true AND root_span_id = '${row.traceId}' LIMIT 1`);
    const [b] = await env.sql(`SELECT output FROM experiment('${baseline.experimentId}') WHERE is_root = true AND root_span_id = '${row.baselineTraceId}' LIMIT 1`);
    expect(row.input).toBe(cleanText(JSON.stringify(a!.input), 400, false));
    expect(row.outputAfter).toBe(cleanText(JSON.stringify(a!.output), 400, false));
    expect(row.outputBefore).toBe(cleanText(JSON.stringify(b!.output), 400, false));
    expect(row.outputAfter).toContain('"category":"escalation"');
    expect((b!.output as { category: string }).category).not.toBe('escalation');
    // The example's correct_category scorer logs {expected, actual}: the reason the score dropped.
    const why = row.rationale.find((q) => q.score === 'correct_category');
    if (row.scores.some((s) => s.score === 'correct_category')) {
      expect(why?.after).toContain('"actual":"escalation"');
      expect(why?.before).not.toContain('"actual":"escalation"');
    }
    expect(row.scores.every((s) => s.delta < -0.1)).toBe(true);
  }

  // At least one drilled row dropped on correct_category, whose scorer logged why (expected vs actual).
  expect(doc.rows.some((r) => r.rationale.some((q) => q.score === 'correct_category' && q.after?.includes('"actual":"escalation"')))).toBe(true);

  // The handoff: the drill-in in the summary (with links to both rows) and the narrative; the diff of the change.
  const input: HandoffInput = {
    workflowId: 'drilldown-test', runId: 'run-1', project: { id: ctx.project.id, name: ctx.project.name }, org: ctx.org, appUrl: ctx.appUrl,
    goal: 'drill', mode: 'autonomous', startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), iterations: 1, maxIterations: 1,
    phasesRun: ['orient', 'verify'], evidence: null, diagnosis: null, decisions: [], evals: [{ ...next, iteration: 1 }], baseline, comparison: cmp, artifacts: [],
    changes: [{ id: 'i1-agent', iteration: 1, routeId: 'agent:x', findingIds: ['f'], artifact: 'agent', description: 'escalate billing', files: ['src/policy.ts'], diffFile: diff.file, appliedBy: 'test' }],
    gates: [{ id: 'write-2', kind: 'write', decision: 'auto', by: 'autonomous mode', at: new Date().toISOString(), shown: '3 rows into dataset d' }],
  };
  const paths = await env.activities.writeHandoff({ input, outDir: join(env.home, 'out-drill') });
  const summary = JSON.parse(readFileSync(paths.summaryPath, 'utf8')) as Summary;
  expect(await validateSummary(summary)).toEqual([]);
  const dd = summary.verification.regression_drilldown!;
  expect(dd.map((r) => r.trace_id)).toEqual(doc.rows.map((r) => r.traceId));
  expect(dd[0]!.url).toBe(`${ctx.appUrl}/app/${encodeURIComponent(ctx.org)}/p/support-agent/experiments/${next.experimentId}?r=${doc.rows[0]!.traceId}`);
  expect(dd[0]!.baseline_url).toContain(`/experiments/${baseline.experimentId}?r=${doc.rows[0]!.baselineTraceId}`);
  expect(summary.changes_detail[0]!.diff).toMatchObject({ path: diff.file.path, sha256: diff.file.sha256, truncated: false });
  expect(summary.changes_detail[0]!.diff!.excerpt).toContain("'invoice', 'charge'");
  expect(summary.artifacts.map((a) => a.kind)).toEqual(expect.arrayContaining(['diff', 'other']));
  expect(summary.gates[0]!.shown).toBe('3 rows into dataset d');
  const md = readFileSync(paths.narrativePath, 'utf8');
  expect(md).toContain('#### Regressed rows');
  expect(md).toContain(`(${dd[0]!.url})`);
  expect(md).toMatch(/Output after: .*escalation/);
  expect(md).toContain('Write gate `write-2` showed: 3 rows into dataset d');
}, 600_000);
