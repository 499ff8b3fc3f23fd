"""Seeds derived from the one base seed of the configuration."""

from __future__ import annotations

import hashlib


def derived_seed(base: int, *keys) -> int:
    """A 31-bit seed from the base seed and any keys (dataset, purpose, run).

    Stable across Python sessions and machines (a hash of the text, not Python's salted hash()),
    so the same config gives the same numbers; different keys give independent streams.
    """
    text = "/".join(str(k) for k in (base, *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF
