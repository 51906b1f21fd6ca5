"""lookup_booking: the booking service the agent calls for messages that name a booking reference."""
from __future__ import annotations

import hashlib
import re
from typing import Dict

# Booking references ("PNRs"): six characters. Since the new reservation system went live they contain
# digits as well as letters.
BOOKING_REF_PATTERN = re.compile(r"^[A-Z]{6}$")
# How references are found in free text ("booking QX4TBA", "reference qx4tba", "PNR 7KD2LM").
BOOKING_REF_IN_TEXT = re.compile(r"\b(?:booking|reference|PNR)\s+([A-Za-z0-9]{6})\b", re.I)

_ROUTES = ["BER-LIS", "MUC-JFK", "AMS-BCN", "FRA-SIN", "CDG-YUL", "VIE-ATH", "ZRH-LHR", "MAD-MEX"]
_STATUS = ["confirmed", "confirmed", "confirmed", "checked in", "changed"]


class BookingLookupError(Exception):
    pass


def normalize_ref(raw: str) -> str:
    return raw


def lookup_booking(ref: str) -> Dict[str, str]:
    ref = normalize_ref(ref)
    if not BOOKING_REF_PATTERN.match(ref):
        raise BookingLookupError(f"BookingLookupError: invalid booking reference '{ref}'")
    h = hashlib.sha256(ref.encode()).digest()
    return {
        "ref": ref,
        "route": _ROUTES[h[0] % len(_ROUTES)],
        "date": f"2026-{1 + h[1] % 12:02d}-{1 + h[2] % 28:02d}",
        "status": _STATUS[h[3] % len(_STATUS)],
    }
