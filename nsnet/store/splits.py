"""Split names with an optional percent slice (``train[:80%]``), resolved by FeatureStore.valid_indices."""

from __future__ import annotations

import re

from nsnet.errors import UserError


class SplitError(UserError, ValueError):
    """A split name with a malformed percent slice."""


_SPLIT_SLICE = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<lo>\d{1,3})?%?:(?P<hi>\d{1,3})?%?\]$")


def parse_split(split: str) -> tuple[str, int, int]:
    """Returns ``(name, lo, hi)`` for a split name with an optional percent slice: ``"val"`` ->
    ``("val", 0, 100)``, ``"train[:80%]"`` -> ``("train", 0, 80)``, ``"train[80%:]"`` ->
    ``("train", 80, 100)``. Raises SplitError for a malformed slice."""
    if "[" not in split:
        return split, 0, 100
    m = _SPLIT_SLICE.match(split.strip())
    if not m:
        raise SplitError(f"bad split {split!r}: expected NAME or NAME[a%:b%], e.g. train[:80%]")
    lo, hi = int(m["lo"] or 0), int(m["hi"] or 100)
    if not 0 <= lo < hi <= 100:
        raise SplitError(f"bad split {split!r}: need 0 <= a < b <= 100 in NAME[a%:b%]")
    return m["name"], lo, hi
