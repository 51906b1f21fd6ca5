// Discover's follow-up pass (src/activities/discover/follow-up.ts):
// - its pure judgements on tables of counts (confirm / refute / inconclusive), the MATCH term it derives from trace
//   text, and the candidates it picks (capped);
// - on the real parts: discover() through the real `bt` against the local server seeded with the example's defective
//   traffic — the pass stays within its bounds, its checks cite lines of queries.jsonl, and Diagnose puts what it found
//   into the routes as evidence and counterevidence.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { BtClient } from '../src/bt/client.js';
import { clockFromEnv } from '../src/clock.js';
import { buildSummary, renderNarrative, validateSummary, type HandoffInput } from '../src/handoff/index.js';
import type { LocalServerHandle } from '../src/local-server/index.js';
import { mdCode } from '../src/untrusted.js';
import { apiClient } from './support/local-server-bt.js';
import { diagnose } from '../src/workflows/logic/diagnose.js';
import type { CohortStats, DiscoverEvidence, SpanTreeSummary } from '../src/workflows/logic/evidence.js';
import type { OrientContext } from '../src/workflows/types.js';
import { seedDefectiveExample, type SeededExample } from './support/seeded-example.js';

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

let seeded: SeededExample | undefined;

beforeAll(async () => {
  seeded = await seedDefectiveExample({ prefix: 'discover-follow-up', workflowId: 'discover-follow-up', project: PROJECT });
  ({ home, server, env, ctx } = seeded);
  const dir = join(home, 'run');
  evidence = await discover(new CountingBt({ env, cwd: home }), { ctx, goal: 'g', windowDays: 7, iteration: 1, dir, now });
  log = readFileSync(join(dir, 'queries.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as QueryLogEntry);
}, 300_000);

afterAll(async () => {
  await seeded?.close();
});

const diagnoseFor = (e: DiscoverEvidence, c: OrientContext) => diagnose(e, { binaryScores: c.binaryScores, ...(c.primaryScore ? { primaryScore: c.primaryScore } : {}) });
const followUpLog = (l: QueryLogEntry[]) => l.filter((e) => e.plane === 'follow-up');

describe('the follow-up pass on the defective example', () => {
  it('stays within its bounds: candidates, queries per candidate, new full traces', () => {
    const f = evidence.followUp!;
    expect(f.length).toBeGreaterThan(0);
    expect(f.length).toBeLessThanOrEqual(FOLLOW_UP_CANDIDATES);
    expect(followUpLog(log).length).toBeLessThanOrEqual(f.length * FOLLOW_UP_QUERIES_PER_CANDIDATE);
    // The drill-in reads at most 6 traces; the follow-up at most FOLLOW_UP_TRACES more.
    expect(viewTraces).toBeLessThanOrEqual(evidence.examples.length + FOLLOW_UP_TRACES);
    // The follow-up queries are the last lines of the log, after the battery's.
    expect(log.slice(-followUpLog(log).length).every((e) => e.plane === 'follow-up')).toBe(true);
  });

  it('each check cites its query as a line of queries.jsonl, and searches with MATCH on words only', () => {
    for (const f of evidence.followUp!) {
      for (const c of f.checks) {
        if (c.kind === 'span_trees') continue;
        const line = Number(/^queries\.jsonl#(\d+)$/.exec(c.queryRef ?? '')?.[1]);
        const entry = log[line - 1]!;
        expect(entry.plane).toBe('follow-up');
        if (c.term) {
          expect(c.term).toMatch(/^[\p{L}\p{N}_ ]+$/u);
          expect(entry.query).toContain(`MATCH '${c.term}'`);
        }
      }
    }
    // The evidence carries refs, not the query texts again.
    expect(JSON.stringify(evidence.followUp)).not.toContain('SELECT');
  });

  it('confirms the failing tool: its error shape is in its own calls and nowhere else', () => {
    const tool = evidence.followUp!.find((f) => f.target.kind === 'tool' && f.target.name === 'lookup_order')!;
    const shape = tool.checks.find((c) => c.kind === 'error_shape')!;
    const stat = evidence.reliability.toolErrors.find((t) => t.tool === 'lookup_order')!;
    // Every lookup_order error has the one shape; MATCH on its words finds exactly those spans.
    expect(shape.counts.matched).toBe(stat.errors);
    expect(shape.counts.inside).toBe(stat.errors);
    expect(shape.verdict).toBe('confirms');
    expect(tool.checks.find((c) => c.kind === 'span_trees')?.text).toMatch(/errors in: lookup_order/);
  });

  it("confirms the deflected cohort: the handoff answer is the cohort's, and it fails", () => {
    const cohort = evidence.followUp!.find((f) => f.target.name === 'topic:Issues=Deflected to human support')!;
    const text = cohort.checks.find((c) => c.kind === 'low_text')!;
    expect(text.term).toBe('sorry can resolve this');
    expect(text.verdict).toBe('confirms');
    expect(text.counts.inside_low).toBe(text.counts.cohort_low);
    expect(cohort.checks.find((c) => c.kind === 'outputs')!.verdict).toBe('confirms');
  });

  it('Diagnose puts the confirmations into the routes they bear on, and the evidence without follow-up plans as before', () => {
    const d = diagnoseFor(evidence, ctx);
    const route = d.routes.find((r) => r.id === 'agent:tool:lookup_order')!;
    expect(route.followUp?.map((f) => f.target.name)).toContain('lookup_order');
    expect(route.evidence.some((e) => /^follow-up on tool lookup_order, confirms: .*\[queries\.jsonl#\d+\]$/.test(e))).toBe(true);
    const { followUp: _f, ...old } = evidence;
    const before = diagnoseFor(old, ctx);
    expect(before.routes.map((r) => r.id)).toEqual(d.routes.map((r) => r.id));
    for (const r of before.routes) {
      expect(r.followUp).toBeUndefined();
      const now = d.routes.find((x) => x.id === r.id)!;
      expect(now.evidence.slice(0, r.evidence.length)).toEqual(r.evidence);
      expect(now.evidence.slice(r.evidence.length).every((e) => e.startsWith('follow-up on '))).toBe(true);
    }
  });
});

/**
 * A project built to be refuted: search_kb fails in 30% of traces of every category with an upstream timeout (the
 * service, not the arguments), and the "account" cohort scores 0 because its root spans log no output.
 */
function counterRows(projectId: string, at: number): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  const categories = ['billing', 'shipping', 'account'];
  for (let i = 0; i < 120; i++) {
    const root = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const created = new Date(at - (i + 1) * 20 * 60_000).toISOString();
    const category = categories[i % 3]!;
    const failed = i % 10 < 3;
    const base = { root_span_id: root, project_id: projectId, log_id: 'g', created };
    rows.push({
      ...base, id: root, span_id: root,
      input: { question: `question ${i} about ${category}` },
      output: category === 'account' ? null : { answer: `Here is what to do about case ${i}.` },
      scores: { answer_quality: category === 'account' ? 0 : 1 },
      metadata: { category },
      metrics: { start: at / 1000 - (i + 1) * 1200, end: at / 1000 - (i + 1) * 1200 + 2 },
      span_attributes: { name: 'support', type: 'task' },
    });
    rows.push({
      ...base, id: `${root}-tool`, span_id: `${root}-tool`, span_parents: [root],
      input: { query: `case ${i}` },
      output: failed ? null : { hits: 3 },
      error: failed ? 'UpstreamTimeout: search_kb timed out after 10s (upstream unavailable)' : undefined,
      span_attributes: { name: 'search_kb', type: 'tool' },
    });
  }
  return rows;
}

describe('the follow-up pass refutes what the battery suggests (a project built for it)', () => {
  let e2: DiscoverEvidence;
  let c2: OrientContext;
  let dir2: string;
  beforeAll(async () => {
    const api = apiClient(server.apiUrl, server.apiKey);
    const P2 = (await api<{ id: string }>('POST', '/v1/project', { name: 'follow-up-counter' })).id;
    await api('POST', '/logs3', { rows: counterRows(P2, now.getTime()) });
    c2 = {
      ...ctx,
      project: { ...ctx.project, id: P2, name: 'follow-up-counter' },
      scoreColumns: ['answer_quality'], facetColumns: [], topicFacets: [], tagValues: [], metadataKeys: ['category'],
      primaryScore: 'answer_quality', binaryScores: [], evalFiles: [], instructionFiles: [],
    };
    dir2 = join(home, 'run-counter');
    e2 = await discover(new BtClient({ env, cwd: home }), { ctx: c2, goal: 'g', windowDays: 7, iteration: 1, dir: dir2, now });
  }, 300_000);

  it('a route carries the follow-up as evidence and as counterevidence', () => {
    const d = diagnoseFor(e2, c2);
    const tool = d.routes.find((r) => r.id === 'agent:tool:search_kb')!;
    // Concentrated in search_kb, but it reads as the service timing out: counterevidence against "bad arguments".
    expect(tool.counterevidence.some((c) => /^follow-up on tool search_kb, refutes: .*reads as the service failing.*\[queries\.jsonl#\d+\]$/.test(c))).toBe(true);
    // The drilled-into trace shows the error in the tool span: evidence.
    expect(tool.evidence.some((c) => /^follow-up on tool search_kb, confirms: trace \S+: .*errors in: search_kb/.test(c))).toBe(true);
    const check = tool.followUp![0]!.checks.find((c) => c.kind === 'error_shape')!;
    expect(check.counts).toMatchObject({ matched: 36, inside: 36, tool_errors: 36, tool_calls: 120 });

    // The account cohort fails because nothing was logged: instrumentation, not the agent's answers.
    // (Its route is found by target: routes sharing failing traces are folded together.)
    const cohort = d.routes.find((r) => r.targets.some((t) => t.kind === 'cohort' && t.name === 'metadata:category=account'))!;
    expect(cohort.counterevidence.some((c) => /^follow-up on cohort metadata:category=account, refutes: 20 of 20 low-scoring traces read have no output/.test(c))).toBe(true);
    expect(d.routes.some((r) => r.id === 'instrumentation:root_io')).toBe(true);
  });

  it('the handoff shows them per route: summary valid against the schemas, narrative lines with the query refs', async () => {
    const d = diagnoseFor(e2, c2);
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'handoff', 'example-support.handoff-input.json'), 'utf8')) as HandoffInput;
    const summary = buildSummary({ ...fixture, diagnosis: d });
    expect(await validateSummary(summary)).toEqual([]);
    const route = summary.diagnosis!.routes.find((r) => r.id === 'agent:tool:search_kb')!;
    expect(route.follow_up![0]!.verdict).toBe('refutes');
    expect(route.follow_up![0]!.checks.some((c) => c.query_ref?.startsWith('queries.jsonl#'))).toBe(true);
    expect(route.follow_up![0]!.checks.flatMap((c) => c.traces).every((t) => t.url.includes(t.trace_id))).toBe(true);
    const md = renderNarrative(summary);
    expect(md).toContain(`_Follow-up on tool ${mdCode('search_kb')}: refutes_`);
    expect(md).toMatch(/ {5}- refutes: .*search\\_kb.*searched for `upstreamtimeout search_kb timed out` \(`queries\.jsonl#\d+`\)/);
  });
});
