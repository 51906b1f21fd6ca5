"""Wayfarer travel-support agent (the flywheel's Python example).

`answer(input)` routes a traveller's message to an intent with an LLM call, enforces the escalation
guardrail, looks the booking up when the message names one, and composes the reply with a second LLM call.
"""
from .agent import AGENT_VERSION, MODEL, answer

__all__ = ["AGENT_VERSION", "MODEL", "answer"]
