// The real Orient and Discover activities (createActivities, called directly) against the local server seeded
// with each support-agent trace variant, then the pure diagnose(): the plan must match the planted problem.
// Counts cited by the findings are checked against the generated jsonl, not against the server.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLOW_RELEASE_VERSION, type TraceVariant } from '../examples/support-agent/generate-traces.js';
import { percentile } from '../src/activities/performance.js';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import { createActivities } from '../src/activities/index.js';
import { LOW_TRAFFIC_TRACES } from '../src/activities/discover.js';
import { phaseDir } from '../src/activities/files.js';
import { traceUrl } from '../src/handoff/urls.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import type { DiscoverEvidence } from '../src/workflows/logic/evidence.js';
import { diagnose, windowText, type Diagnosis, type Route } from '../src/workflows/logic/diagnose.js';
import type { OrientContext } from '../src/workflows/types.js';
import { DAY_MS, EXAMPLE_DIR, btEnvFor, generateAtFixedClock, type Row, type WindowedTraces } from './support/example-window.js';
import { wholeEvidence } from '../src/activities/evidence-file.js';

const PROJECT = 'support-agent';
const RETURNS = 'Returns & refunds';
/** The route that covers a cohort: its own, or the route it was folded into (same failing traces). */
const covers = (artifact: string, cohortName: string) => (r: { artifact: string; targets: { kind: string; name: string }[] }) =>
  r.artifact === artifact && r.targets.some((t) => t.kind === 'cohort' && t.name === cohortName);

interface Run {
  home: string;
  server: LocalServerHandle;
  data: WindowedTraces;
  ctx: OrientContext;
  evidence: DiscoverEvidence;
  diagnosis: Diagnosis;
  /** Root spans inside the evidence window, from the jsonl. */
  roots: Row[];
  /** Spans inside the evidence window, from the jsonl. */
  spans: Row[];
}

async function runVariant(variant: TraceVariant, traces: number): Promise<Run> {
  const home = mkdtempSync(join(tmpdir(), `diagnose-${variant}-`));
  const server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  try {
    const data = await generateAtFixedClock({ outDir: join(home, 'sync'), projectName: PROJECT, variant, traces, seed: 42 });
    await server.seedFromSyncDir(data.gen.dir, { projectName: PROJECT });
    const activities = createActivities({ btEnv: btEnvFor(server.btEnv(), home), appUrl: server.appUrl });
    const config = flywheelInputSchema.parse({
      project: PROJECT,
      agentDir: EXAMPLE_DIR,
      workOnCopy: false,
      outDir: join(home, 'out'),
      runsDir: join(home, 'runs'),
    });
    const ctx = await activities.orient(config, `diagnose-${variant}`);
    const evidence = await wholeEvidence(await activities.discover({ ctx, goal: config.goal, windowDays: config.windowDays, iteration: 1 }));
    const diagnosis = diagnose(evidence, { binaryScores: ctx.binaryScores, ...(ctx.primaryScore ? { primaryScore: ctx.primaryScore } : {}) });
    const days = evidence.window.days;
    const spans = data.rows.filter((r) => data.inWindow(r, days));
    return { home, server, data, ctx, evidence, diagnosis, roots: spans.filter((r) => r.is_root === true), spans };
  } catch (err) {
    await server.close();
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
}

async function dispose(run: Run | undefined): Promise<void> {
  if (!run) return;
  await run.server.close();
  rmSync(run.home, { recursive: true, force: true });
}

const ids = (d: Diagnosis) => d.routes.map((r) => r.id);
const indexOf = (d: Diagnosis, pred: (r: Route) => boolean) => d.routes.findIndex(pred);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The window of the evidence covers [now - days, now] at the suite's fixed clock. */
function expectWindow(run: Run, days: number): void {
  const w = run.evidence.window;
  expect(w.days).toBe(days);
  const to = Date.parse(w.to);
  expect(to).toBe(run.data.t0);
  expect(to - Date.parse(w.from)).toBe(days * DAY_MS);
}

describe('defective: returns routed to escalation, lookup_order fails on 8-digit / lower-case ids', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runVariant('defective', 2000);
  });
  afterAll(() => dispose(run));

  it('orient found the project, its scores (binary ones from AGENTS.md) and the primary score', () => {
    expect(run.ctx.project.name).toBe(PROJECT);
    expect(run.ctx.project.id).toBe(run.data.rows[0]!.project_id);
    expect(run.ctx.scoreColumns).toEqual(['answer_quality', 'correct_category', 'no_tool_error']);
    expect(run.ctx.binaryScores.sort()).toEqual(['correct_category', 'no_tool_error']);
    expect(run.ctx.primaryScore).toBe('answer_quality');
    expect(run.ctx.facetColumns).toEqual(['Issues', 'Sentiment', 'Task']);
    // Topics ran: cohorts come from its labels (classifications), not from the free-text facets.
    expect(run.ctx.topicFacets).toEqual(['Issues', 'Sentiment', 'Task']);
    expect(run.ctx.notes.join('\n')).not.toMatch(/no Topics automation data/i);
    expect(run.ctx.baseline).toBeNull();
  });

  it('discover measured the 7-day window and the traffic in it', () => {
    expectWindow(run, 7);
    expect(run.evidence.window.widenedFrom).toBeUndefined();
    expect(run.evidence.traffic.traces).toBe(new Set(run.spans.map((r) => r.root_span_id)).size);
    expect(run.evidence.traffic.spans).toBe(run.spans.length);
    const aq = run.evidence.scores.find((s) => s.name === 'answer_quality')!;
    expect(aq.n).toBe(run.roots.length);
    expect(aq.mean!).toBeCloseTo(mean(run.roots.map((r) => r.scores.answer_quality)), 9);
  });

  it('plans a dataset route for the returns/refunds cohort before the agent route for lookup_order', () => {
    const d = run.diagnosis;
    const dataset = indexOf(d, covers('dataset', `topic:Task=${RETURNS}`));
    const tool = indexOf(d, (r) => r.id === 'agent:tool:lookup_order');
    expect(dataset, ids(d).join('\n')).toBeGreaterThanOrEqual(0);
    expect(tool, ids(d).join('\n')).toBeGreaterThanOrEqual(0);
    expect(dataset).toBeLessThan(tool);
    expect(d.routes[dataset]!.artifact).toBe('dataset');
    // One failure, several lenses: the returns topic, the escalation category and the deflection label are one route.
    expect(d.routes[dataset]!.targets.map((t) => t.name)).toEqual(expect.arrayContaining([`topic:Task=${RETURNS}`, 'metadata:category=escalation']));
    expect(d.routes[tool]!.targets[0]).toEqual({ kind: 'tool', name: 'lookup_order' });
    expect(d.routes.filter((r) => r.artifact === 'dataset')).toHaveLength(2);
    expect(d.routes.filter((r) => r.artifact === 'agent')).toHaveLength(2);
    // Scorers are healthy and the traces are complete: nothing to measure or instrument first.
    expect(d.routes.filter((r) => r.artifact === 'measurement' || r.artifact === 'instrumentation')).toEqual([]);
    expect(d.lowConfidence).toBe(false);
    // Every dataset route precedes every agent route.
    const lastDataset = Math.max(...d.routes.map((r, i) => (r.artifact === 'dataset' ? i : -1)));
    const firstAgent = indexOf(d, (r) => r.artifact === 'agent');
    expect(lastDataset).toBeLessThan(firstAgent);
  });

  it('cohorts come from Topics labels, metadata and tags: never raw facet text, never no_match', () => {
    const cs = run.evidence.cohorts;
    expect(cs.some((c) => c.dimension === 'facet')).toBe(false);
    expect(cs.some((c) => c.value === 'no_match')).toBe(false);
    const texts = new Set(run.roots.flatMap((r) => Object.values(r.facets ?? {})));
    expect(cs.some((c) => texts.has(c.value))).toBe(false);
    const topics = cs.filter((c) => c.dimension === 'topic');
    expect(new Set(topics.map((c) => c.key))).toEqual(new Set(['Task', 'Sentiment', 'Issues']));
    // Issues: only traces with a problem carry a label, so the cohort counts exactly those.
    const deflected = topics.find((c) => c.key === 'Issues' && c.value === 'Deflected to human support')!;
    expect(deflected.traffic).toBe(run.roots.filter((r) => r.classifications?.Issues?.[0]?.label === 'Deflected to human support').length);
    expect(cs.some((c) => c.dimension === 'tag' && c.value.startsWith('tier:'))).toBe(true);
    expect(cs.some((c) => c.dimension === 'metadata' && c.key === 'category')).toBe(true);
    // Tokens come from the LLM spans (the root carries none).
    const llmTokens = run.spans.filter((r) => r.span_attributes?.type === 'llm').reduce((a, r) => a + r.metrics.tokens, 0);
    expect(run.evidence.performance!.totalTokens).toBe(llmTokens);
  });

  it('the returns finding cites its counts, the window and example traces of that cohort', () => {
    const f = run.diagnosis.findings.find((x) => x.id === `coverage:topic:Task=${RETURNS}`)!;
    expect(f).toBeDefined();
    const cohort = run.roots.filter((r) => r.classifications?.Task?.[0]?.label === RETURNS);
    expect(f.counts.traffic).toBe(cohort.length);
    expect(f.counts.dataset_rows).toBe(0);
    expect(f.counts.mean_score!).toBeCloseTo(mean(cohort.map((r) => r.scores.answer_quality)), 9);
    expect(f.window).toEqual({ from: run.evidence.window.from, to: run.evidence.window.to, days: 7 });
    expect(f.exampleTraceIds.length).toBeGreaterThan(0);
    const byTrace = new Map(cohort.map((r) => [r.root_span_id as string, r]));
    for (const id of f.exampleTraceIds) {
      const root = byTrace.get(id);
      expect(root, `example ${id} is not a returns trace in the window`).toBeDefined();
      expect(root!.scores.answer_quality).toBeLessThanOrEqual(0.5);
    }
    const route = run.diagnosis.routes.find(covers('dataset', `topic:Task=${RETURNS}`))!;
    expect(route.findingIds).toContain(f.id);
    expect(route.evidence.join('\n')).toContain(windowText(run.evidence.window));
    expect(route.evidence.join('\n')).toContain(`(${cohort.length} traces)`);
    expect(route.evidence.join('\n')).toContain(f.exampleTraceIds[0]!);
  });

  it('the lookup_order finding cites error and call counts from the window and failing traces', () => {
    const f = run.diagnosis.findings.find((x) => x.id === 'reliability:tool:lookup_order')!;
    expect(f).toBeDefined();
    const calls = run.spans.filter((r) => r.span_attributes?.name === 'lookup_order');
    const errors = calls.filter((r) => r.error != null);
    expect(errors.length).toBeGreaterThan(0);
    expect(f.counts).toEqual({ errors: errors.length, calls: calls.length });
    expect(f.detail).toContain(`${errors.length} errors in ${calls.length} calls`);
    expect(f.window.days).toBe(7);
    const failing = new Set(errors.map((r) => r.root_span_id));
    expect(f.exampleTraceIds.length).toBeGreaterThan(0);
    for (const id of f.exampleTraceIds) expect(failing.has(id), `example ${id} has no lookup_order error`).toBe(true);
    const route = run.diagnosis.routes.find((r) => r.id === 'agent:tool:lookup_order')!;
    expect(route.evidence.join('\n')).toContain(windowText(run.evidence.window));
  });

  it('example traces carry Braintrust trace URLs and were drilled into (span trees saved)', () => {
    const { ctx, evidence } = run;
    expect(evidence.examples.length).toBeGreaterThan(0);
    const spansPerTrace = new Map<string, number>();
    for (const r of run.data.rows) spansPerTrace.set(r.root_span_id, (spansPerTrace.get(r.root_span_id) ?? 0) + 1);
    for (const e of evidence.examples) {
      expect(e.url).toBe(traceUrl(ctx.appUrl, ctx.org, ctx.project.name, e.traceId));
      expect(e.url.startsWith(`${run.server.appUrl}/app/local/p/${PROJECT}/r/`)).toBe(true);
      // The span tree is read, not just counted: its tool calls and errors are the trace's own (from the jsonl).
      const own = run.data.rows.filter((r) => r.root_span_id === e.traceId);
      expect(e.spanTree!.spans).toBe(spansPerTrace.get(e.traceId));
      expect(e.note!.startsWith(`${spansPerTrace.get(e.traceId)} spans; `)).toBe(true);
      expect([...e.spanTree!.toolSequence].sort()).toEqual(own.filter((r) => r.span_attributes?.type === 'tool').map((r) => String(r.span_attributes.name)).sort());
      expect(e.spanTree!.errorSpans).toHaveLength(own.filter((r) => r.error !== null && r.error !== undefined && r.error !== '').length);
      const file = join(phaseDir(ctx.runDir, '', 1, 'discover'), 'traces', `${e.traceId}.json`);
      expect(existsSync(file), file).toBe(true);
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { items?: Array<{ root_span_id?: string }> };
      expect(saved.items?.length).toBe(spansPerTrace.get(e.traceId));
    }
    // The lookup_order failure is among the drilled examples, with its URL.
    const toolExample = evidence.examples.find((e) => e.reason === 'tool error: lookup_order');
    expect(toolExample).toBeDefined();
    const f = run.diagnosis.findings.find((x) => x.id === 'reliability:tool:lookup_order')!;
    expect(f.exampleTraceIds).toContain(toolExample!.traceId);
    // Every finding's example ids resolve to URLs of real traces of the project.
    for (const finding of run.diagnosis.findings) {
      for (const id of finding.exampleTraceIds) {
        expect(spansPerTrace.has(id), `${finding.id} cites unknown trace ${id}`).toBe(true);
        expect(traceUrl(ctx.appUrl, ctx.org, ctx.project.name, id)).toMatch(new RegExp(`/r/${id}$`));
      }
    }
  });
});

describe('stuck-scorer: answer_quality logged as 1 for every trace', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runVariant('stuck-scorer', 2000);
  });
  afterAll(() => dispose(run));

  it('the measurement route for answer_quality comes first', () => {
    const first = run.diagnosis.routes[0]!;
    expect(first.id, ids(run.diagnosis).join('\n')).toBe('measurement:score:answer_quality');
    expect(first.artifact).toBe('measurement');
    expect(first.targets).toEqual([{ kind: 'score', name: 'answer_quality' }]);
    const health = run.diagnosis.scorerHealth.find((h) => h.score === 'answer_quality')!;
    expect(health).toMatchObject({ healthy: false, problem: 'stuck_one', n: run.roots.length });
    const f = run.diagnosis.findings.find((x) => x.id === 'quality:answer_quality:stuck_one')!;
    expect(f.counts).toMatchObject({ n: run.roots.length, share_one: 1, distinct_values: 1 });
    expect(run.roots.every((r) => r.scores.answer_quality === 1)).toBe(true);
  });

  it('no agent route targets answer_quality (or a cohort judged by it)', () => {
    const agent = run.diagnosis.routes.filter((r) => r.artifact === 'agent');
    for (const r of agent) {
      expect(r.targets.some((t) => t.kind === 'score' && t.name === 'answer_quality'), r.id).toBe(false);
      expect(r.targets.some((t) => t.kind === 'cohort'), r.id).toBe(false);
      expect(r.id).not.toMatch(/answer_quality/);
    }
    // The tool failures are independent of the broken scorer: still the agent's.
    expect(ids(run.diagnosis)).toContain('agent:tool:lookup_order');
    // The other scorers are healthy.
    expect(run.diagnosis.routes.filter((r) => r.artifact === 'measurement')).toHaveLength(1);
  });
});

describe('instrumentation-gap: agent 1.5.0 stopped logging root output and scores (last 10 days)', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runVariant('instrumentation-gap', 2000);
  });
  afterAll(() => dispose(run));

  it('an instrumentation route comes before any dataset or agent route', () => {
    const d = run.diagnosis;
    const firstIns = indexOf(d, (r) => r.artifact === 'instrumentation');
    const firstFix = indexOf(d, (r) => r.artifact === 'dataset' || r.artifact === 'agent');
    expect(firstIns, ids(d).join('\n')).toBeGreaterThanOrEqual(0);
    if (firstFix >= 0) expect(firstIns).toBeLessThan(firstFix);
  });

  it('the root input/output finding counts the roots without output in the window', () => {
    const route = run.diagnosis.routes.find((r) => r.id === 'instrumentation:root_io')!;
    expect(route).toBeDefined();
    expect(route.targets).toEqual([{ kind: 'span_field', name: 'output' }]);
    const f = run.diagnosis.findings.find((x) => x.id === 'instrumentation:root_io')!;
    const noOutput = run.roots.filter((r) => r.output == null);
    expect(noOutput.length).toBe(run.roots.length); // the gap covers the whole 7-day window
    expect(f.counts).toEqual({ root_spans: run.roots.length, missing_input: 0, missing_output: noOutput.length });
    const noOut = new Set(noOutput.map((r) => r.root_span_id));
    for (const id of f.exampleTraceIds) expect(noOut.has(id)).toBe(true);
    expect(run.roots.every((r) => r.metadata.agent_version === '1.5.0' && r.scores === null)).toBe(true);
  });

  it('discover reports the score columns that disappeared with the gap (older data still has them)', () => {
    const stale = run.evidence.instrumentation.staleScoreColumns;
    expect(stale.map((s) => s.name)).toEqual(['answer_quality', 'correct_category', 'no_tool_error']);
    const lastScored = Math.max(
      ...run.data.rows.filter((r) => r.is_root && r.scores !== null && run.data.inWindow(r, 30)).map((r) => Date.parse(r.created)),
    );
    for (const s of stale) {
      expect(s.likelyRenamedTo).toBeNull();
      expect(Date.parse(s.lastSeen!)).toBeLessThanOrEqual(lastScored);
    }
    expect(ids(run.diagnosis)).toContain('instrumentation:renamed_scores');
  });

  // Regression test: orient once took the score columns from a 1-day sample inside the gap,
  // so ctx.scoreColumns was [] and diagnose planned `measurement:unmeasured` ("add a scorer") first —
  // although the project has scorers that stopped being logged. The plan must start with instrumentation.
  it('does not ask for a new scorer when the existing scores stopped being logged', () => {
    expect(run.ctx.scoreColumns).toEqual(['answer_quality', 'correct_category', 'no_tool_error']);
    expect(run.diagnosis.routes[0]!.artifact, run.diagnosis.routes.map((r) => `${r.id}: ${r.evidence[0]}`).join('\n')).toBe('instrumentation');
  });
});

describe('low-traffic: 0.4% of the traces in the last 7 days', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runVariant('low-traffic', 1500);
  });
  afterAll(() => dispose(run));

  it('widens the window from 7 to 30 days and says so', () => {
    const recent = new Set(run.data.rows.filter((r) => run.data.inWindow(r, 7)).map((r) => r.root_span_id));
    expect(recent.size).toBeLessThan(LOW_TRAFFIC_TRACES);
    expectWindow(run, 30);
    expect(run.evidence.window.widenedFrom).toBe(7);
    expect(run.evidence.window.widenedReason).toBe(`only ${recent.size} traces in 7 days (< ${LOW_TRAFFIC_TRACES})`);
    expect(run.evidence.traffic.traces).toBe(new Set(run.spans.map((r) => r.root_span_id)).size);
    const note = run.diagnosis.notes.find((n) => n.startsWith('window widened from 7 to 30 days'));
    expect(note, run.diagnosis.notes.join('\n')).toBeDefined();
    expect(note).toContain(`${run.evidence.traffic.traces} traces in the widened window`);
  });

  it('with enough traffic in the widened window the plan is confident and finds the planted defects', () => {
    expect(run.evidence.traffic.traces).toBeGreaterThan(1000);
    expect(run.diagnosis.lowConfidence).toBe(false);
    const d = run.diagnosis;
    const dataset = indexOf(d, covers('dataset', `topic:Task=${RETURNS}`));
    const tool = indexOf(d, (r) => r.id === 'agent:tool:lookup_order');
    expect(dataset).toBeGreaterThanOrEqual(0);
    expect(dataset).toBeLessThan(tool);
    for (const f of d.findings) expect(f.window.days).toBe(30);
  });
});

describe('low-traffic, thin: 20 traces in 30 days', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runVariant('low-traffic', 20);
  });
  afterAll(() => dispose(run));

  it('widens, and every route is low confidence with the thin evidence named', () => {
    expect(run.evidence.window.widenedFrom).toBe(7);
    expect(run.evidence.window.days).toBe(30);
    expect(run.evidence.traffic.traces).toBe(20);
    expect(run.evidence.traffic.lowTraffic).toBe(true);
    const d = run.diagnosis;
    expect(d.lowConfidence).toBe(true);
    expect(d.notes.some((n) => n.startsWith('window widened from 7 to 30 days'))).toBe(true);
    expect(d.notes.some((n) => n.startsWith('low confidence: only 20 root traces'))).toBe(true);
    expect(d.routes.length).toBeGreaterThan(0);
    for (const r of d.routes) {
      expect(r.confidence, r.id).toBe('low');
      expect(r.counterevidence.join('\n'), r.id).toMatch(/thin evidence: only 20 root traces|too little evidence/);
    }
  });
});

describe('healthy: the fixed agent with realistic noise', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runVariant('healthy', 2000);
  });
  afterAll(() => dispose(run));

  it('plans a single `none` route', () => {
    const d = run.diagnosis;
    expect(ids(d)).toEqual(['none:healthy']);
    expect(d.routes[0]!.artifact).toBe('none');
    expect(d.lowConfidence).toBe(false);
    expect(d.scorerHealth.every((h) => h.healthy)).toBe(true);
    expect(d.routes[0]!.evidence[0]).toBe(`${run.evidence.traffic.traces} root traces in the ${windowText(run.evidence.window)}`);
    expect(run.evidence.traffic.traces).toBe(new Set(run.spans.map((r) => r.root_span_id)).size);
  });

  it('sees no change point: one agent version and one model throughout', () => {
    expect(run.evidence.performancePlane!.dimensions).toContain('metadata.agent_version');
    expect(run.evidence.performancePlane!.changes).toEqual([]);
    expect(run.diagnosis.findings.some((f) => f.plane === 'performance' && f.severity !== 'info')).toBe(false);
  });
});

describe(`slow-release: healthy production, then release ${SLOW_RELEASE_VERSION} is several times slower and costlier`, () => {
  let run: Run;
  beforeAll(async () => {
    run = await runVariant('slow-release', 2000);
  });
  afterAll(() => dispose(run));

  const label = `metadata.agent_version=${SLOW_RELEASE_VERSION}`;

  it('plans one agent route naming the release, and nothing else', () => {
    expect(ids(run.diagnosis)).toEqual([`agent:performance:${label}`]);
    const route = run.diagnosis.routes[0]!;
    expect(route.artifact).toBe('agent');
    expect(route.targets).toEqual([{ kind: 'change', name: label }]);
    expect(route.evidence.join('\n')).toContain(windowText(run.evidence.window));
    expect(run.diagnosis.lowConfidence).toBe(false);
  });

  it('the finding cites before/after counts, latency and tokens that match the generated traces', () => {
    const f = run.diagnosis.findings.find((x) => x.id === `performance:change:${label}`)!;
    expect(f, run.diagnosis.findings.map((x) => x.id).join('\n')).toBeDefined();
    expect(f.plane).toBe('performance');
    expect(f.title).toContain(label);
    const releaseRoots = run.roots.filter((r) => r.metadata.agent_version === SLOW_RELEASE_VERSION);
    const changeAt = Math.min(...releaseRoots.map((r) => Date.parse(r.created)));
    const before = run.roots.filter((r) => Date.parse(r.created) < changeAt);
    expect(f.counts.traces_after).toBe(releaseRoots.length);
    expect(f.counts.traces_before).toBe(before.length);
    const p50 = (rs: typeof run.roots) => percentile(rs.map((r) => (r.metrics.end - r.metrics.start) * 1000).sort((a, b) => a - b), 0.5)!;
    expect(f.counts.p50_latency_ms_before).toBeCloseTo(p50(before), 3);
    expect(f.counts.p50_latency_ms_after).toBeCloseTo(p50(releaseRoots), 3);
    expect(f.counts.p50_latency_ratio!).toBeGreaterThan(3);
    const tokensOf = (rs: typeof run.roots) => {
      const ids = new Set(rs.map((r) => r.root_span_id));
      return run.spans.filter((s) => s.span_attributes?.type === 'llm' && ids.has(s.root_span_id)).reduce((a, s) => a + s.metrics.tokens, 0) / rs.length;
    };
    expect(f.counts.mean_tokens_before).toBeCloseTo(tokensOf(before), 6);
    expect(f.counts.mean_tokens_after).toBeCloseTo(tokensOf(releaseRoots), 6);
    expect(f.counts.cost_ratio!).toBeGreaterThan(1.5);
    // Quality unchanged across the release.
    expect(Math.abs(f.counts.mean_score_after! - f.counts.mean_score_before!)).toBeLessThan(0.05);
    // Examples are the release's slowest traces in the window.
    const byId = new Map(releaseRoots.map((r) => [r.root_span_id as string, r]));
    expect(f.exampleTraceIds.length).toBeGreaterThan(0);
    for (const id of f.exampleTraceIds) expect(byId.has(id), `${id} is not a ${SLOW_RELEASE_VERSION} trace in the window`).toBe(true);
    const slowest = Math.max(...releaseRoots.map((r) => r.metrics.end - r.metrics.start));
    const first = byId.get(f.exampleTraceIds[0]!)!;
    expect(first.metrics.end - first.metrics.start).toBe(slowest);
  });

  it('the evidence holds statistics and a file reference, not rows', () => {
    const plane = run.evidence.performancePlane!;
    expect(plane.sample.traces).toBe(run.roots.length);
    expect(plane.rowsFile!.rows).toBe(run.roots.length);
    expect(existsSync(plane.rowsFile!.path)).toBe(true);
    expect(JSON.stringify(plane).length).toBeLessThan(10_000);
  });

  it('drills into the slowest release trace and a typical one from before (span trees saved)', () => {
    const f = run.diagnosis.findings.find((x) => x.id === `performance:change:${label}`)!;
    const slowest = run.evidence.examples.find((e) => e.reason === `slowest trace with ${label}`)!;
    expect(slowest.traceId).toBe(f.exampleTraceIds[0]);
    const typical = run.evidence.examples.find((e) => e.reason === `typical trace before ${label}`)!;
    expect(run.roots.find((r) => r.root_span_id === typical.traceId)!.metadata.agent_version).not.toBe(SLOW_RELEASE_VERSION);
    for (const e of [slowest, typical]) expect(existsSync(join(phaseDir(run.ctx.runDir, '', 1, 'discover'), 'traces', `${e.traceId}.json`))).toBe(true);
  });
});
