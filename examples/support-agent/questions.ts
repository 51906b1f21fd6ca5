/**
 * The question templates production traffic is drawn from, with their ground truth.
 *
 * `labelQuestion` maps any generated question (with greeting / tone decoration and
 * an order id filled in) back to its template and returns the expected category and
 * answer keywords: a deterministic stand-in for a human labeler, usable to curate
 * dataset rows from production traces.
 */
import type { Expected } from './scorers.js';

export interface QuestionTemplate {
  /** Stable template id, e.g. "returns.return_order". */
  id: string;
  category: 'billing' | 'shipping' | 'returns' | 'account' | 'technical' | 'escalation';
  /** Question text; `{order}` is replaced by an order id. */
  text: string;
  /** Keywords a good answer contains; `{order}` is replaced by the canonical (upper-case) order id. */
  keywords: string[];
}

export const QUESTION_TEMPLATES: readonly QuestionTemplate[] = [
  // billing
  { id: 'billing.vat_invoice', category: 'billing', text: 'Can I get a VAT invoice for my last purchase?', keywords: ['invoice', 'Settings > Billing'] },
  { id: 'billing.charged_twice', category: 'billing', text: 'I was charged twice this month, what happened?', keywords: ['EXAMPLESHOP', 'Settings > Billing', 'pending authorization'] },
  { id: 'billing.update_card', category: 'billing', text: 'How do I update the credit card on my subscription?', keywords: ['payment method', 'Settings > Billing'] },
  { id: 'billing.download_invoices', category: 'billing', text: 'Where can I download my invoices?', keywords: ['invoice', 'Settings > Billing'] },
  { id: 'billing.yearly_plan', category: 'billing', text: 'How do I switch to the yearly plan?', keywords: ['plan', 'Settings > Billing'] },
  // shipping
  { id: 'shipping.duration', category: 'shipping', text: 'How long does shipping to Germany take?', keywords: ['3-5 business days', 'tracking'] },
  { id: 'shipping.express', category: 'shipping', text: 'Do you offer express delivery?', keywords: ['express', '1-2 business days', 'checkout'] },
  { id: 'shipping.late_package', category: 'shipping', text: "My package hasn't arrived yet, how long does delivery usually take?", keywords: ['3-5 business days', 'tracking'] },
  { id: 'shipping.where_is_order', category: 'shipping', text: 'Where is my order {order}?', keywords: ['{order}', 'tracking'] },
  { id: 'shipping.has_shipped', category: 'shipping', text: 'Has order {order} shipped yet?', keywords: ['{order}', 'tracking'] },
  { id: 'shipping.delivery_status', category: 'shipping', text: 'Can you check the delivery status of {order}?', keywords: ['{order}', 'tracking'] },
  { id: 'shipping.parcel_late', category: 'shipping', text: 'My parcel {order} is late, when will it arrive?', keywords: ['{order}', 'tracking'] },
  // returns
  { id: 'returns.shoes', category: 'returns', text: "How do I return a pair of shoes that don't fit?", keywords: ['30 days', 'return label', 'refund'] },
  { id: 'returns.policy', category: 'returns', text: 'What is your refund policy?', keywords: ['30 days', 'return label', 'refund'] },
  { id: 'returns.exchange', category: 'returns', text: 'Can I exchange a jacket for a bigger size?', keywords: ['30 days', 'return label'] },
  { id: 'returns.refund_missing', category: 'returns', text: "I haven't received my refund yet, it has been a week.", keywords: ['refund', '5 business days'] },
  { id: 'returns.return_order', category: 'returns', text: 'I want to return order {order}, how does that work?', keywords: ['{order}', '30 days', 'return label'] },
  { id: 'returns.refund_order', category: 'returns', text: 'Can I still get a refund for {order}?', keywords: ['{order}', '30 days', 'refund'] },
  // account
  { id: 'account.forgot_password', category: 'account', text: "I forgot my password and can't log in.", keywords: ['Forgot password', 'reset'] },
  { id: 'account.change_email', category: 'account', text: 'How do I change the email address on my account?', keywords: ['email address', 'Settings > Account'] },
  { id: 'account.two_factor', category: 'account', text: 'How do I turn on two-factor authentication?', keywords: ['two-factor', 'Settings > Account', 'authenticator app'] },
  { id: 'account.reset_link', category: 'account', text: "The password reset link doesn't work.", keywords: ['reset', '24 hours'] },
  // technical
  { id: 'technical.app_crash', category: 'technical', text: 'The app crashes every time I open my cart.', keywords: ['update the app', 'error code'] },
  { id: 'technical.checkout_error', category: 'technical', text: 'I get an error 500 when I check out.', keywords: ['update the app', 'error code'] },
  { id: 'technical.slow_site', category: 'technical', text: 'Your website is really slow today.', keywords: ['clear the cache', 'engineers', 'status page'] },
  { id: 'technical.api_401', category: 'technical', text: 'The API gives me a 401 error for my integration.', keywords: ['error code', 'engineers'] },
  { id: 'technical.webhooks', category: 'technical', text: 'Webhooks stopped firing after the last update.', keywords: ['error code', 'engineers'] },
  // escalation
  { id: 'escalation.legal', category: 'escalation', text: "I'm going to take legal action if this isn't fixed.", keywords: ['support@example.com'] },
  { id: 'escalation.chargeback', category: 'escalation', text: 'I filed a chargeback with my bank, what now?', keywords: ['support@example.com'] },
];

/** The canonical form of an order id: upper-case prefix, trimmed. */
export function canonicalOrderId(raw: string): string {
  return raw.trim().toUpperCase();
}

/** Fills a template's question text with an order id (as the customer typed it). */
export function fillTemplate(template: QuestionTemplate, orderId?: string): string {
  return template.text.replace('{order}', orderId ?? 'ORD-100000');
}

/** The ground truth for a template instance. */
export function expectedFor(template: QuestionTemplate, orderId?: string): Expected {
  const canonical = orderId === undefined ? undefined : canonicalOrderId(orderId);
  return {
    category: template.category,
    keywords: template.keywords.map((k) => (k === '{order}' ? (canonical ?? 'ORD-100000') : k)),
  };
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const TEMPLATE_MATCHERS = QUESTION_TEMPLATES.map((template) => ({
  template,
  regex: new RegExp(escapeRegex(template.text).replace(escapeRegex('{order}'), '(ord-\\d{4,10})'), 'i'),
}));

/** Finds the template a question was generated from (ignoring greetings/tone), if any. */
export function matchTemplate(question: string): { template: QuestionTemplate; orderId?: string } | undefined {
  for (const { template, regex } of TEMPLATE_MATCHERS) {
    const m = regex.exec(question);
    if (m) return m[1] === undefined ? { template } : { template, orderId: m[1] };
  }
  return undefined;
}

/** Ground-truth label for a production question, or undefined when it matches no known template. */
export function labelQuestion(question: string): Expected | undefined {
  const hit = matchTemplate(question);
  return hit ? expectedFor(hit.template, hit.orderId) : undefined;
}
