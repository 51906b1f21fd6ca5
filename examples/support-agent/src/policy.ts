/**
 * Routing rules and canned policy answers for the support agent.
 *
 * Everything the agent "knows" lives here as plain data so that a code change
 * (by a human or a change agent) can fix behaviour with a small, reviewable diff.
 */

export type Category = 'billing' | 'shipping' | 'returns' | 'account' | 'technical' | 'escalation';

export const CATEGORIES: readonly Category[] = ['billing', 'shipping', 'returns', 'account', 'technical', 'escalation'];

/** The fallback when nothing matches: treated like a technical/general question. */
export const DEFAULT_CATEGORY: Category = 'technical';

/**
 * Keyword routes, checked in order; the first rule with a matching keyword wins.
 * A keyword matches at a word start and may be followed by more letters ("ship" matches "shipped").
 */
export const ROUTING_RULES: ReadonlyArray<{ category: Exclude<Category, 'escalation'>; keywords: readonly string[] }> = [
  { category: 'returns', keywords: ['return', 'refund', 'send it back', 'send back', 'exchange', 'money back'] },
  { category: 'shipping', keywords: ['ship', 'deliver', 'tracking', 'where is my order', 'package', 'parcel', 'arrive', 'courier', 'order ord-'] },
  { category: 'billing', keywords: ['invoice', 'charge', 'bill', 'payment', 'credit card', 'subscription', 'vat', 'receipt', 'plan'] },
  { category: 'account', keywords: ['password', 'log in', 'login', 'sign in', 'email address', 'account', 'two-factor', '2fa', 'username'] },
  { category: 'technical', keywords: ['error', 'crash', 'bug', 'app', 'api', 'sync', 'loading', 'slow', 'integration', 'webhook'] },
];

// ============================================================================
// >>> PLANTED DEFECT (a): returns/refund questions are escalated to a human.
// During an incident someone added 'refund' and 'return' to the escalation list
// and never removed them. Escalation is checked BEFORE the routing rules, so every
// returns/refund question gets the generic "please contact support" hand-off
// (category 'escalation') instead of the returns policy.
// Fix: the list should only contain the genuinely legal/complaint keywords:
//   ['lawyer', 'legal action', 'chargeback', 'ombudsman']
export const ESCALATION_KEYWORDS: readonly string[] = ['lawyer', 'legal action', 'chargeback', 'ombudsman', 'refund', 'return'];
// <<< END PLANTED DEFECT (a)
// ============================================================================

export const HANDOFF_ANSWER =
  "I'm sorry, I can't resolve this here. Please contact our support team at support@example.com and a human agent will get back to you within 2 business days.";

export const POLICY_ANSWERS: Record<Exclude<Category, 'escalation'>, string> = {
  billing:
    'You can download every invoice (including VAT invoices) under Settings > Billing. Charges show up as EXAMPLESHOP on your card statement, and you can update your payment method or change your plan on the same page.',
  shipping:
    'Standard shipping takes 3-5 business days and express shipping 1-2 business days. You can follow your parcel with the tracking link in your confirmation email.',
  returns:
    'You can return any item within 30 days of delivery. Start the return under Orders > Return item to print a free return label; your refund is issued to the original payment method within 5 business days after we receive the item.',
  account:
    'To reset your password, use "Forgot password" on the sign-in page; the reset link is valid for 24 hours. You can change your email address and two-factor settings under Settings > Account.',
  technical:
    'Please update the app to the latest version and clear the cache under Settings > Storage. If the error persists, send us the error code shown on screen and our engineers will investigate.',
};

export const ENTERPRISE_SUFFIX = 'As an Enterprise customer you can also reach your dedicated account manager directly.';

export const LOCALE_SIGNOFF: Record<string, string> = {
  en: 'Best regards, the Example Shop team',
  de: 'Viele Grüße, Ihr Example-Shop-Team',
  fr: "Cordialement, l'équipe Example Shop",
  es: 'Saludos, el equipo de Example Shop',
};
