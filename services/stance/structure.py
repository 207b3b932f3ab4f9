"""Document structure: stance headings over lists, list items, roll-call lines and wire datelines."""

from __future__ import annotations

import re

from services.gazetteer import capitals_upper
from services.types import Stance

ITEM = re.compile(r"^(?:(\d{1,2})[.)]|[•\-–—*·▪►])\s+")
DATELINE = re.compile(r"^([A-ZÀ-Ý][A-ZÀ-Ý .'’-]{1,30}?)\s*(?:,\s*[A-Z][\w .]*)?\s*[—–-]{1,2}\s+")
ROLL_CALL = re.compile(
    r"^(yes|no|yeas?|nays?|in favou?r|for|against|abstain\w*|abstentions?|did not vote|not voting"
    r"|absent|non-voting)\b[^:\n]{0,40}:",
    re.I,
)
_ROLL_STANCE = {
    "yes": Stance.OPPOSES,
    "yea": Stance.OPPOSES,
    "yeas": Stance.OPPOSES,
    "in favour": Stance.OPPOSES,
    "in favor": Stance.OPPOSES,
    "for": Stance.OPPOSES,
    "no": Stance.SUPPORTS,
    "nay": Stance.SUPPORTS,
    "nays": Stance.SUPPORTS,
    "against": Stance.SUPPORTS,
}
HEADING_STRENGTH = 2.5
ROLL_STRENGTH = 2.2


def roll_call_stance(line: str) -> tuple[bool, Stance | None]:
    """(is a roll-call line, its stance); "did not vote" lines are roll calls with no stance."""
    m = ROLL_CALL.match(line) if ":" in line else None  # the label always ends with a colon
    if not m:
        return False, None
    label = m.group(1).lower()
    if label.startswith("abstain") or label.startswith("abstention"):
        return True, Stance.NEUTRAL
    return True, _ROLL_STANCE.get(label)


def dateline_code(line: str) -> tuple[str | None, int]:
    """Country of a wire dateline ("ISLAMABAD — ...") and the length of the dateline."""
    m = DATELINE.match(line)
    if not m:
        return None, 0
    code = capitals_upper().get(m.group(1).strip())
    return (code, m.end()) if code else (None, 0)


def is_heading(line: str, next_line: str | None) -> bool:
    """A lead line that introduces a list: ends with a colon, or is short and followed by a list item."""
    if ITEM.match(line) or next_line is None:
        return False
    if not ITEM.match(next_line):
        return False
    return line.endswith(":") or (len(line.split()) <= 14 and not line.endswith((".", "!", "?")))
