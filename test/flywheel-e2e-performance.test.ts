/**
 * End to end on the real parts (Temporal dev server, local Braintrust server, real bt): production whose quality
 * is healthy but whose latest release made every trace several times slower and costlier no longer reads
 * `healthy` — the run ends `needs_work` with the release named in the finding, the plan and the brief.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SLOW_RELEASE_VERSION } from '../examples/support-agent/generate-traces.js';
import { validateSummary } from '../src/handoff/write.js';
import type { Summary } from '../schemas/summary.js';
import { makeFlywheelEnv, type FlywheelEnv } from './support/flywheel-e2e.js';
import { describeTemporal } from './support/temporal-harness.js';

const LABEL = `metadata.agent_version=${SLOW_RELEASE_VERSION}`;

describeTemporal('flywheel on production with a slow release', () => {
  let env: FlywheelEnv;
  beforeAll(async () => {
    env = await makeFlywheelEnv({ variant: 'slow-release' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it(`ends needs_work naming release ${SLOW_RELEASE_VERSION} in the finding, the plan and the brief`, async () => {
    const workflowId = `slow-release-${Date.now()}`;
    const result = await env.execute(workflowId, env.input({ changeCommand: undefined }));
    expect(result.summaryPath).toBeTruthy();
    const summary = JSON.parse(readFileSync(result.summaryPath!, 'utf8')) as Summary;
    expect(result.outcome, summary.loop_reasoning).toBe('needs_work');
    expect(await validateSummary(summary)).toEqual([]);

    // The finding names the release and carries its before/after counts and example traces with URLs.
    const finding = summary.findings_detail.find((f) => f.id === `performance:change:${LABEL}`);
    expect(finding, summary.findings_detail.map((f) => f.id).join('\n')).toBeDefined();
    expect(finding!.plane).toBe('performance');
    expect(finding!.title).toContain(SLOW_RELEASE_VERSION);
    expect(finding!.detail).toContain(`traces with ${LABEL}`);
    expect(finding!.counts.traces_before).toBeGreaterThanOrEqual(30);
    expect(finding!.counts.traces_after).toBeGreaterThanOrEqual(30);
    expect(finding!.counts.p50_latency_ms_after!).toBeGreaterThan(finding!.counts.p50_latency_ms_before! * 3);
    expect(finding!.example_traces.length).toBeGreaterThan(0);
    expect(finding!.example_traces[0]!.url).toContain('/r/');

    // Quality is healthy: the only route is the agent route for the release.
    expect(summary.diagnosis!.routes.map((r) => r.id)).toEqual([`agent:performance:${LABEL}`]);
    expect(summary.diagnosis!.routes[0]!.targets).toEqual([{ kind: 'change', name: LABEL }]);
    expect(summary.changes_detail).toEqual([]);

    // Without a change agent the route becomes a brief in the next steps, citing the finding.
    const brief = summary.next_steps.find((s) => s.intent === 'review_change');
    expect(brief, JSON.stringify(summary.next_steps.map((s) => s.title))).toBeDefined();
    expect(`${brief!.title}\n${brief!.body}`).toContain(SLOW_RELEASE_VERSION);
    const path = /brief is ready at `([^`]+)`/.exec(brief!.body)?.[1];
    expect(path && existsSync(path)).toBe(true);
    expect(readFileSync(path!, 'utf8')).toContain(`performance:change:${LABEL}`);

    // The narrative shows the finding.
    const narrative = readFileSync(result.narrativePath!, 'utf8');
    expect(narrative).toContain(SLOW_RELEASE_VERSION);
    expect(narrative).toMatch(/Slower and costlier since metadata\.agent\\?_version=1\.6\.0/);
  });
});
