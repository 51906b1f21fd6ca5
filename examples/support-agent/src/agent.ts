/**
 * A small, deterministic customer-support agent (no LLM calls): keyword routing
 * into a category, an optional `lookup_order` tool call, and a templated answer.
 *
 * Planted defects live in ./policy.ts (ESCALATION_KEYWORDS) and ./tools.ts
 * (ORDER_ID_PATTERN / normalizeOrderId); see the README.
 */
import {
  DEFAULT_CATEGORY,
  ENTERPRISE_SUFFIX,
  ESCALATION_KEYWORDS,
  HANDOFF_ANSWER,
  LOCALE_SIGNOFF,
  POLICY_ANSWERS,
  ROUTING_RULES,
  type Category,
} from './policy.js';
import { lookupOrder, type OrderInfo } from './tools.js';

export type { Category } from './policy.js';
export type { OrderInfo } from './tools.js';

export const AGENT_VERSION = '1.4.2';

export interface AgentInput {
  question: string;
  customer_tier?: string;
  locale?: string;
}

export interface ToolCall {
  name: 'lookup_order';
  args: { order_id: string };
  /** Present when the call succeeded. */
  result?: OrderInfo;
  /** Present when the call threw: the error text. */
  error?: string;
}

export interface AgentOutput {
  answer: string;
  category: Category;
  tool_calls: ToolCall[];
}

const SUFFIXES = '(?:s|es|d|ed|ing|ped|ping|ment|ments|y|ies|ery)?';

function keywordRegex(keyword: string): RegExp {
  const escaped = keyword.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:^|[^a-z0-9])${escaped}${SUFFIXES}(?![a-z])`);
}

function matchesAny(text: string, keywords: readonly string[]): boolean {
  return keywords.some((k) => keywordRegex(k).test(text));
}

/** Routes a question to a category (escalation first, then the ordered routing rules). */
export function classify(question: string): Category {
  const text = question.toLowerCase();
  if (matchesAny(text, ESCALATION_KEYWORDS)) return 'escalation';
  for (const rule of ROUTING_RULES) {
    if (matchesAny(text, rule.keywords)) return rule.category;
  }
  return DEFAULT_CATEGORY;
}

/** The first order id mentioned in the question, as typed (e.g. "ORD-123456", "ord-12345678"). */
export function extractOrderId(question: string): string | undefined {
  const m = /\b(ord-\d{4,10})\b/i.exec(question);
  return m?.[1];
}

function orderSentence(info: OrderInfo): string {
  switch (info.status) {
    case 'processing':
      return `Order ${info.order_id} is still being prepared; it will ship with ${info.carrier} and should arrive in about ${info.eta_business_days} business days. You will get a tracking number by email once it ships.`;
    case 'shipped':
      return `Order ${info.order_id} has shipped with ${info.carrier} (tracking number ${info.tracking_number}) and should arrive in ${info.eta_business_days} business day${info.eta_business_days === 1 ? '' : 's'}.`;
    case 'delivered':
      return `Order ${info.order_id} was delivered by ${info.carrier} ${info.delivered_days_ago} day${info.delivered_days_ago === 1 ? '' : 's'} ago (tracking number ${info.tracking_number}).`;
  }
}

const TOOL_APOLOGY =
  "I'm sorry, I couldn't look up your order right now. Please try again later or contact support@example.com.";

/** Answers one customer question. Pure and deterministic. */
export function answer(input: AgentInput): AgentOutput {
  const question = String(input.question ?? '');
  const category = classify(question);
  const toolCalls: ToolCall[] = [];
  let body: string;

  if (category === 'escalation') {
    body = HANDOFF_ANSWER;
  } else {
    body = POLICY_ANSWERS[category];
    const rawOrderId = category === 'shipping' || category === 'returns' ? extractOrderId(question) : undefined;
    if (rawOrderId !== undefined) {
      const call: ToolCall = { name: 'lookup_order', args: { order_id: rawOrderId } };
      toolCalls.push(call);
      try {
        const info = lookupOrder(rawOrderId);
        call.result = info;
        if (category === 'shipping') {
          body = orderSentence(info);
        } else {
          const eligibility =
            info.status === 'delivered'
              ? `Order ${info.order_id} was delivered ${info.delivered_days_ago} days ago, so it is still within the 30-day return window.`
              : `Order ${info.order_id} has not been delivered yet; once it arrives you have 30 days to return it.`;
          body = `${eligibility} ${POLICY_ANSWERS.returns}`;
        }
      } catch (err) {
        call.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        body = TOOL_APOLOGY;
      }
    }
  }

  const parts = [body];
  if ((input.customer_tier ?? '').toLowerCase() === 'enterprise') parts.push(ENTERPRISE_SUFFIX);
  parts.push(LOCALE_SIGNOFF[(input.locale ?? 'en').toLowerCase()] ?? LOCALE_SIGNOFF.en!);
  return { answer: parts.join(' '), category, tool_calls: toolCalls };
}
