"""A tiny LLM provider client, shaped like the usual SDKs: a key from the environment, chat completions
with token usage.

The "model" behind it is a deterministic local stand-in (``travel_agent/_local_model.py``, pure Python, no
network), so the example runs offline — but the client still refuses to work without an API key, exactly
as a hosted provider would: set ``EXAMPLE_LLM_API_KEY`` (the example's ``.env`` holds a fake one).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import _local_model

API_KEY_ENV = "EXAMPLE_LLM_API_KEY"
DEFAULT_MODEL = "wayfarer-mini-2025-05"
# Per 1M tokens, USD (the stand-in's price list).
PRICES = {DEFAULT_MODEL: {"prompt": 0.15, "completion": 0.60}}


class MissingAPIKeyError(RuntimeError):
    """No API key in the environment."""


class AuthenticationError(RuntimeError):
    """The API key was rejected."""


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Completion:
    content: str
    model: str
    usage: Usage
    cost: float
    messages: List[Dict[str, str]] = field(default_factory=list)


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


class LLMClient:
    def __init__(self, api_key: Optional[str] = None, model: str = DEFAULT_MODEL):
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        key = key.strip()
        if not key:
            raise MissingAPIKeyError(
                f"{API_KEY_ENV} is not set: the LLM client needs an API key (put it in .env, see .env.example)"
            )
        if not key.startswith("exk-") or len(key) < 12:
            raise AuthenticationError(f"the API key in {API_KEY_ENV} was rejected (expected an exk-… key)")
        self._key = key
        self.model = model

    def __repr__(self) -> str:  # never print the key
        return f"LLMClient(model={self.model!r})"

    def chat(self, messages: List[Dict[str, str]], temperature: float = 0.0) -> Completion:
        content = _local_model.respond(messages, temperature=temperature)
        usage = Usage(prompt_tokens=sum(_tokens(m["content"]) + 4 for m in messages), completion_tokens=_tokens(content))
        price = PRICES.get(self.model, PRICES[DEFAULT_MODEL])
        cost = (usage.prompt_tokens * price["prompt"] + usage.completion_tokens * price["completion"]) / 1_000_000
        return Completion(content=content, model=self.model, usage=usage, cost=round(cost, 8), messages=messages)


_default: Optional[LLMClient] = None


def default_client() -> LLMClient:
    """The process-wide client (created on first use, so a missing key fails at the first call)."""
    global _default
    if _default is None:
        _default = LLMClient()
    return _default
