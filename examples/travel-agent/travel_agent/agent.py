"""The agent: route (LLM) → escalation guardrail → lookup_booking (tool) → compose the reply (LLM).

`answer()` returns the reply with the intent, the tool calls and the LLM calls it made (with token usage),
so evals and the trace logger see everything the agent did.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .llm import LLMClient, default_client
from .policy import ESCALATION_KEYWORDS, GOLD_SIGNOFF, HANDOFF_ANSWER, INTENTS, POLICY
from .tools import BOOKING_REF_IN_TEXT, BookingLookupError, lookup_booking

AGENT_VERSION = "2.3.0"
MODEL = "wayfarer-mini-2025-05"

ROUTER_PROMPT = (
    "ROUTER You route messages for Wayfarer Airlines customer support. "
    f"Intents: {', '.join(INTENTS)}. Answer with the intent only."
)
WRITER_PROMPT = (
    "WRITER You are a friendly Wayfarer Airlines support agent. Answer using only the policy and booking "
    "details provided; be concise and never invent policies."
)
BOOKING_INTENTS = {"booking_change", "cancellation", "baggage", "checkin"}


def _escalates(text: str) -> bool:
    low = text.lower()
    return any(re.search(r"(?:^|[^a-z])" + re.escape(k.lower()), low) for k in ESCALATION_KEYWORDS)


def answer(input: Dict[str, Any], client: Optional[LLMClient] = None) -> Dict[str, Any]:
    llm = client or default_client()
    question = str(input.get("question", ""))
    llm_calls: List[Dict[str, Any]] = []

    def call(name: str, messages: List[Dict[str, str]], temperature: float) -> str:
        c = llm.chat(messages, temperature=temperature)
        llm_calls.append({
            "name": name, "model": c.model, "messages": messages, "content": c.content, "temperature": temperature,
            "prompt_tokens": c.usage.prompt_tokens, "completion_tokens": c.usage.completion_tokens, "cost": c.cost,
        })
        return c.content

    routed = call("route_intent", [{"role": "system", "content": ROUTER_PROMPT}, {"role": "user", "content": question}], 0.0).strip()
    intent = routed if routed in INTENTS else "general"
    if _escalates(question):
        intent = "complaint"

    tool_calls: List[Dict[str, Any]] = []
    booking_json = None
    m = BOOKING_REF_IN_TEXT.search(question)
    if m and intent in BOOKING_INTENTS:
        ref = m.group(1)
        try:
            result = lookup_booking(ref)
            tool_calls.append({"name": "lookup_booking", "args": {"ref": ref}, "result": result})
            booking_json = '{"ref": "%s", "route": "%s", "date": "%s", "status": "%s"}' % (
                result["ref"], result["route"], result["date"], result["status"])
        except BookingLookupError as err:
            tool_calls.append({"name": "lookup_booking", "args": {"ref": ref}, "error": str(err)})
            booking_json = '{"error": "not found", "ref": "%s"}' % ref

    if intent == "complaint":
        reply = HANDOFF_ANSWER
    else:
        context = f"<policy>{POLICY[intent]}</policy>" + (f"\n<booking>{booking_json}</booking>" if booking_json else "")
        reply = call("compose_reply", [{"role": "system", "content": WRITER_PROMPT}, {"role": "user", "content": f"{question}\n\n{context}"}], 0.2)
    if input.get("traveler_tier") == "gold" and intent != "complaint":
        reply += GOLD_SIGNOFF
    return {"answer": reply, "intent": intent, "tool_calls": tool_calls, "llm_calls": llm_calls}
