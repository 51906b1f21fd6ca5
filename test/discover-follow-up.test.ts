// Discover's follow-up pass (src/activities/discover/follow-up.ts):
// - its pure judgements on tables of counts (confirm / refute / inconclusive), the MATCH term it derives from trace
//   text, and the candidates it picks (capped);
// - on the real parts: discover() through the real `bt` against the local server seeded with the example's defective
//   traffic — the pass stays within its bounds, its checks cite lines of queries.jsonl, and Diagnose puts what it found
//   into the routes as evidence and counterevidence.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flywheelInputSchema } from '../schemas/flywheel-input.js';
import { discover, type QueryLogEntry } from '../src/activities/discover.js';
import {
  FOLLOW_UP_CANDIDATES,
  FOLLOW_UP_QUERIES_PER_CANDIDATE,
  FOLLOW_UP_TRACES,
  commonOpening,
  judgeChangeTrees,
  judgeErrorShape,
  judgeLowText,
  judgeOutputs,
  judgeSpanTrees,
  matchTerm,
  overallVerdict,
  pickCandidates,
} from '../src/activities/discover/follow-up.js';
import { createActivities } from '../src/activities/index.js';
import { BtClient } from '../src/bt/client.js';
import { clockFromEnv } from '../src/clock.js';
import { startLocalServer, type LocalServerHandle } from '../src/local-server/index.js';
import { diagnose } from '../src/workflows/logic/diagnose.js';
import type { CohortStats, DiscoverEvidence, SpanTreeSummary } from '../src/workflows/logic/evidence.js';
import type { OrientContext } from '../src/workflows/types.js';
import { btEnvFor, EXAMPLE_DIR, generateAtFixedClock } from './support/example-window.js';

describe('follow-up judgements (pure)', () => {
  it.each([
    // matched, inside, backend → verdict
    [{ matched: 4, inside: 4, backend: false }, 'inconclusive'],
    [{ matched: 75, inside: 75, backend: false }, 'confirms'],
    [{ matched: 100, inside: 85, backend: false }, 'confirms'],
    [{ matched: 100, inside: 70, backend: false }, 'inconclusive'],
    [{ matched: 100, inside: 50, backend: false }, 'refutes'],
    [{ matched: 40, inside: 10, backend: false }, 'refutes'],
    [{ matched: 30, inside: 30, backend: true }, 'refutes'],
  ] as const)('error shape %j → %s', (counts, verdict) => {
    expect(judgeErrorShape(counts).verdict).toBe(verdict);
  });

  it.each([
    // matched, inside, low, insideLow → verdict
    [{ matched: 3, inside: 3, low: 3, insideLow: 3 }, 'inconclusive'],
    [{ matched: 100, inside: 90, low: 95, insideLow: 88 }, 'confirms'],
    [{ matched: 100, inside: 90, low: 30, insideLow: 28 }, 'refutes'],
    [{ matched: 100, inside: 30, low: 90, insideLow: 28 }, 'refutes'],
    [{ matched: 100, inside: 60, low: 80, insideLow: 50 }, 'inconclusive'],
  ] as const)('low-score text %j → %s', (counts, verdict) => {
    expect(judgeLowText(counts).verdict).toBe(verdict);
  });

  it.each([
    [{ sampled: 2, emptyOrErrored: 2 }, 'inconclusive'],
    [{ sampled: 20, emptyOrErrored: 12 }, 'refutes'],
    [{ sampled: 20, emptyOrErrored: 0 }, 'confirms'],
    [{ sampled: 20, emptyOrErrored: 2 }, 'confirms'],
    [{ sampled: 20, emptyOrErrored: 5 }, 'inconclusive'],
  ] as const)('outputs %j → %s', (counts, verdict) => {
    expect(judgeOutputs(counts).verdict).toBe(verdict);
  });

  const tree = (over: Partial<SpanTreeSummary> = {}): SpanTreeSummary => ({ spans: 6, toolSequence: ['lookup_order'], repeatedTools: [], errorSpans: [], emptyOutputs: 0, refusal: false, ...over });
  it('span trees: refusals, repeated tools and error spans confirm; only empty outputs refute', () => {
    expect(judgeSpanTrees([])).toBe('inconclusive');
    expect(judgeSpanTrees([tree()])).toBe('inconclusive');
    expect(judgeSpanTrees([tree({ refusal: true })])).toBe('confirms');
    expect(judgeSpanTrees([tree({ repeatedTools: [{ tool: 'search', calls: 3 }] })])).toBe('confirms');
    expect(judgeSpanTrees([tree({ errorSpans: ['lookup_order'] })])).toBe('confirms');
    expect(judgeSpanTrees([tree({ emptyOutputs: 1 }), tree({ emptyOutputs: 2 })])).toBe('refutes');
    expect(judgeChangeTrees(tree({ spans: 14 }), tree()).verdict).toBe('confirms');
    expect(judgeChangeTrees(tree({ repeatedTools: [{ tool: 'lookup_order', calls: 4 }] }), tree()).verdict).toBe('confirms');
    expect(judgeChangeTrees(tree({ spans: 7 }), tree()).why).toMatch(/same steps/);
  });

  it('overall: any refutation wins, then any confirmation', () => {
    expect(overallVerdict([])).toBe('inconclusive');
    expect(overallVerdict([{ verdict: 'confirms' }, { verdict: 'inconclusive' }])).toBe('confirms');
    expect(overallVerdict([{ verdict: 'confirms' }, { verdict: 'refutes' }])).toBe('refutes');
  });

  it('MATCH terms are words only: masked values, numbers, short words and SQL punctuation dropped', () => {
    expect(matchTerm('OrderLookupError: lookup_order failed: invalid order id "…" (expected format ORD-#)')).toBe('orderlookuperror lookup_order failed invalid');
    expect(matchTerm("x') OR 1=1 -- drop")).toBe(null);
    expect(matchTerm("it's a trap'); DROP TABLE logs; --")).toBe('trap drop table logs');
    expect(matchTerm('C:\\temp\\new file')).toBe('temp new file');
    expect(matchTerm('42')).toBe(null);
  });

  it('the common opening of failing answers is shared by ≥ 30% of them, or none', () => {
    const sorry = { answer: "I'm sorry, I can't resolve this here. Please contact our support team." };
    expect(commonOpening([sorry, sorry, { answer: 'Your order shipped yesterday.' }, null])).toBe('sorry can resolve this');
    expect(commonOpening(['one two three four', 'five six seven eight', 'nine ten eleven twelve', 'aaa bbb ccc ddd'])).toBe(null);
  });

  it('picks failing tools (else the top error shape), sizeable failing cohorts and the first change point, capped', () => {
    const cohort = (value: string, traffic: number): CohortStats => ({
      dimension: 'metadata', key: 'category', value, traffic, trafficShare: traffic / 1000, score: 'q', meanScore: 0.2, lowScoreShare: 0.8,
      datasetRows: 0, datasetShare: 0, exampleTraceIds: [`${value}-1`], query: 'q',
    });
    const tools = [
      { tool: 'a', errors: 2, exampleTraceIds: [] },
      { tool: 'b', errors: 30, exampleTraceIds: [] },
      { tool: 'c', errors: 30, exampleTraceIds: [] },
      { tool: 'd', errors: 50, exampleTraceIds: [] },
    ];
    const groups = [{ message: 'Timeout calling tool #', count: 9, exampleTraceIds: [] }];
    const cohorts = [cohort('tiny', 3), cohort('escalation', 200), cohort('returns', 150), cohort('billing', 100)];
    const picked = pickCandidates({ toolErrors: tools, errorGroups: groups, worstCohorts: cohorts, performancePlane: null, examples: [] }, 1000, true);
    expect(picked.map((c) => (c.kind === 'tool' ? c.tool.tool : c.kind === 'cohort' ? c.cohort.value : c.kind))).toEqual(['d', 'b', 'escalation', 'returns']);
    expect(picked.length).toBeLessThanOrEqual(FOLLOW_UP_CANDIDATES);
    const noTools = pickCandidates({ toolErrors: [], errorGroups: groups, worstCohorts: [], performancePlane: null, examples: [] }, 1000, false);
    expect(noTools).toEqual([{ kind: 'error', group: groups[0] }]);
  });
});

// ---- On the real parts

const PROJECT = 'support-agent';
const now = clockFromEnv(process.env)();
let home: string;
let server: LocalServerHandle;
let env: Record<string, string>;
let ctx: OrientContext;
let evidence: DiscoverEvidence;
let log: QueryLogEntry[];
let viewTraces = 0;

class CountingBt extends BtClient {
  override async viewTrace(...args: Parameters<BtClient['viewTrace']>) {
    viewTraces++;
    return super.viewTrace(...args);
  }
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'discover-follow-up-'));
  server = await startLocalServer({ port: 0, dataFile: join(home, 'bt.duckdb') });
  env = btEnvFor(server.btEnv(), home);
  const data = await generateAtFixedClock({ outDir: join(home, 'sync'), projectName: PROJECT, variant: 'defective', traces: 800, seed: 42 });
  await server.seedFromSyncDir(data.gen.dir, { projectName: PROJECT });
  const activities = createActivities({ btEnv: env, appUrl: server.appUrl });
  const config = flywheelInputSchema.parse({ project: PROJECT, agentDir: EXAMPLE_DIR, workOnCopy: false, outDir: join(home, 'out'), runsDir: join(home, 'runs') });
  ctx = await activities.orient(config, 'discover-follow-up');
  const dir = join(home, 'run');
  evidence = await discover(new CountingBt({ env, cwd: home }), { ctx, goal: 'g', windowDays: 7, iteration: 1, dir, now });
  log = readFileSync(join(dir, 'queries.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as QueryLogEntry);
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('the follow-up pass on the defective example', () => {
  it('prints', () => {
    console.log(JSON.stringify(evidence.followUp, null, 1));
    const d = diagnose(evidence, { binaryScores: ctx.binaryScores, ...(ctx.primaryScore ? { primaryScore: ctx.primaryScore } : {}) });
    console.log(JSON.stringify(d.routes.map((r) => ({ id: r.id, ev: r.evidence, ce: r.counterevidence })), null, 1));
    console.log(log.filter((e) => e.plane === 'follow-up').map((e) => e.query).join('\n'), viewTraces);
    expect(FOLLOW_UP_QUERIES_PER_CANDIDATE + FOLLOW_UP_TRACES).toBeGreaterThan(0);
  });
});
