#!/usr/bin/env python3
"""A scripted, deterministic "change agent" for the travel-agent example.

The flywheel runs it inside a working copy of examples/travel-agent with a markdown brief on stdin. For
each planted defect the brief points at, it applies a targeted edit:
  (a) cancellation/refund messages deflected to the care team -> travel_agent/policy.py (ESCALATION_KEYWORDS)
  (b) lookup_booking rejecting references with digits or in lower case -> travel_agent/tools.py
It prints what it changed, or "no change"; exit 0 either way. Never runs git. Idempotent.

Usage: python change_agent.py [agent-root-dir] < brief.md
"""
import os
import re
import sys

MENTIONS_DEFLECTION = re.compile(r"\b(cancel\w*|refunds?|escalat\w*|hand-?off|deflect\w*|care team|complaint|correct_intent|intent)\b", re.I)
MENTIONS_TOOL = re.compile(r"\b(lookup_booking|tool[ _-]?errors?|no_tool_error|BookingLookupError|booking ref\w*|reference)\b", re.I)


def fix_escalation(path):
    if not os.path.exists(path):
        return False, f"skip (a): {path} not found"
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^ESCALATION_KEYWORDS\s*=\s*\[([^\]]*)\]", text, re.M)
    if not m:
        return False, "skip (a): ESCALATION_KEYWORDS not found"
    items = re.findall(r"([\"'])(.*?)\1", m.group(1))
    words = [w for _, w in items]
    kept = [w for w in words if not re.match(r"(cancel|refund)", w.strip(), re.I)]
    if kept == words:
        return False, "(a) already fixed: ESCALATION_KEYWORDS has no cancel/refund keywords"
    new = "ESCALATION_KEYWORDS = [" + ", ".join(f'"{w}"' for w in kept) + "]"
    open(path, "w", encoding="utf-8").write(text[: m.start()] + new + text[m.end():])
    removed = ", ".join(repr(w) for w in words if w not in kept)
    return True, f"(a) {path}: removed {removed} from ESCALATION_KEYWORDS, so cancellation and refund questions reach the router instead of the care-team hand-off"


def fix_lookup(path):
    if not os.path.exists(path):
        return False, f"skip (b): {path} not found"
    text = open(path, encoding="utf-8").read()
    notes = []
    old = 'BOOKING_REF_PATTERN = re.compile(r"^[A-Z]{6}$")'
    if old in text:
        text = text.replace(old, 'BOOKING_REF_PATTERN = re.compile(r"^[A-Z0-9]{6}$")')
        notes.append("BOOKING_REF_PATTERN accepts the new references with digits")
    norm = re.compile(r"(def normalize_ref\(raw: str\) -> str:\n\s+)return raw\n")
    if norm.search(text):
        text = norm.sub(r"\1return raw.strip().upper()\n", text)
        notes.append("normalize_ref upper-cases the reference (qx4tba -> QX4TBA)")
    if not notes:
        return False, "(b) already fixed: lookup_booking accepts references with digits and in lower case"
    open(path, "w", encoding="utf-8").write(text)
    return True, f"(b) {path}: " + "; ".join(notes)


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.getcwd())
    brief = "" if sys.stdin.isatty() else sys.stdin.read()
    pkg = next((p for p in (os.path.join(root, "travel_agent"), os.path.join(root, "examples", "travel-agent", "travel_agent")) if os.path.isdir(p)), None)
    if not pkg:
        print(f"no change (no travel_agent package under {root})")
        return
    results = []
    if MENTIONS_DEFLECTION.search(brief):
        results.append(fix_escalation(os.path.join(pkg, "policy.py")))
    if MENTIONS_TOOL.search(brief):
        results.append(fix_lookup(os.path.join(pkg, "tools.py")))
    for _, note in results:
        print(note)
    changed = sum(1 for c, _ in results if c)
    print(f"changed {changed} file(s)" if changed else "no change")


main()
