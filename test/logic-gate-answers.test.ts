/** The gate-answer rule the workflow's Update validators apply (pure, table-tested). */
import { describe, expect, it } from 'vitest';
import type { PendingGate } from '../src/workflows/definitions.js';
import { answerProblem, type AnswerArgs, type AnswerKind } from '../src/workflows/logic/gate-answers.js';

const gate = (over: Partial<PendingGate> = {}): PendingGate => ({
  id: 'plan-1', kind: 'plan', title: 'Plan', detail: '', options: ['dataset:cohort:returns', 'agent:tool:lookup_order'], openedAt: '', timeoutAt: '', ...over,
});
const route = gate({ id: 'route-4', kind: 'route', options: ['measurement', 'instrumentation', 'dataset', 'agent'] });
const apply = gate({ id: 'apply-2', kind: 'apply', options: [] });
const closed = { id: 'plan-1', by: 'alice', decision: 'approved' };

describe('answerProblem', () => {
  it.each<[string, AnswerKind, AnswerArgs, PendingGate | null, typeof closed | null, RegExp | null]>([
    ['approve the open gate', 'approve', { by: 'bob' }, gate(), null, null],
    ['approve naming the open gate', 'approve', { by: 'bob', gateId: 'plan-1' }, gate(), null, null],
    ['approve a subset of plan steps', 'approve', { by: 'bob', subset: ['agent:tool:lookup_order'] }, gate(), null, null],
    ['no "by"', 'approve', {}, gate(), null, /"by" must name who answers/],
    ['"by" not text', 'approve', { by: 7 }, gate(), null, /"by" must name who answers/],
    ['a 3000-character note', 'reject', { by: 'bob', note: 'x'.repeat(3000) }, gate(), null, /"note" must be text of at most 2000/],
    ['no gate open, none before', 'approve', { by: 'bob' }, null, null, /^no gate is open$/],
    ['a second answer to the gate just answered', 'approve', { by: 'mallory', gateId: 'plan-1' }, null, closed, /gate plan-1 is already answered \(approved by alice\)/],
    ['an answer for a gate that never opened', 'approve', { by: 'bob', gateId: 'route-9' }, null, closed, /gate route-9 is not open; no gate is open/],
    ['a stale answer while the next gate is open', 'approve', { by: 'bob', gateId: 'plan-1' }, apply, closed, /gate plan-1 is not open \(it was approved by alice\); the open gate is apply-2 \(apply\)/],
    ['applied at a plan gate', 'applied', { by: 'bob' }, gate(), null, /plan-1 is a plan gate, which `applied` does not answer; use approve, reject, override, skip, stop/],
    ['skip at a route gate', 'skip', { by: 'bob', step: 'x' }, route, null, /route-4 is a route gate, which `skip` does not answer/],
    ['subset at a route gate', 'approve', { by: 'bob', subset: ['agent'] }, route, null, /a subset applies to plan gates/],
    ['unknown subset step', 'approve', { by: 'bob', subset: ['nope'] }, gate(), null, /unknown plan step\(s\) nope/],
    ['empty subset', 'approve', { by: 'bob', subset: [] }, gate(), null, /non-empty list/],
    ['override to an artifact at a plan gate', 'override', { by: 'bob', route: 'dataset' }, gate(), null, null],
    ['override to a plan step at a plan gate', 'override', { by: 'bob', route: 'agent:tool:lookup_order' }, gate(), null, null],
    ['override to a made-up route', 'override', { by: 'bob', route: 'magic' }, route, null, /route 'magic' is not an option at route-4: use one of measurement, instrumentation, dataset, agent/],
    ['override without a route', 'override', { by: 'bob' }, route, null, /route '' is not an option/],
    ['skip a plan step', 'skip', { by: 'bob', step: 'dataset:cohort:returns' }, gate(), null, null],
    ['skip without a step', 'skip', { by: 'bob' }, gate(), null, /skip needs a step: one of dataset:cohort:returns, agent:tool:lookup_order/],
    ['skip an unknown step', 'skip', { by: 'bob', step: 'other' }, gate(), null, /step 'other' is not a step of plan-1/],
    ['applied with files', 'applied', { by: 'bob', files: ['src/a.ts'] }, apply, null, null],
    ['applied with files not a list', 'applied', { by: 'bob', files: 'src/a.ts' }, apply, null, /"files" must be a list of paths/],
  ])('%s', (_name, kind, args, pending, last, expected) => {
    const problem = answerProblem(kind, args, pending, last);
    if (expected) expect(problem).toMatch(expected);
    else expect(problem).toBeNull();
  });
});
