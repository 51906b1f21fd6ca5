"""The deterministic stand-in for a hosted chat model (no network, no randomness).

It understands the two prompts the agent sends:
- the intent router (system prompt starting "ROUTER"): answers with one intent name;
- the reply writer (system prompt starting "WRITER"): fills the policy snippet it is given with the
  booking details from the tool result, and signs off.
"""
from __future__ import annotations

import json
import re
from typing import Dict, List

# What the "model" knows about travel support messages (ordered: first match wins).
_INTENT_CUES = [
    ("cancellation", ["cancel", "refund", "money back", "get my money"]),
    ("baggage", ["bag", "luggage", "suitcase", "carry-on", "stroller"]),
    ("booking_change", ["change my flight", "change the date", "reschedule", "rebook", "earlier flight", "change the name", "move my", "different date", "seat"]),
    ("checkin", ["check in", "check-in", "boarding pass", "online check"]),
    ("loyalty", ["miles", "points", "status", "lounge", "upgrade"]),
    ("complaint", ["lawyer", "legal", "complaint", "compensation", "chargeback", "disgusting"]),
]


def _route(user: str, intents: List[str]) -> str:
    text = user.lower()
    for intent, cues in _INTENT_CUES:
        if intent in intents and any(c in text for c in cues):
            return intent
    return "general" if "general" in intents else intents[-1]


def respond(messages: List[Dict[str, str]], temperature: float = 0.0) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    if system.startswith("ROUTER"):
        m = re.search(r"Intents: ([a-z_, ]+)\.", system)
        intents = [s.strip() for s in (m.group(1) if m else "general").split(",")]
        return _route(user, intents)
    if system.startswith("WRITER"):
        policy = re.search(r"<policy>(.*?)</policy>", user, re.S)
        tool = re.search(r"<booking>(.*?)</booking>", user, re.S)
        text = policy.group(1).strip() if policy else "Thanks for reaching out."
        if tool:
            data = json.loads(tool.group(1))
            if "error" in data:
                return f"Sorry, I couldn't find booking {data.get('ref', '')} right now. Please double-check the reference and try again."
            text = (
                f"Booking {data['ref']} ({data['route']}, {data['date']}, {data['status']}): " + text
            )
        return text
    return "I can only help with travel questions."
