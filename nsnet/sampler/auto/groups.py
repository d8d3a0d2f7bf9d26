"""Grouped holdout for ``--variant auto``: a video -> group table, and the split that keeps groups whole.

Videos cut from one source (one YouTube upload, one photo shown in several synthetic videos, one
camera) look alike. When such a group straddles the fit part and the holdout, the holdout rewards
recognising what the candidates already saw, and the choice drifts from what val (other sources)
rewards. With ``-o groups=TABLE`` the holdout takes whole groups: it is the last of ``1 / holdout``
class-stratified group folds (scikit-learn's ``StratifiedGroupKFold``), so its classes keep their
train proportions too.

A table is a JSON object ``{video_id: group}`` or a CSV with the columns ``video_id,group``, at a path
or a URL (read with fsspec, with the process's ``--storage-option`` values). The video ids are the
store's (the annotation path without its extension, e.g. ``train/clip_0001``) or their file names
(``clip_0001``). Segment files also match a name without ActivityNet's ``v_`` prefix
(``nsnet.extract.segments``); a groups table does not.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nsnet.sampler.data import SamplerDataError


def _read_bytes(source: str) -> bytes:
    """Returns the bytes of the file at ``source`` (a local path or an fsspec URL); raises
    SamplerDataError when it is missing or cannot be read."""
    from nsnet.store.location import StoreLocation, remote_errors

    loc = StoreLocation.parse(source)
    try:
        if not loc.is_url:
            return Path(loc.text).read_bytes()
        fs, path = loc.filesystem()
        with remote_errors(loc, missing_ok=True):
            return fs.cat_file(path)
    except (FileNotFoundError, IsADirectoryError):
        raise SamplerDataError(f"groups table {source}: no such file") from None
    except OSError as err:  # permission, I/O: one line naming the table
        raise SamplerDataError(f"groups table {source}: cannot read it ({err.strerror or err})") from None


def parse_groups(text: str, source: str = "groups table") -> dict[str, str]:
    """Returns ``{video_id: group}`` from the text of a JSON object or a ``video_id,group`` CSV; raises
    SamplerDataError naming ``source`` for any other content, an empty table or a video listed twice."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            table = json.loads(text)
        except json.JSONDecodeError as err:
            raise SamplerDataError(f"{source}: not valid JSON ({err})") from None
        pairs = [(str(k), v) for k, v in table.items()]
        bad = next(((k, v) for k, v in pairs if not isinstance(v, (str, int))), None)
        if bad is not None:
            raise SamplerDataError(f"{source}: the group of {bad[0]!r} must be a string or an integer, got {bad[1]!r}")
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"video_id", "group"} <= {f.strip() for f in reader.fieldnames}:
            raise SamplerDataError(f"{source}: expected a JSON object or a CSV with the columns video_id,group "
                                   f"(header: {reader.fieldnames})")
        pairs = []
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if not row["video_id"] or not row["group"]:
                raise SamplerDataError(f"{source}, line {line}: empty video_id or group")
            pairs.append((row["video_id"], row["group"]))
    groups: dict[str, str] = {}
    for video, group in pairs:
        if video in groups and groups[video] != str(group):
            raise SamplerDataError(f"{source}: video {video!r} is in two groups ({groups[video]!r}, {group!r})")
        groups[video] = str(group)
    if not groups:
        raise SamplerDataError(f"{source}: the table is empty")
    return groups


def load_groups(source: str) -> dict[str, str]:
    """Returns ``{video_id: group}`` read from the table at ``source`` (path or URL)."""
    raw = _read_bytes(source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SamplerDataError(f"groups table {source}: not UTF-8 text") from None
    return parse_groups(text, f"groups table {source}")


def video_groups(video_ids: Sequence[str] | None, groups: Mapping[str, str], source: str) -> list[str]:
    """Returns the group of each of ``video_ids`` (looked up by id, then by file name); raises
    SamplerDataError when a video has none."""
    if video_ids is None:
        raise SamplerDataError("a grouped holdout needs the videos' ids; these arrays carry none")
    found = [groups.get(v, groups.get(Path(v).name)) for v in video_ids]
    missing = [v for v, g in zip(video_ids, found) if g is None]
    if missing:
        raise SamplerDataError(f"{len(missing)} of {len(video_ids)} videos have no group in {source} "
                               f"(first: {missing[0]!r}; keys are the store's video ids or their file names)")
    return [str(g) for g in found]


def holdout_folds(share: float) -> int:
    """Returns the number of folds whose last one is a grouped holdout of ``share`` (0.2 -> 5); raises
    SamplerConfigError when ``share`` is not 1/n for a whole n (a grouped holdout is one of n folds)."""
    from nsnet.sampler.options import SamplerConfigError

    n = round(1 / share)
    if n < 2 or abs(1 / share - n) > 0.05:
        raise SamplerConfigError(f"option holdout must be 1/n with groups (0.5, 0.33, 0.25, 0.2, ...): a grouped "
                                 f"holdout is one of n folds; got {share}")
    return n


def grouped_holdout_index(groups_of: Sequence[str], strata: np.ndarray, folds: int) -> np.ndarray:
    """Returns the sorted indices of the holdout: the last of ``folds`` class-stratified folds that keep
    every group whole (scikit-learn's StratifiedGroupKFold, unshuffled, so the same inputs give the same
    split). ``strata`` holds each video's class (its first label for a multi-label set)."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(groups_of))
    if n_groups < folds:
        raise SamplerDataError(f"a grouped holdout of 1/{folds} needs at least {folds} groups; the train videos "
                               f"are in {n_groups}")
    with warnings.catch_warnings():  # "the least populated class has only m members": the split is still valid
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedGroupKFold(n_splits=folds).split(np.zeros(len(groups_of)), strata, groups_of))
    return np.sort(splits[-1][1]).astype(np.int64)


def groups_digest(video_ids: Sequence[str], groups_of: Sequence[str]) -> str:
    """Returns 8 hex digits that identify the grouping of these videos (part of the split's name, so a run
    trained on another grouping is not resumed as this one)."""
    text = "\n".join(f"{v}\t{g}" for v, g in zip(video_ids, groups_of))
    return hashlib.sha1(text.encode()).hexdigest()[:8]
