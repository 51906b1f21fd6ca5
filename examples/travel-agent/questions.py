"""The messages production traffic is drawn from, with their ground truth.

`label_question(text)` maps a production message (greeting and tone included, any booking reference)
back to its template and returns the expected intent and answer keywords: a deterministic stand-in for a
person labelling rows. It never looks at what the agent answered.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

# (template id, intent, text, keywords). "{ref}" is a booking reference.
TEMPLATES: List[Tuple[str, str, str, List[str]]] = [
    ("change.date", "booking_change", "Can I change my flight to a different date?", ["Manage Booking", "fare difference"]),
    ("change.earlier", "booking_change", "I need to change my flight on booking {ref} to an earlier flight.", ["{ref}", "Manage Booking", "fare difference"]),
    ("change.reschedule", "booking_change", "How do I reschedule booking {ref}?", ["{ref}", "Manage Booking", "2 hours before departure"]),
    ("change.seat", "booking_change", "Is it possible to pick a different seat?", ["Manage Booking", "seat map"]),
    ("cancel.booking", "cancellation", "How do I cancel booking {ref}?", ["{ref}", "7 business days", "voucher"]),
    ("cancel.refund_booking", "cancellation", "Can I get a refund for booking {ref}?", ["{ref}", "7 business days"]),
    ("cancel.trip", "cancellation", "I want to cancel my trip next week, what happens to my money?", ["7 business days", "voucher"]),
    ("cancel.policy", "cancellation", "What is your refund policy for cancelled flights?", ["7 business days", "voucher"]),
    ("baggage.allowance", "baggage", "How many bags can I bring on my flight?", ["8 kg", "23 kg"]),
    ("baggage.add", "baggage", "Can I add a checked suitcase to booking {ref}?", ["{ref}", "23 kg", "Manage Booking"]),
    ("baggage.stroller", "baggage", "Is a stroller counted as luggage?", ["8 kg", "23 kg", "stroller"]),
    ("checkin.opens", "checkin", "When does online check-in open?", ["24 hours", "boarding pass"]),
    ("checkin.pass", "checkin", "I didn't get my boarding pass for booking {ref}.", ["{ref}", "boarding pass", "email"]),
    ("checkin.airport", "checkin", "Can I check in at the airport instead of online?", ["24 hours", "airport counter"]),
    ("loyalty.missing", "loyalty", "My miles from last month's flight are missing.", ["72 hours", "My Miles"]),
    ("loyalty.lounge", "loyalty", "How do I get lounge access with my status?", ["Wayfarer Miles", "lounge"]),
    ("loyalty.upgrade", "loyalty", "Can I use points for an upgrade?", ["Wayfarer Miles"]),
    ("complaint.lawyer", "complaint", "I will contact my lawyer if I don't get compensation.", ["care@wayfarer.example"]),
    ("complaint.chargeback", "complaint", "I filed a chargeback with my bank.", ["care@wayfarer.example"]),
]

# The Topics label production traces of each intent get (classifications.Task[0].label).
TOPIC_LABEL: Dict[str, str] = {
    "booking_change": "Flight changes",
    "cancellation": "Cancellations & refunds",
    "baggage": "Baggage",
    "checkin": "Check-in & boarding passes",
    "loyalty": "Miles & status",
    "complaint": "Complaints & compensation",
}


def canonical_ref(raw: str) -> str:
    return raw.strip().upper()


def expected_for(template_id: str, ref: Optional[str] = None) -> Dict[str, object]:
    _, intent, _, keywords = next(t for t in TEMPLATES if t[0] == template_id)
    canon = canonical_ref(ref) if ref else None
    return {"intent": intent, "keywords": [canon if k == "{ref}" else k for k in keywords if k != "{ref}" or canon]}


_MATCHERS = [
    (t[0], re.compile(re.escape(t[2]).replace(re.escape("{ref}"), "([A-Za-z0-9]{6})"), re.I)) for t in TEMPLATES
]


def match_template(question: str) -> Optional[Tuple[str, Optional[str]]]:
    for tid, rx in _MATCHERS:
        m = rx.search(question)
        if m:
            return tid, (m.group(1) if m.groups() else None)
    return None


def label_question(question: str) -> Optional[Dict[str, object]]:
    hit = match_template(question)
    return expected_for(*hit) if hit else None
