/**
 * Seeded, deterministic production traces for the support-agent example, written in
 * the `bt sync pull` on-disk layout:
 *
 *   <outDir>/project_logs_<projectId>/<12-hex spec hash>/
 *       spec.json  manifest.json  state.json  data/part-000001.jsonl
 *
 * Traffic is produced by RUNNING the agent in ./src on generated customer questions
 * and scoring the outputs with the real scorers (./scorers.ts), so the planted
 * defects show up genuinely in the scores, tool spans and facets.
 *
 * CLI: tsx examples/support-agent/generate-traces.ts --out DIR [--traces N] [--days D]
 *        [--seed S] [--variant V] [--project-id P] [--project-name N] [--now ISO]
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { clockFromEnv } from '../../src/clock.js';
import { mulberry32, pick, uuidFromRng, uuidFromText, weighted } from '../shared/seeded.js';
import { parseFlags, sortKeys, syncPullOrder } from '../shared/sync-order.js';
import { EXAMPLE_DIR, loadAgent, type AgentModule } from './load-agent.js';
import { QUESTION_TEMPLATES, expectedFor, fillTemplate, type QuestionTemplate } from './questions.js';
import { scoreAll } from './scorers.js';

export type TraceVariant = 'defective' | 'healthy' | 'stuck-scorer' | 'low-traffic' | 'instrumentation-gap' | 'slow-release' | 'unscored';
export const TRACE_VARIANTS: readonly TraceVariant[] = ['defective', 'healthy', 'stuck-scorer', 'low-traffic', 'instrumentation-gap', 'slow-release', 'unscored'];

/**
 * 'unscored': the defective agent's traffic (the same draws, so the same questions, answers and tool errors) with
 * no online scoring: no root span carries scores. The failures are real — lookup_order errors in the tool spans —
 * but nothing in production measures them.
 */

/**
 * 'slow-release': healthy production (the fixed agent, the same noise) until a release `SLOW_RELEASE_VERSION`
 * goes out `SLOW_RELEASE_DAYS_AGO` days before now; from then on every trace runs that version, whose
 * compose_answer step is `SLOW_RELEASE_LATENCY_FACTOR` times slower and sends `SLOW_RELEASE_EXTRA_PROMPT_TOKENS`
 * more prompt tokens (a longer system prompt). Answers, and so scores, are unchanged.
 */
export const SLOW_RELEASE_VERSION = '1.6.0';
export const SLOW_RELEASE_DAYS_AGO = 3;
export const SLOW_RELEASE_LATENCY_FACTOR = 5;
export const SLOW_RELEASE_EXTRA_PROMPT_TOKENS = 900;

export interface GenerateTracesOptions {
  outDir: string;
  seed?: number;
  traces?: number;
  days?: number;
  now?: Date;
  /** Defaults to a UUID derived from projectName. */
  projectId?: string;
  projectName?: string;
  variant?: TraceVariant;
  /** Agent source directory to run (defaults to the example's ./src; 'healthy' runs a fixed copy of it). */
  agentDir?: string;
}

export interface GenerateTracesResult {
  /** The spec directory (holding spec.json, manifest.json, state.json, data/). */
  dir: string;
  spans: number;
  traces: number;
}

export const MODEL = 'gpt-4o-mini';
export const ORG_ID = uuidFromText('org:bt-flywheel-example');

/**
 * Topics, as the Braintrust service produces them (braintrust.dev/docs/observe/topics; bt v0.12.0
 * src/topics/api.rs): a daily pipeline writes, per trace, a short free-text LLM summary for each facet
 * (`facets.Task`, `facets.Sentiment`, `facets.Issues`), the literal `no_match` when nothing applies; the
 * summaries are clustered into topics, and each trace whose facet is not `no_match` is labelled with its
 * closest topic in `classifications.<Facet>` = `[{id, label, confidence}]`. Traces whose facet is
 * `no_match` get no classification.
 */
export const NO_MATCH = 'no_match';
export const TOPIC_FACETS = ['Task', 'Sentiment', 'Issues'] as const;
export type TopicFacet = (typeof TOPIC_FACETS)[number];

/** The clustered Task topic label of each question category. */
export const TASK_TOPIC: Record<QuestionTemplate['category'], string> = {
  billing: 'Billing & invoices',
  shipping: 'Order status & shipping',
  returns: 'Returns & refunds',
  account: 'Account access',
  technical: 'Technical problem',
  escalation: 'Complaint / legal',
};
export const SENTIMENT_TOPIC = { neutral: 'Neutral', negative: 'Negative', positive: 'Positive' } as const;
export const ISSUE_TOPIC = { deflected: 'Deflected to human support', lookupFailed: 'Order lookup failed' } as const;

/** What each question template asks for, as a summarizer would put it (`{order}` is the order id). */
const TASK_SUBJECT: Record<string, readonly string[]> = {
  'billing.vat_invoice': ['a VAT invoice for their last purchase', 'getting a VAT invoice'],
  'billing.charged_twice': ['a duplicate charge this month', 'being charged twice'],
  'billing.update_card': ['updating the card on their subscription', 'changing the payment method'],
  'billing.download_invoices': ['where to download invoices', 'downloading past invoices'],
  'billing.yearly_plan': ['switching to the yearly plan', 'moving to annual billing'],
  'shipping.duration': ['shipping times to Germany', 'how long delivery to Germany takes'],
  'shipping.express': ['express delivery options', 'whether express shipping is offered'],
  'shipping.late_package': ['a package that has not arrived', 'usual delivery times for a late package'],
  'shipping.where_is_order': ['the whereabouts of order {order}', 'tracking order {order}'],
  'shipping.has_shipped': ['whether order {order} has shipped', 'the shipping status of {order}'],
  'shipping.delivery_status': ['the delivery status of {order}', 'tracking for {order}'],
  'shipping.parcel_late': ['late parcel {order}', 'when delayed order {order} will arrive'],
  'returns.shoes': ["returning shoes that don't fit", 'a return of ill-fitting shoes'],
  'returns.policy': ['the refund policy', 'how refunds work'],
  'returns.exchange': ['exchanging a jacket for a bigger size', 'a size exchange'],
  'returns.refund_missing': ['a refund that has not arrived after a week', 'a missing refund'],
  'returns.return_order': ['returning order {order}', 'how to send back order {order}'],
  'returns.refund_order': ['a refund for order {order}', 'whether {order} can still be refunded'],
  'account.forgot_password': ['a forgotten password', 'being locked out after forgetting the password'],
  'account.change_email': ['changing the account email address', 'updating the login email'],
  'account.two_factor': ['turning on two-factor authentication', 'enabling 2FA'],
  'account.reset_link': ['a password reset link that does not work', 'a broken reset link'],
  'technical.app_crash': ['the app crashing when opening the cart', 'a cart crash in the app'],
  'technical.checkout_error': ['an error 500 at checkout', 'checkout failing with a server error'],
  'technical.slow_site': ['the website being slow', 'slow page loads'],
  'technical.api_401': ['a 401 error from the API integration', 'API authentication failures'],
  'technical.webhooks': ['webhooks no longer firing after an update', 'webhooks that stopped working'],
  'escalation.legal': ['threatening legal action over an unresolved problem', 'a legal complaint'],
  'escalation.chargeback': ['next steps after filing a chargeback', 'a bank chargeback'],
};
const TASK_FRAME: readonly string[] = [
  'Customer asks about {s}.',
  'User wants help with {s}.',
  'Inquiry about {s}.',
  'The customer needs information on {s}.',
  'Question regarding {s}.',
];
const SENTIMENT_SUMMARY: Record<keyof typeof SENTIMENT_TOPIC, readonly string[]> = {
  neutral: ['Neutral, matter-of-fact request.', 'Calm and polite; no strong emotion.', 'Neutral tone throughout.'],
  negative: ['Customer is frustrated and says they have asked before.', 'Annoyed, disappointed tone.', 'User sounds upset and impatient.'],
  positive: ['Friendly and appreciative.', 'Customer is upbeat and thanks the team.', 'Positive, warm tone.'],
};
const ISSUE_SUMMARY: Record<keyof typeof ISSUE_TOPIC, readonly string[]> = {
  deflected: [
    'Agent handed the question to human support instead of answering it.',
    'Deflected to support@example.com without addressing {s}.',
    'The assistant escalated to a human rather than explaining {s}.',
  ],
  lookupFailed: [
    'lookup_order failed for {order}; the agent apologized and gave no status.',
    'Order lookup error for {order}, so no tracking information was returned.',
    'Tool error while fetching {order}; the customer got an apology instead of an answer.',
  ],
};

// ---------------------------------------------------------------------------------------------
// Randomness

const fill = (text: string, orderId: string | undefined): string => text.replace(/\{order\}/g, orderId ?? 'their order');

/** A classification entry: the topic's id (stable per facet and label), its label and the match confidence. */
function topicLabel(rng: () => number, facet: TopicFacet, label: string): { id: string; label: string; confidence: number } {
  return { id: uuidFromText(`topic:${facet}:${label}`), label, confidence: Math.round((0.62 + rng() * 0.36) * 1000) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Traffic model

const CATEGORY_WEIGHTS: Record<QuestionTemplate['category'], number> = {
  billing: 20, shipping: 28, returns: 20, account: 15, technical: 15, escalation: 2,
};
const LOCALE_WEIGHTS = { en: 50, de: 28, fr: 14, es: 8 };
const TIER_WEIGHTS = { free: 50, pro: 35, enterprise: 15 };
const CHANNEL_WEIGHTS = { chat: 70, email: 30 };
const SENTIMENT_WEIGHTS = { neutral: 60, negative: 25, positive: 15 };
const GREETING: Record<string, readonly string[]> = {
  en: ['', 'Hi, ', 'Hello, '], de: ['Hallo, ', ''], fr: ['Bonjour, ', ''], es: ['Hola, ', ''],
};
const TONE: Record<keyof typeof SENTIMENT_WEIGHTS, { prefix: readonly string[]; suffix: readonly string[] }> = {
  neutral: { prefix: [''], suffix: ['', ' Thanks.'] },
  negative: { prefix: ['This is ridiculous. ', 'Third time asking! '], suffix: [' Very disappointed.', ''] },
  positive: { prefix: ['Love your shop! '], suffix: [' Thanks so much!'] },
};
/** Relative traffic per UTC hour (busier during European/US business hours). */
const HOUR_WEIGHT = [2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2];
const HOUR_WEIGHT_TOTAL = HOUR_WEIGHT.reduce((a, b) => a + b, 0);

const CLASSIFY_PROMPT =
  'You are the intent router of Example Shop customer support. Classify the customer message into exactly one of: billing, shipping, returns, account, technical, escalation. Answer with the category only.';
const COMPOSE_PROMPT =
  'You are a friendly Example Shop support agent. Answer the customer using only the policy snippets and tool results provided. Be concise, cite order details when available, and never invent policies.';

const tokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function orderIdFor(rng: () => number, t: number, rolloutAt: number): string {
  const eightDigit = t >= rolloutAt && rng() < 0.55;
  const digits = eightDigit
    ? String(10_000_000 + Math.floor(rng() * 89_999_999))
    : String(100_000 + Math.floor(rng() * 899_999));
  const lower = rng() < 0.15;
  return `${lower ? 'ord' : 'ORD'}-${digits}`;
}

/**
 * A time in [from, to) with busier hours more likely. Exactly three draws per call, whatever the time of
 * day `to` falls at, so the traffic's content (categories, questions, ids) is the same for every `now` and
 * only its placement in time moves with it (rejection sampling made the whole sample depend on `now`).
 */
function sampleTime(rng: () => number, from: number, to: number): number {
  const uniform = from + rng() * (to - from);
  const hourDraw = rng();
  const within = rng();
  let r = hourDraw * HOUR_WEIGHT_TOTAL;
  let hour = 0;
  while (hour < 23 && r >= HOUR_WEIGHT[hour]!) r -= HOUR_WEIGHT[hour++]!;
  const shaped = Math.floor(uniform / 86400) * 86400 + (hour + within) * 3600;
  return shaped >= from && shaped < to ? shaped : uniform;
}

// ---------------------------------------------------------------------------------------------
// Agent loading

async function loadFixedAgent(srcDir: string): Promise<{ agent: AgentModule; cleanup: () => void }> {
  const work = mkdtempSync(join(tmpdir(), 'support-agent-healthy-'));
  cpSync(srcDir, join(work, 'src'), { recursive: true });
  const brief = 'Fix returns/refund questions routed to the escalation hand-off, and lookup_order tool errors for 8-digit and lower-case order ids.';
  const r = spawnSync(process.execPath, [join(EXAMPLE_DIR, 'change-agent.mjs'), work], { input: brief, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`change-agent failed: ${r.stderr}`);
  const agent = await loadAgent(join(work, 'src'));
  return { agent, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Rows

type Row = Record<string, unknown>;


interface SpanDraft {
  row: Row;
  start: number;
  end: number;
  isRoot: boolean;
}

/** Writes the traces; returns the spec dir and counts. */
export async function generateExampleTraces(options: GenerateTracesOptions): Promise<GenerateTracesResult> {
  const {
    outDir,
    seed = 42,
    traces = 3000,
    days = 30,
    now = clockFromEnv(process.env)(),
    projectName = 'support-agent',
    variant = 'defective',
  } = options;
  if (!TRACE_VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}; expected one of ${TRACE_VARIANTS.join(', ')}`);
  if (!Number.isInteger(traces) || traces < 1) throw new Error('traces must be a positive integer');
  if (!(days > 0)) throw new Error('days must be positive');
  const projectId = options.projectId ?? uuidFromText(`project:${projectName}`);
  const srcDir = resolve(options.agentDir ?? join(EXAMPLE_DIR, 'src'));

  // 'slow-release' is healthy production plus a slow release: same agent, same traffic draws.
  const healthyAgent = variant === 'healthy' || variant === 'slow-release';
  const loaded = healthyAgent ? await loadFixedAgent(srcDir) : { agent: await loadAgent(srcDir), cleanup: () => {} };
  try {
    const traffic = mulberry32(seed);
    const detail = mulberry32((seed ^ 0x5bd1e995) >>> 0);
    const topics = mulberry32((seed ^ 0x27d4eb2f) >>> 0);
    const nowSec = Math.floor(now.getTime() / 1000);
    const windowStart = nowSec - days * 86400;
    const rolloutAt = nowSec - Math.min(14, days / 2) * 86400;
    const gapStart = nowSec - Math.min(10, days / 3) * 86400;
    const recentStart = nowSec - 7 * 86400;
    const releaseAt = nowSec - Math.min(SLOW_RELEASE_DAYS_AGO, days / 4) * 86400;
    const lowTrafficRecent = Math.min(traces, Math.max(3, Math.round(traces * 0.004)));

    // 1. Sample times (sorted) so ids and versions follow time.
    const times: number[] = [];
    for (let i = 0; i < traces; i++) {
      if (variant === 'low-traffic' && days > 7) {
        times.push(i < lowTrafficRecent ? sampleTime(traffic, recentStart, nowSec - 60) : sampleTime(traffic, windowStart, recentStart));
      } else {
        times.push(sampleTime(traffic, windowStart, nowSec - 60));
      }
    }
    times.sort((a, b) => a - b);

    const byCategory = new Map<string, QuestionTemplate[]>();
    for (const t of QUESTION_TEMPLATES) byCategory.set(t.category, [...(byCategory.get(t.category) ?? []), t]);

    const drafts: SpanDraft[] = [];
    for (let i = 0; i < traces; i++) {
      const t0 = round3(times[i]! + Math.floor(traffic() * 1000) / 1000);
      const category = weighted(traffic, CATEGORY_WEIGHTS);
      const template = pick(traffic, byCategory.get(category)!);
      const locale = weighted(traffic, LOCALE_WEIGHTS);
      const tier = weighted(traffic, TIER_WEIGHTS);
      const channel = weighted(traffic, CHANNEL_WEIGHTS);
      const sentiment = weighted(traffic, SENTIMENT_WEIGHTS);
      const orderId = template.text.includes('{order}') ? orderIdFor(traffic, t0, rolloutAt) : undefined;
      const tone = TONE[sentiment];
      let question =
        pick(traffic, GREETING[locale]!) + pick(traffic, tone.prefix) + fillTemplate(template, orderId) + pick(traffic, tone.suffix);
      // Healthy production is not perfect: a few customers ask two things at once (the agent answers one),
      // and the order service times out now and then. Without this noise a pass/fail scorer sits at
      // exactly 1, which the flywheel rightly reads as a stuck scorer.
      const noise = healthyAgent ? traffic() : 1;
      if (noise < 0.03) {
        const others = QUESTION_TEMPLATES.filter((t) => t.category !== template.category && !t.text.includes('{order}'));
        question = `${pick(traffic, others).text} Also: ${question}`;
      }

      const input = { question, customer_tier: tier, locale };
      const output = loaded.agent.answer(input);
      if (healthyAgent && output.tool_calls.length && noise > 0.97) {
        output.tool_calls[0]!.error = 'OrderServiceTimeout: lookup_order timed out after 10s (upstream)';
        delete output.tool_calls[0]!.result;
        output.answer = "Sorry, I couldn't look up your order right now. Please try again in a few minutes.";
      }
      const expected = expectedFor(template, orderId);
      const scores: Record<string, number | null> = { ...scoreAll({ input, output, expected }) };
      if (variant === 'stuck-scorer') scores.answer_quality = 1;
      const gap = variant === 'instrumentation-gap' && t0 >= gapStart;
      const slow = variant === 'slow-release' && t0 >= releaseAt;
      const agentVersion = gap ? '1.5.0' : slow ? SLOW_RELEASE_VERSION : loaded.agent.AGENT_VERSION;

      const toolError = output.tool_calls.find((c) => c.error)?.error;
      const deflected = output.category === 'escalation' && template.category !== 'escalation';
      // Topics: free-text facet summaries and the topic each one is clustered into (own rng: traffic unchanged).
      const subject = fill(pick(topics, TASK_SUBJECT[template.id] ?? [template.id]), orderId);
      const issue: keyof typeof ISSUE_TOPIC | null = toolError ? 'lookupFailed' : deflected ? 'deflected' : null;
      const facets: Record<TopicFacet, string> = {
        Task: pick(topics, TASK_FRAME).replace('{s}', subject),
        Sentiment: pick(topics, SENTIMENT_SUMMARY[sentiment]),
        Issues: issue ? fill(pick(topics, ISSUE_SUMMARY[issue]), orderId).replace('{s}', subject) : NO_MATCH,
      };
      const classifications: Partial<Record<TopicFacet, Array<{ id: string; label: string; confidence: number }>>> = {
        Task: [topicLabel(topics, 'Task', TASK_TOPIC[template.category])],
        Sentiment: [topicLabel(topics, 'Sentiment', SENTIMENT_TOPIC[sentiment])],
        ...(issue ? { Issues: [topicLabel(topics, 'Issues', ISSUE_TOPIC[issue])] } : {}),
      };

      const rootSpanId = uuidFromRng(detail);
      const rootRowId = uuidFromRng(detail);
      const base = { log_id: 'g', org_id: ORG_ID, project_id: projectId, root_span_id: rootSpanId, expected: null };

      // classify_intent (llm)
      const cStart = round3(t0 + 0.004 + detail() * 0.01);
      const cEnd = round3(cStart + 0.25 + detail() * 0.65);
      const cPrompt = tokens(CLASSIFY_PROMPT) + tokens(question) + 8;
      const cCompletion = 2;
      drafts.push({
        start: cStart, end: cEnd, isRoot: false,
        row: {
          ...base, id: uuidFromRng(detail), span_id: uuidFromRng(detail), span_parents: [rootSpanId], is_root: false,
          span_attributes: { name: 'classify_intent', type: 'llm' },
          input: [{ role: 'system', content: CLASSIFY_PROMPT }, { role: 'user', content: question }],
          output: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: output.category } }],
          metadata: { model: MODEL, provider: 'openai', temperature: 0 },
          metrics: { start: cStart, end: cEnd, prompt_tokens: cPrompt, completion_tokens: cCompletion, tokens: cPrompt + cCompletion },
          error: null, scores: null, tags: null, facets: null,
        },
      });

      // lookup_order (tool)
      let cursor = cEnd;
      for (const call of output.tool_calls) {
        const tStart = round3(cursor + 0.002);
        const tEnd = round3(tStart + (call.error ? 0.01 + detail() * 0.02 : 0.04 + detail() * 0.3));
        cursor = tEnd;
        drafts.push({
          start: tStart, end: tEnd, isRoot: false,
          row: {
            ...base, id: uuidFromRng(detail), span_id: uuidFromRng(detail), span_parents: [rootSpanId], is_root: false,
            span_attributes: { name: call.name, type: 'tool' },
            input: call.args,
            output: call.result ?? null,
            metadata: null,
            metrics: { start: tStart, end: tEnd },
            error: call.error ?? null, scores: null, tags: null, facets: null,
          },
        });
      }

      // compose_answer (llm)
      const context = output.tool_calls.map((c) => (c.error ? `lookup_order error: ${c.error}` : `lookup_order: ${JSON.stringify(c.result)}`)).join('\n');
      const aStart = round3(cursor + 0.003);
      const aCompletion = tokens(output.answer);
      // One detail() draw either way; the unchanged expression (same float rounding) for every other trace.
      const aEnd = round3(
        slow ? aStart + (0.35 + aCompletion * 0.012 + detail() * 0.6) * SLOW_RELEASE_LATENCY_FACTOR : aStart + 0.35 + aCompletion * 0.012 + detail() * 0.6,
      );
      const aPrompt = tokens(COMPOSE_PROMPT) + tokens(question) + tokens(context) + 120 + (slow ? SLOW_RELEASE_EXTRA_PROMPT_TOKENS : 0);
      drafts.push({
        start: aStart, end: aEnd, isRoot: false,
        row: {
          ...base, id: uuidFromRng(detail), span_id: uuidFromRng(detail), span_parents: [rootSpanId], is_root: false,
          span_attributes: { name: 'compose_answer', type: 'llm' },
          input: [
            { role: 'system', content: COMPOSE_PROMPT },
            { role: 'user', content: context ? `${question}\n\n${context}` : question },
          ],
          output: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: output.answer } }],
          metadata: { model: MODEL, provider: 'openai', temperature: 0.2 },
          metrics: { start: aStart, end: aEnd, prompt_tokens: aPrompt, completion_tokens: aCompletion, tokens: aPrompt + aCompletion },
          error: null, scores: null, tags: null, facets: null,
        },
      });

      // root (task)
      const rEnd = round3(aEnd + 0.002);
      drafts.push({
        start: t0, end: rEnd, isRoot: true,
        row: {
          ...base, id: rootRowId, span_id: rootSpanId, span_parents: null, is_root: true,
          span_attributes: { name: 'support_agent', type: 'task' },
          input,
          output: gap ? null : output,
          metadata: { customer_tier: tier, locale, model: MODEL, agent_version: agentVersion, category: output.category, channel },
          // Token counts live on the LLM spans, not the root (bt-cli.md §7 "Where numbers live").
          metrics: { start: t0, end: rEnd },
          error: null,
          // Online scoring writes the scores onto the root span of the trace it judged.
          scores: gap || variant === 'unscored' ? null : scores,
          tags: ['prod', `tier:${tier}`],
          facets,
          classifications,
        },
      });
    }

    // 2–3. Transaction ids in commit order, created at span start, rows in `bt sync pull --traces` order.
    const { rows: ordered, rootIds, chunks } = syncPullOrder(drafts);
    const lines = ordered.map((row) => JSON.stringify(sortKeys(row)));
    const data = lines.join('\n') + '\n';

    // 4. Sync metadata.
    const spec = {
      schema_version: 1,
      object_ref: `project_logs:${projectId}`,
      object_type: 'project_logs',
      object_name: projectId,
      direction: 'pull',
      scope: 'traces',
      filter: null,
      window: `${days}d`,
      limit: traces,
      page_size: 1000,
    };
    const specHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    const dir = join(outDir, `project_logs_${projectId.replace(/[^A-Za-z0-9._-]/g, '_')}`, specHash.slice(0, 12));
    const dataDir = join(dir, 'data');
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'part-000001.jsonl'), data);

    const runId = createHash('sha256').update(`run:${seed}:${variant}:${nowSec}`).digest('hex').slice(0, 32);
    const bytes = Buffer.byteLength(data);
    const pagesDone = Math.ceil(rootIds.length / 1000) + chunks.length;
    const startedAt = nowSec;
    const completedAt = nowSec + Math.max(1, Math.ceil(drafts.length / 2000));
    const state = {
      schema_version: 1, run_id: runId, status: 'completed', phase: 'completed', scope: 'traces', limit: traces,
      filter: null, page_size: 1000, include_vectors: false, cursor: null, root_discovery_cursor: null,
      root_ids: rootIds, current_root_index: rootIds.length, current_root_cursor: null,
      trace_chunks: chunks, items_done: drafts.length, pages_done: pagesDone, bytes_written: bytes,
      output_path: dataDir, started_at: startedAt, updated_at: completedAt, completed_at: completedAt,
    };
    const manifest = {
      schema_version: 1, spec_hash: specHash, spec, last_run_id: runId, status: 'completed', items_done: drafts.length,
      pages_done: pagesDone, bytes_processed: bytes, output_path: dataDir, input_path: null,
      started_at: startedAt, updated_at: completedAt, completed_at: completedAt, message: null,
    };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec, null, 2));
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    return { dir, spans: drafts.length, traces: rootIds.length };
  } finally {
    loaded.cleanup();
  }
}

/** Reads every row of a generated (or pulled) spec dir's data/part-*.jsonl files. */
export function readSpecRows(specDir: string): Row[] {
  const text = readFileSync(join(specDir, 'data', 'part-000001.jsonl'), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Row);
}

// ---------------------------------------------------------------------------------------------
// CLI


async function cli(): Promise<void> {
  const args = parseFlags(process.argv.slice(2));
  if (!args.out) {
    process.stderr.write('usage: tsx examples/support-agent/generate-traces.ts --out DIR [--traces N] [--days D] [--seed S] [--variant V] [--project-id P] [--project-name N] [--now ISO]\n');
    process.exit(2);
  }
  const result = await generateExampleTraces({
    outDir: args.out,
    ...(args.traces ? { traces: Number(args.traces) } : {}),
    ...(args.days ? { days: Number(args.days) } : {}),
    ...(args.seed ? { seed: Number(args.seed) } : {}),
    ...(args.variant ? { variant: args.variant as TraceVariant } : {}),
    ...(args['project-id'] ? { projectId: args['project-id'] } : {}),
    ...(args['project-name'] ? { projectName: args['project-name'] } : {}),
    // Without --now: FLYWHEEL_FAKE_NOW when set (tests, reproducible demos), else the real clock.
    ...(args.now ? { now: new Date(args.now) } : {}),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
