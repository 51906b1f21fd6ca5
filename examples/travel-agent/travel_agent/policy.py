"""Intents, the escalation guardrail and the policy snippets the reply writer may use."""

INTENTS = ["booking_change", "cancellation", "baggage", "checkin", "loyalty", "complaint", "general"]

# Messages with any of these words skip the router and go straight to a human agent.
# (Added after a bad week of chargebacks — 'cancel'/'refund' were meant for the billing team's queue.)
ESCALATION_KEYWORDS = ["lawyer", "legal action", "chargeback", "cancel", "refund"]

HANDOFF_ANSWER = (
    "I've passed your message to our customer care team; a specialist will contact you within 48 hours "
    "at care@wayfarer.example."
)

POLICY = {
    "booking_change": "You can change your flight in Manage Booking up to 2 hours before departure; the fare difference applies and Flex fares change for free.",
    "cancellation": "You can cancel in Manage Booking; refundable fares are refunded to the original payment method within 7 business days, other fares get a travel voucher.",
    "baggage": "Your fare includes one 8 kg cabin bag; checked bags of up to 23 kg can be added in Manage Booking, and it is cheaper online than at the airport.",
    "checkin": "Online check-in opens 24 hours before departure in the app or on our website; your boarding pass is sent by email.",
    "loyalty": "Miles are credited to your Wayfarer Miles account within 72 hours of the flight; missing miles can be claimed under My Miles.",
    "complaint": HANDOFF_ANSWER,
    "general": "Happy to help with bookings, baggage, check-in and Wayfarer Miles; tell me your booking reference if your question is about a trip.",
}

GOLD_SIGNOFF = " As a Gold member you can also call the priority line 24/7."
