/**
 * Seeded, deterministic production traces of the Python travel agent, in the `bt sync pull` layout, plus
 * the team's hand-made dataset (golden_dataset.json) as a project dataset:
 *
 *   <outDir>/project_logs_<projectId>/<hash>/{spec,manifest,state}.json + data/part-000001.jsonl
 *   <outDir>/dataset_<datasetId>/<hash>/{spec,manifest,state}.json + data/part-000001.jsonl
 *
 * The traffic (who asks what, when) is drawn here; the answers come from RUNNING the Python agent on every
 * message (run_batch.py, one process), with the example's online scorers, so the planted defects show up
 * genuinely in scores, tool spans and Topics. Topics data looks like the service's: per-trace free-text
 * summaries in facets.Task / facets.Sentiment / facets.Issues (`no_match` when nothing applies) and the
 * clustered topic in classifications.<Facet>[0].label. Token counts sit on the LLM spans (with the model,
 * so cost can be estimated), latency in metrics.start / metrics.end.
 *
 * CLI: tsx examples/travel-agent/generate-traces.ts --out DIR [--traces N] [--days D] [--seed S]
 *        [--project-name N] [--dataset-name N] [--now ISO] [--python PATH]
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { clockFromEnv } from '../../src/clock.js';
import { mulberry32, pick, uuidFromRng, uuidFromText, weighted } from '../shared/seeded.js';
import { parseFlags, sortKeys, syncPullOrder } from '../shared/sync-order.js';

export const TRAVEL_EXAMPLE_DIR = dirname(fileURLToPath(import.meta.url));
export const GOLDEN_DATASET_NAME = 'travel-agent-golden';
const ORG_ID = uuidFromText('org:bt-flywheel-example');

export interface GenerateTravelTracesOptions {
  outDir: string;
  seed?: number;
  traces?: number;
  days?: number;
  now?: Date;
  projectName?: string;
  datasetName?: string;
  /** Python interpreter for the agent (default: .tools/py/bin/python, else python3). */
  python?: string;
}

export interface GenerateTravelTracesResult {
  /** The directory to seed (holds both spec dirs). */
  dir: string;
  spans: number;
  traces: number;
  datasetRows: number;
}

/** The interpreter the example runs with: the project's .tools/py (has the braintrust SDK) or python3. */
export function examplePython(): string {
  const bundled = resolve(TRAVEL_EXAMPLE_DIR, '..', '..', '.tools', 'py', 'bin', 'python');
  return existsSync(bundled) ? bundled : 'python3';
}

// ---------------------------------------------------------------------------------------------
// Randomness and ids (same scheme as the support-agent generator)

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

// ---------------------------------------------------------------------------------------------
// Traffic model

type Intent = 'booking_change' | 'cancellation' | 'baggage' | 'checkin' | 'loyalty' | 'complaint';

/** Template ids by intent (questions.py holds their text and ground truth). */
const TEMPLATES: Record<Intent, Array<{ id: string; ref: boolean }>> = {
  booking_change: [{ id: 'change.date', ref: false }, { id: 'change.earlier', ref: true }, { id: 'change.reschedule', ref: true }, { id: 'change.seat', ref: false }],
  cancellation: [{ id: 'cancel.booking', ref: true }, { id: 'cancel.refund_booking', ref: true }, { id: 'cancel.trip', ref: false }, { id: 'cancel.policy', ref: false }],
  baggage: [{ id: 'baggage.allowance', ref: false }, { id: 'baggage.add', ref: true }, { id: 'baggage.stroller', ref: false }],
  checkin: [{ id: 'checkin.opens', ref: false }, { id: 'checkin.pass', ref: true }, { id: 'checkin.airport', ref: false }],
  loyalty: [{ id: 'loyalty.missing', ref: false }, { id: 'loyalty.lounge', ref: false }, { id: 'loyalty.upgrade', ref: false }],
  complaint: [{ id: 'complaint.lawyer', ref: false }, { id: 'complaint.chargeback', ref: false }],
};
const TEMPLATE_TEXT: Record<string, string> = {
  'change.date': 'Can I change my flight to a different date?',
  'change.earlier': 'I need to change my flight on booking {ref} to an earlier flight.',
  'change.reschedule': 'How do I reschedule booking {ref}?',
  'change.seat': 'Is it possible to pick a different seat?',
  'cancel.booking': 'How do I cancel booking {ref}?',
  'cancel.refund_booking': 'Can I get a refund for booking {ref}?',
  'cancel.trip': 'I want to cancel my trip next week, what happens to my money?',
  'cancel.policy': 'What is your refund policy for cancelled flights?',
  'baggage.allowance': 'How many bags can I bring on my flight?',
  'baggage.add': 'Can I add a checked suitcase to booking {ref}?',
  'baggage.stroller': 'Is a stroller counted as luggage?',
  'checkin.opens': 'When does online check-in open?',
  'checkin.pass': "I didn't get my boarding pass for booking {ref}.",
  'checkin.airport': 'Can I check in at the airport instead of online?',
  'loyalty.missing': "My miles from last month's flight are missing.",
  'loyalty.lounge': 'How do I get lounge access with my status?',
  'loyalty.upgrade': 'Can I use points for an upgrade?',
  'complaint.lawyer': "I will contact my lawyer if I don't get compensation.",
  'complaint.chargeback': 'I filed a chargeback with my bank.',
};
/** What a Topics summariser writes for the task of each template (free text, varied per trace). */
const TASK_SUMMARY: Record<string, readonly string[]> = {
  'change.date': ['Traveller wants to move their flight to another date', 'Asks whether the travel date can be changed'],
  'change.earlier': ['Traveller wants an earlier flight on booking {ref}', 'Request to switch booking {ref} to an earlier departure'],
  'change.reschedule': ['Asks how to reschedule booking {ref}', 'Wants to rebook {ref} for a later trip'],
  'change.seat': ['Wants to choose a different seat', 'Seat change request'],
  'cancel.booking': ['Traveller wants to cancel booking {ref}', 'Cancellation request for booking {ref}'],
  'cancel.refund_booking': ['Asks for a refund on booking {ref}', 'Wants money back for cancelled booking {ref}'],
  'cancel.trip': ['Cancelling next week\'s trip and asking about the money', 'Wants to cancel an upcoming trip and know what is refunded'],
  'cancel.policy': ['Asks about the refund policy for cancelled flights', 'Question on refunds after a flight cancellation'],
  'baggage.allowance': ['Asks how many bags are included', 'Question about the baggage allowance'],
  'baggage.add': ['Wants to add a checked bag to booking {ref}', 'Adding a suitcase to booking {ref}'],
  'baggage.stroller': ['Asks whether a stroller counts as luggage', 'Travelling with a baby stroller, asks about baggage rules'],
  'checkin.opens': ['Asks when online check-in opens', 'Question about the online check-in window'],
  'checkin.pass': ['Did not receive the boarding pass for booking {ref}', 'Boarding pass missing for {ref}'],
  'checkin.airport': ['Asks about checking in at the airport', 'Prefers airport check-in over online'],
  'loyalty.missing': ['Miles from a recent flight were not credited', 'Missing Wayfarer Miles after a flight'],
  'loyalty.lounge': ['Asks how status gives lounge access', 'Lounge access question for a status member'],
  'loyalty.upgrade': ['Wants to pay for an upgrade with points', 'Asks about upgrading with miles'],
  'complaint.lawyer': ['Threatens legal steps unless compensated', 'Demands compensation, mentions a lawyer'],
  'complaint.chargeback': ['Filed a chargeback with their bank', 'Reports a chargeback on a ticket payment'],
};
const TOPIC_LABEL: Record<Intent, string> = {
  booking_change: 'Flight changes',
  cancellation: 'Cancellations & refunds',
  baggage: 'Baggage',
  checkin: 'Check-in & boarding passes',
  loyalty: 'Miles & status',
  complaint: 'Complaints & compensation',
};
const INTENT_WEIGHTS: Record<Intent, number> = { booking_change: 24, cancellation: 22, baggage: 18, checkin: 16, loyalty: 16, complaint: 4 };
const TIER_WEIGHTS = { basic: 55, silver: 30, gold: 15 };
const LOCALE_WEIGHTS = { en: 55, de: 20, fr: 15, es: 10 };
const CHANNEL_WEIGHTS = { chat: 65, app: 25, email: 10 };
const MOOD_WEIGHTS = { neutral: 60, frustrated: 28, positive: 12 };
const MOOD: Record<keyof typeof MOOD_WEIGHTS, { prefix: readonly string[]; suffix: readonly string[]; summary: readonly string[]; label: string | null }> = {
  neutral: { prefix: ['', 'Hi, ', 'Hello, '], suffix: ['', ' Thanks.'], summary: ['no_match'], label: null },
  frustrated: {
    prefix: ['This is the third time I ask. ', 'Seriously? '],
    suffix: [' Very annoyed.', ' Nobody answers the phone.'],
    summary: ['Frustrated, has asked before without an answer', 'Annoyed about waiting for help', 'Irritated tone, complains about the phone line'],
    label: 'Frustrated',
  },
  positive: { prefix: ['Love flying with you! '], suffix: [' Thanks a lot!'], summary: ['Friendly and appreciative', 'Polite, thanks the airline'], label: 'Positive' },
};
const HOUR_WEIGHT = [2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2];
const HOUR_TOTAL = HOUR_WEIGHT.reduce((a, b) => a + b, 0);

/** Three draws per call whatever `to` is, so the content of the traffic does not depend on `now`. */
function sampleTime(rng: () => number, from: number, to: number): number {
  const uniform = from + rng() * (to - from);
  let r = rng() * HOUR_TOTAL;
  const within = rng();
  let hour = 0;
  while (hour < 23 && r >= HOUR_WEIGHT[hour]!) r -= HOUR_WEIGHT[hour++]!;
  const shaped = Math.floor(uniform / 86400) * 86400 + (hour + within) * 3600;
  return shaped >= from && shaped < to ? shaped : uniform;
}

const LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
/** Booking references: six letters; after the new reservation system went live, 60% contain digits. Some travellers type them in lower case. */
function bookingRef(rng: () => number, t: number, rolloutAt: number): string {
  const digits = t >= rolloutAt && rng() < 0.6;
  let ref = '';
  for (let i = 0; i < 6; i++) ref += digits && (i === 1 || i === 4) ? String(2 + Math.floor(rng() * 8)) : LETTERS[Math.floor(rng() * LETTERS.length)]!;
  return rng() < 0.12 ? ref.toLowerCase() : ref;
}

// ---------------------------------------------------------------------------------------------
// Writing the bt sync layout

type Row = Record<string, unknown>;

function writeSpecDir(outDir: string, objectType: 'project_logs' | 'dataset', objectId: string, objectName: string, rows: Row[], meta: { scope: string | null; window: string | null; nowSec: number; runKey: string }): string {
  const data = rows.map((r) => JSON.stringify(sortKeys(r))).join('\n') + '\n';
  const spec = {
    schema_version: 1, object_ref: `${objectType}:${objectId}`, object_type: objectType, object_name: objectName, direction: 'pull',
    scope: meta.scope, filter: null, window: meta.window, limit: rows.length, page_size: 1000,
  };
  const specHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
  const dir = join(outDir, `${objectType}_${objectId}`, specHash.slice(0, 12));
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'part-000001.jsonl'), data);
  const runId = createHash('sha256').update(meta.runKey).digest('hex').slice(0, 32);
  const bytes = Buffer.byteLength(data);
  const done = meta.nowSec + Math.max(1, Math.ceil(rows.length / 2000));
  const pages = Math.max(1, Math.ceil(rows.length / 1000));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec, null, 2));
  writeFileSync(join(dir, 'state.json'), JSON.stringify({
    schema_version: 1, run_id: runId, status: 'completed', phase: 'completed', scope: meta.scope, limit: rows.length, filter: null,
    page_size: 1000, include_vectors: false, cursor: null, items_done: rows.length, pages_done: pages, bytes_written: bytes,
    output_path: join(dir, 'data'), started_at: meta.nowSec, updated_at: done, completed_at: done,
  }, null, 2));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
    schema_version: 1, spec_hash: specHash, spec, last_run_id: runId, status: 'completed', items_done: rows.length, pages_done: pages,
    bytes_processed: bytes, output_path: join(dir, 'data'), input_path: null, started_at: meta.nowSec, updated_at: done, completed_at: done, message: null,
  }, null, 2));
  return dir;
}

interface AgentResult {
  output: { answer: string; intent: string; tool_calls: Array<{ name: string; args: unknown; result?: unknown; error?: string }>; llm_calls: Array<{ name: string; model: string; messages: unknown[]; content: string; temperature: number; prompt_tokens: number; completion_tokens: number }> };
  expected: { intent: string; keywords: string[] };
  scores: Record<string, number | null>;
}

/** Runs the Python agent on every message in one process (run_batch.py). */
function runAgent(python: string, requests: Row[]): AgentResult[] {
  const r = spawnSync(python, [join(TRAVEL_EXAMPLE_DIR, 'run_batch.py')], {
    input: requests.map((q) => JSON.stringify(q)).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.status !== 0) throw new Error(`the travel agent failed (${python} run_batch.py): ${String(r.stderr ?? r.error).slice(-800)}`);
  const out = r.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as AgentResult);
  if (out.length !== requests.length) throw new Error(`run_batch.py answered ${out.length} of ${requests.length} messages`);
  return out;
}

export function generateTravelTraces(options: GenerateTravelTracesOptions): GenerateTravelTracesResult {
  const {
    outDir, seed = 7, traces = 2400, days = 30, now = clockFromEnv(process.env)(),
    projectName = 'travel-agent', datasetName = GOLDEN_DATASET_NAME, python = examplePython(),
  } = options;
  if (!Number.isInteger(traces) || traces < 1) throw new Error('traces must be a positive integer');
  const projectId = uuidFromText(`project:${projectName}`);
  const traffic = mulberry32(seed);
  const detail = mulberry32((seed ^ 0x2545f491) >>> 0);
  const nowSec = Math.floor(now.getTime() / 1000);
  const windowStart = nowSec - days * 86400;
  const rolloutAt = nowSec - Math.min(12, days / 2) * 86400;

  const times = Array.from({ length: traces }, () => sampleTime(traffic, windowStart, nowSec - 60)).sort((a, b) => a - b);
  const drafts = times.map((t) => {
    const intent = weighted(traffic, INTENT_WEIGHTS);
    const template = pick(traffic, TEMPLATES[intent]);
    const mood = weighted(traffic, MOOD_WEIGHTS);
    const ref = template.ref ? bookingRef(traffic, t, rolloutAt) : undefined;
    const m = MOOD[mood];
    const question = pick(traffic, m.prefix) + TEMPLATE_TEXT[template.id]!.replace('{ref}', ref ?? '') + pick(traffic, m.suffix);
    return {
      t0: round3(t + Math.floor(traffic() * 1000) / 1000), intent, template: template.id, ref, mood, question,
      tier: weighted(traffic, TIER_WEIGHTS), locale: weighted(traffic, LOCALE_WEIGHTS), channel: weighted(traffic, CHANNEL_WEIGHTS),
    };
  });
  const results = runAgent(python, drafts.map((d) => ({ question: d.question, traveler_tier: d.tier, locale: d.locale, template: d.template, ...(d.ref ? { ref: d.ref } : {}) })));

  const spans: Array<{ row: Row; start: number; end: number; isRoot: boolean }> = [];
  drafts.forEach((d, i) => {
    const { output, scores } = results[i]!;
    const rootSpanId = uuidFromRng(detail);
    const base = { log_id: 'g', org_id: ORG_ID, project_id: projectId, root_span_id: rootSpanId, expected: null, facets: null, classifications: null, tags: null, scores: null };
    let cursor = round3(d.t0 + 0.003 + detail() * 0.01);
    const llm = (c: AgentResult['output']['llm_calls'][number]) => {
      const start = cursor;
      const end = round3(start + 0.18 + c.completion_tokens * 0.011 + detail() * 0.5);
      cursor = round3(end + 0.002);
      spans.push({
        start, end, isRoot: false,
        row: {
          ...base, id: uuidFromRng(detail), span_id: uuidFromRng(detail), span_parents: [rootSpanId], is_root: false,
          span_attributes: { name: c.name, type: 'llm' },
          input: c.messages,
          output: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: c.content } }],
          metadata: { model: c.model, provider: 'example-llm', temperature: c.temperature },
          metrics: { start, end, prompt_tokens: c.prompt_tokens, completion_tokens: c.completion_tokens, tokens: c.prompt_tokens + c.completion_tokens },
          error: null,
        },
      });
    };
    const [route, compose] = [output.llm_calls.find((c) => c.name === 'route_intent'), output.llm_calls.find((c) => c.name === 'compose_reply')];
    if (route) llm(route);
    for (const call of output.tool_calls) {
      const start = cursor;
      const end = round3(start + (call.error ? 0.008 + detail() * 0.02 : 0.06 + detail() * 0.35));
      cursor = round3(end + 0.002);
      spans.push({
        start, end, isRoot: false,
        row: {
          ...base, id: uuidFromRng(detail), span_id: uuidFromRng(detail), span_parents: [rootSpanId], is_root: false,
          span_attributes: { name: call.name, type: 'tool' }, input: call.args, output: call.result ?? null, metadata: null,
          metrics: { start, end }, error: call.error ?? null,
        },
      });
    }
    if (compose) llm(compose);
    const end = round3(cursor + 0.001);

    // Topics: per-trace summaries (free text, `no_match` when nothing applies) and the clustered labels.
    const toolError = output.tool_calls.find((c) => c.error);
    const deflected = output.intent === 'complaint' && d.intent !== 'complaint';
    const fill = (s: string) => s.replace('{ref}', d.ref?.toUpperCase() ?? '');
    const task = fill(pick(detail, TASK_SUMMARY[d.template]!));
    // Issue summaries are per trace, like the service's (they name the trace's own request), not topic names.
    const issues = toolError
      ? fill(pick(detail, ['Booking lookup failed for {ref}; the agent asked the traveller to re-check the reference', 'Agent could not find booking {ref} and gave no answer']))
      : deflected
        ? `${task}; ${pick(detail, ['the agent handed it to the care team without answering', 'deflected to the care team, no answer given', 'no answer, only a care-team hand-off'])}`
        : 'no_match';
    const topic = (label: string) => [{ id: uuidFromText(`topic:${label}`), label, confidence: round3(0.72 + detail() * 0.26), source: 'topics' }];
    const classifications: Record<string, unknown> = { Task: topic(TOPIC_LABEL[d.intent]) };
    const sentimentLabel = MOOD[d.mood].label;
    if (sentimentLabel) classifications.Sentiment = topic(sentimentLabel);
    if (toolError) classifications.Issues = topic('Booking lookup failures');
    else if (deflected) classifications.Issues = topic('Deflected to the care team');

    spans.push({
      start: d.t0, end, isRoot: true,
      row: {
        ...base, id: uuidFromRng(detail), span_id: rootSpanId, span_parents: null, is_root: true,
        span_attributes: { name: 'travel_agent', type: 'task' },
        input: { question: d.question, traveler_tier: d.tier, locale: d.locale },
        output: { answer: output.answer, intent: output.intent, tool_calls: output.tool_calls },
        metadata: { traveler_tier: d.tier, locale: d.locale, channel: d.channel, intent: output.intent, agent_version: '2.3.0', model: route?.model ?? null },
        metrics: { start: d.t0, end },
        scores,
        tags: ['prod', `tier:${d.tier}`],
        facets: { Task: task, Sentiment: pick(detail, MOOD[d.mood].summary), Issues: issues },
        classifications,
      },
    });
  });

  // Transaction ids in commit order (span end); created at span start; `bt sync pull --traces` order.
  const { rows: pulled, rootIds } = syncPullOrder(spans);
  const logRows = pulled as Row[];
  writeSpecDir(outDir, 'project_logs', projectId, projectId, logRows, { scope: 'traces', window: `${days}d`, nowSec, runKey: `run:${seed}:${nowSec}` });

  // The hand-made dataset, created by the team two months before `now`.
  const golden = JSON.parse(readFileSync(join(TRAVEL_EXAMPLE_DIR, 'golden_dataset.json'), 'utf8')) as Array<{ id: string; input: unknown; expected: unknown; metadata?: Record<string, unknown> }>;
  const datasetId = uuidFromText(`dataset:${projectName}:${datasetName}`);
  const createdAt = nowSec - 60 * 86400;
  const datasetRows = golden.map((g, i) => {
    const xact = String(BigInt(createdAt + i) * 1000n);
    return {
      id: g.id, _xact_id: xact, _pagination_key: `p${xact.padStart(20, '0')}`, created: new Date((createdAt + i) * 1000).toISOString(),
      project_id: projectId, dataset_id: datasetId, span_id: g.id, root_span_id: g.id, is_root: true,
      input: g.input, expected: g.expected, metadata: g.metadata ?? null, tags: ['hand-made'], origin: null,
    };
  });
  writeSpecDir(outDir, 'dataset', datasetId, datasetName, datasetRows, { scope: null, window: null, nowSec, runKey: `dataset:${datasetName}` });
  return { dir: resolve(outDir), spans: spans.length, traces: rootIds.length, datasetRows: datasetRows.length };
}


if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = parseFlags(process.argv.slice(2));
    if (!args.out) {
      process.stderr.write('usage: tsx examples/travel-agent/generate-traces.ts --out DIR [--traces N] [--days D] [--seed S] [--project-name N] [--dataset-name N] [--now ISO] [--python PATH]\n');
      process.exit(2);
    }
    const res = generateTravelTraces({
      outDir: args.out,
      ...(args.traces ? { traces: Number(args.traces) } : {}),
      ...(args.days ? { days: Number(args.days) } : {}),
      ...(args.seed ? { seed: Number(args.seed) } : {}),
      ...(args['project-name'] ? { projectName: args['project-name'] } : {}),
      ...(args['dataset-name'] ? { datasetName: args['dataset-name'] } : {}),
      // Without --now: FLYWHEEL_FAKE_NOW when set (tests, reproducible demos), else the real clock.
      ...(args.now ? { now: new Date(args.now) } : {}),
      ...(args.python ? { python: args.python } : {}),
    });
    process.stdout.write(JSON.stringify(res) + '\n');
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}
