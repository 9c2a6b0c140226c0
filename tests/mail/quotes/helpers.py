"""What the reply-extraction tests share."""

from __future__ import annotations

from collections import Counter


def _letters(text: str) -> Counter[str]:
    return Counter(ch for ch in text if not ch.isspace())
