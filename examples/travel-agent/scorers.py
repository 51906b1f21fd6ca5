"""Deterministic code scorers for the travel agent, used by the eval (eval_travel.py) and the production
trace generator (online scoring). Each returns a number in [0, 1], or None when it cannot score.

Score columns: correct_intent (binary), answer_quality (primary), no_tool_error (binary).
"""
from __future__ import annotations

from typing import Any, Dict, Optional


def _expected(expected: Any) -> Optional[Dict[str, Any]]:
    if isinstance(expected, str):
        return {"answer": expected} if expected.strip() else None
    return expected if isinstance(expected, dict) and expected else None


def correct_intent(input: Any = None, output: Any = None, expected: Any = None, **_: Any) -> Optional[float]:
    """1 when the agent's intent equals expected.intent, else 0 (None when unlabeled)."""
    exp = _expected(expected)
    if not exp or not exp.get("intent"):
        return None
    actual = output.get("intent") if isinstance(output, dict) else None
    return 1.0 if actual == exp["intent"] else 0.0


def answer_quality(input: Any = None, output: Any = None, expected: Any = None, **_: Any) -> Optional[float]:
    """The fraction of expected.keywords found in the answer (case-insensitive); None when unlabeled."""
    exp = _expected(expected)
    if not exp:
        return None
    words = exp.get("keywords") or [w for w in str(exp.get("answer", "")).split() if len(w) > 4]
    if not words:
        return None
    text = str(output.get("answer", "") if isinstance(output, dict) else output or "").lower()
    found = sum(1 for k in words if str(k).lower() in text)
    return round(found / len(words), 6)


def no_tool_error(input: Any = None, output: Any = None, expected: Any = None, **_: Any) -> Optional[float]:
    """1 when no tool call failed, 0 when one did (reference-free)."""
    if not isinstance(output, dict):
        return None
    return 0.0 if any(c.get("error") for c in output.get("tool_calls", [])) else 1.0


SCORERS = [correct_intent, answer_quality, no_tool_error]


def score_all(input: Any, output: Any, expected: Any) -> Dict[str, Optional[float]]:
    return {s.__name__: s(input=input, output=output, expected=expected) for s in SCORERS}
