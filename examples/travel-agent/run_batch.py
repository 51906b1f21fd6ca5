"""Runs the agent on many messages at once, as production would, and scores each answer online.

stdin: JSON lines {"question", "traveler_tier", "locale", "template", "ref"?};
stdout: JSON lines {"output" (with llm_calls), "expected", "scores"}.
Used by generate-traces.ts to produce the example's production traces from the real agent.
Production has its key in its environment; when this shell has none, the example's .env (or .env.example)
provides it.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from questions import expected_for  # noqa: E402
from scorers import score_all  # noqa: E402
from travel_agent.agent import answer  # noqa: E402
from travel_agent.llm import API_KEY_ENV, LLMClient  # noqa: E402


def key_from_files():
    for name in (".env", ".env.example"):
        path = os.path.join(HERE, name)
        if os.path.exists(path):
            for line in open(path, encoding="utf-8"):
                line = line.strip()
                if line.startswith(API_KEY_ENV + "="):
                    return line.split("=", 1)[1].strip().strip("'\"")
    return None


client = LLMClient(api_key=os.environ.get(API_KEY_ENV) or key_from_files())
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    inp = {k: req[k] for k in ("question", "traveler_tier", "locale") if k in req}
    out = answer(inp, client=client)
    expected = expected_for(req["template"], req.get("ref"))
    sys.stdout.write(json.dumps({"output": out, "expected": expected, "scores": score_all(inp, out, expected)}) + "\n")
