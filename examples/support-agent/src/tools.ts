/**
 * Simulated tools. `lookup_order` stands in for the order service: it is pure and
 * deterministic (the order's status is derived from its number), so evals and the
 * trace generator are reproducible.
 */

export interface OrderInfo {
  order_id: string;
  status: 'processing' | 'shipped' | 'delivered';
  carrier: string;
  tracking_number: string;
  /** Business days until delivery (0 once delivered). */
  eta_business_days: number;
  /** Days since delivery, when delivered. */
  delivered_days_ago: number | null;
}

export class OrderLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrderLookupError';
  }
}

// ============================================================================
// >>> PLANTED DEFECT (b): lookup_order rejects valid order ids.
// The order service moved to 8-digit order numbers (ORD-12345678) and customers
// often type the prefix in lower case (ord-123456), but the validation below only
// accepts the legacy upper-case 6-digit format and does not normalize input, so
// lookup_order throws and the agent answers with an apology.
// Fix: accept 6 or 8 digits (/^ORD-(\d{6}|\d{8})$/) and upper-case/trim the id.
export const ORDER_ID_PATTERN = /^ORD-\d{6}$/;

export function normalizeOrderId(raw: string): string {
  return raw;
}
// <<< END PLANTED DEFECT (b)
// ============================================================================

const CARRIERS = ['DHL', 'UPS', 'FedEx', 'DPD'] as const;

function digitHash(digits: string): number {
  let h = 7;
  for (const ch of digits) h = (h * 31 + ch.charCodeAt(0)) % 1_000_003;
  return h;
}

/** Looks an order up by id. Throws OrderLookupError for ids it cannot parse. */
export function lookupOrder(orderId: string): OrderInfo {
  const id = normalizeOrderId(orderId);
  if (!ORDER_ID_PATTERN.test(id)) {
    throw new OrderLookupError(`lookup_order failed: invalid order id "${orderId}" (expected format ORD-123456)`);
  }
  const digits = id.slice(4);
  const h = digitHash(digits);
  const status = (['processing', 'shipped', 'delivered'] as const)[h % 3]!;
  const carrier = CARRIERS[(h >> 3) % CARRIERS.length]!;
  return {
    order_id: id,
    status,
    carrier,
    tracking_number: `${carrier.toUpperCase()}${String(h).padStart(7, '0')}`,
    eta_business_days: status === 'processing' ? 3 + (h % 3) : status === 'shipped' ? 1 + (h % 2) : 0,
    delivered_days_ago: status === 'delivered' ? 1 + (h % 20) : null,
  };
}
