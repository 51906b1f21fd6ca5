/**
 * Which answers a gate takes: the one rule used by the workflow's Update validators (the authority: a rejected
 * answer never enters history) and by the CLI before it sends anything (for a friendlier message). Pure.
 */
/** The kinds of gate (as in definitions.ts; kept here so the logic imports nothing outside logic/). */
export type GateKind = 'plan' | 'write' | 'apply' | 'route';
/** What the rule reads of an open gate (a PendingGate). */
export interface OpenGate {
  id: string;
  kind: GateKind;
  options: string[];
}

export type AnswerKind = 'approve' | 'reject' | 'override' | 'skip' | 'applied';

/** Routes a person may name in `override` (the artifacts of the routing gate). */
export const ARTIFACT_ROUTES = ['measurement', 'instrumentation', 'dataset', 'agent'] as const;

/** Which gate kinds each answer applies to (what the workflow acts on). */
export const ANSWERS_FOR: Record<AnswerKind, GateKind[]> = {
  approve: ['plan', 'write', 'apply', 'route'],
  reject: ['plan', 'write', 'apply', 'route'],
  override: ['plan', 'route'],
  skip: ['plan', 'write'],
  applied: ['apply'],
};

export interface AnswerArgs {
  by?: unknown;
  gateId?: unknown;
  note?: unknown;
  subset?: unknown;
  route?: unknown;
  step?: unknown;
  files?: unknown;
}

/** The most a person may write into a gate record (notes, names): the record lands in history and the handoff. */
const MAX_TEXT = 2_000;

const isText = (v: unknown, max = MAX_TEXT): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isTextList = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 100 && v.every((s) => isText(s, 500));

/**
 * Why `kind` with `args` cannot answer the gate now, or null when it can. `pending` is the open gate (null: none),
 * `closed` the last gate answered (to say who answered it when a second answer arrives).
 */
export function answerProblem(kind: AnswerKind, args: AnswerArgs, pending: OpenGate | null, closed: { id: string; by: string; decision: string } | null): string | null {
  if (!args || typeof args !== 'object') return 'the answer must be an object such as {"by": "alice"}';
  if (!isText(args.by, 200)) return '"by" must name who answers (1–200 characters)';
  if (args.note !== undefined && !isText(args.note)) return `"note" must be text of at most ${MAX_TEXT} characters`;
  if (args.gateId !== undefined && !isText(args.gateId, 200)) return '"gateId" must be a gate id such as plan-1';
  if (!pending) {
    if (closed && (args.gateId === undefined || args.gateId === closed.id)) return `gate ${closed.id} is already answered (${closed.decision} by ${closed.by}); no gate is open`;
    return args.gateId ? `gate ${String(args.gateId)} is not open; no gate is open` : 'no gate is open';
  }
  if (args.gateId !== undefined && args.gateId !== pending.id) {
    const earlier = closed && closed.id === args.gateId ? ` (it was ${closed.decision} by ${closed.by})` : '';
    return `gate ${String(args.gateId)} is not open${earlier}; the open gate is ${pending.id} (${pending.kind})`;
  }
  if (!ANSWERS_FOR[kind].includes(pending.kind)) {
    const usable = (Object.keys(ANSWERS_FOR) as AnswerKind[]).filter((k) => ANSWERS_FOR[k].includes(pending.kind));
    return `${pending.id} is a ${pending.kind} gate, which \`${kind}\` does not answer; use ${[...usable, 'stop'].join(', ')}`;
  }
  const known = pending.options;
  if (kind === 'approve' && args.subset !== undefined) {
    if (pending.kind !== 'plan') return `a subset applies to plan gates; ${pending.id} is a ${pending.kind} gate`;
    if (!isTextList(args.subset) || !args.subset.length) return '"subset" must be a non-empty list of plan step ids';
    const bad = args.subset.filter((s) => !known.includes(s));
    if (bad.length) return `the subset names unknown plan step(s) ${bad.join(', ')}: the plan has ${known.join(', ')}`;
  }
  if (kind === 'override') {
    const allowed = pending.kind === 'route' && known.length ? known : [...new Set([...known, ...ARTIFACT_ROUTES])];
    if (!isText(args.route, 200) || !allowed.includes(args.route)) return `route '${String(args.route ?? '')}' is not an option at ${pending.id}: use one of ${allowed.join(', ')}`;
  }
  if (kind === 'skip') {
    if (!isText(args.step, 200)) return known.length ? `skip needs a step: one of ${known.join(', ')}` : 'skip needs a step';
    if (known.length && !known.includes(args.step)) return `step '${args.step}' is not a step of ${pending.id}: use one of ${known.join(', ')}`;
  }
  if (kind === 'applied' && args.files !== undefined && !isTextList(args.files)) return '"files" must be a list of paths';
  return null;
}
