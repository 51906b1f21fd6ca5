"""The example's labeler: the flywheel runs it with curated rows as JSON on stdin ([{id, input, metadata}])
and reads back [{id, expected}] — the ground truth a person would write (null when it cannot tell).
It never looks at the production output, so a bad answer can never become `expected`."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from questions import label_question  # noqa: E402

rows = json.loads(sys.stdin.read() or "[]")
out = []
for r in rows:
    inp = r.get("input")
    q = inp if isinstance(inp, str) else (inp or {}).get("question") if isinstance(inp, dict) else None
    out.append({"id": r.get("id"), "expected": label_question(q) if isinstance(q, str) else None})
sys.stdout.write(json.dumps(out))
