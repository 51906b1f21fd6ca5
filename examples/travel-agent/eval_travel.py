"""Eval for the Wayfarer travel agent: `bt eval eval_travel.py` (smoke: `bt eval --first 20 eval_travel.py`).

The agent calls its LLM through travel_agent.llm.LLMClient, which needs EXAMPLE_LLM_API_KEY: bt does not
pass your shell's variables to the runner, so put the key in `.env` next to this file (copy .env.example)
— the flywheel loads it for `bt eval`.

Environment:
  BRAINTRUST_DEFAULT_PROJECT  project name (default "travel-agent"; bt sets it from -p)
  FLYWHEEL_EVAL_DATASET       optional Braintrust dataset whose labeled rows are added to the golden rows
  FLYWHEEL_EVAL_SPLIT         train | validation | all (default all): filters dataset rows by metadata.split;
                              `--param split=validation` overrides it
  FLYWHEEL_EVAL_GOLDEN        0/false leaves out the hand-made golden rows (golden_dataset.json)
  FLYWHEEL_EXPERIMENT_NAME    experiment name
  FLYWHEEL_AGENT_DIR          directory holding the travel_agent package to evaluate (default: next to this file)
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT_DIR = os.path.abspath(os.environ.get("FLYWHEEL_AGENT_DIR", "").strip() or HERE)
for p in (HERE, AGENT_DIR):
    if p not in sys.path:
        sys.path.insert(0, p)

from braintrust import Eval, init_dataset  # noqa: E402

from scorers import answer_quality, correct_intent, no_tool_error  # noqa: E402
from travel_agent import AGENT_VERSION, answer  # noqa: E402
from travel_agent.llm import LLMClient  # noqa: E402

PROJECT = os.environ.get("BRAINTRUST_DEFAULT_PROJECT", "").strip() or "travel-agent"
DATASET = os.environ.get("FLYWHEEL_EVAL_DATASET", "").strip() or None
GOLDEN = os.environ.get("FLYWHEEL_EVAL_GOLDEN", "").strip().lower() not in ("0", "false", "no")


def _split() -> str:
    try:
        params = json.loads(os.environ.get("BT_EVAL_PARAMS_JSON") or "{}")
    except ValueError:
        params = {}
    value = params.get("split") if isinstance(params.get("split"), str) else None
    return (value or os.environ.get("FLYWHEEL_EVAL_SPLIT", "") or "all").strip().lower() or "all"


SPLIT = _split()


def _to_input(value):
    if isinstance(value, str):
        return {"question": value}
    if isinstance(value, dict):
        q = value.get("question") or value.get("message") or value.get("query")
        if isinstance(q, str):
            return {**{k: v for k, v in value.items() if k in ("traveler_tier", "locale", "channel")}, "question": q}
    return None


def _labeled(expected) -> bool:
    if expected is None:
        return False
    if isinstance(expected, str):
        return bool(expected.strip())
    return isinstance(expected, dict) and bool(expected)


def golden_rows():
    with open(os.path.join(HERE, "golden_dataset.json"), encoding="utf-8") as f:
        rows = json.load(f)
    return [
        {"id": r["id"], "input": r["input"], "expected": r["expected"], "metadata": {**r.get("metadata", {}), "source": "golden"}}
        for r in rows
    ]


def dataset_rows():
    if not DATASET:
        return []
    out = []
    for row in init_dataset(project=PROJECT, name=DATASET):
        meta = row.get("metadata") or {}
        if SPLIT != "all" and str(meta.get("split", "")).lower() != SPLIT:
            continue
        inp = _to_input(row.get("input"))
        if inp is None or not _labeled(row.get("expected")):
            continue  # unlabeled rows cannot be scored
        expected = row["expected"] if isinstance(row["expected"], dict) else {"answer": row["expected"]}
        out.append({"id": row["id"], "input": inp, "expected": expected, "metadata": {**meta, "source": "dataset", "dataset": DATASET}})
    return out


_client = None


def task(input):
    global _client
    if _client is None:
        _client = LLMClient()  # reads EXAMPLE_LLM_API_KEY; raises without it
    out = answer(input, client=_client)
    # The eval scores the answer, the intent and the tool calls; LLM call details stay out of the output.
    return {k: out[k] for k in ("answer", "intent", "tool_calls")}


Eval(
    PROJECT,
    data=lambda: (golden_rows() if GOLDEN else []) + dataset_rows(),
    task=task,
    scores=[correct_intent, answer_quality, no_tool_error],
    experiment_name=os.environ.get("FLYWHEEL_EXPERIMENT_NAME", "").strip() or None,
    metadata={"agent_version": AGENT_VERSION, "dataset": DATASET, "split": SPLIT, "golden_rows": GOLDEN},
    max_concurrency=4,
)
