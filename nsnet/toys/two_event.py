"""A planted toy where class specificity matters (TSQNet tests and sanity checks).

Every video holds ``events`` frames of its labelled class a and ``events`` frames of a distractor
class b; both look alike in kind (signal * u_c + noise: a class-agnostic "eventness" score cannot
tell them apart). The classes come in scene groups (classes 2g and 2g+1 share scene v_g), every
frame of a video carries its label's scene, and b is drawn from another group: the label is the
event class that fits the scene. A class-specific query for a finds a's frames; one class-agnostic
query cannot prefer a over b in every video.

The object head (for TQM) detects events (objects 0..C-1 along u_c) and scenes (C..2C-1 along
v_g); event objects are embedded near their class-name embedding, scene objects near the names of
the group's classes, the rest at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.tsqnet.train import TSQPriors


@dataclass
class TwoEventSpec:
    """Size and difficulty of the two-event toy."""

    num_videos: int = 64
    num_classes: int = 4  # even: pairs share a scene
    num_frames: int = 16
    light_dim: int = 32
    text_dim: int = 16
    events: int = 3
    signal: float = 3.0
    scene: float = 1.0
    noise: float = 0.25
    seed: int = 0


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def two_event_arrays(spec: TwoEventSpec | None = None, split: str = "train") -> tuple[SamplerArrays, np.ndarray, TSQPriors]:
    """Returns (arrays, mask, priors): single-label SamplerArrays with recognizer logits that favour
    each event's class on its frames, the boolean mask [N, T] of the labelled class's frames, and
    TSQ priors (object head on the light features, object and class-name embeddings)."""
    s = spec or TwoEventSpec()
    c, t, d, e = s.num_classes, s.num_frames, s.light_dim, s.text_dim
    if c < 4 or c % 2:
        raise ValueError("the two-event toy needs an even number of classes >= 4")
    geo = np.random.default_rng(s.seed)
    u = _unit(geo, c, d)
    v = _unit(geo, c, d)[np.arange(c) // 2]  # classes 2g and 2g+1 share the scene of group g
    cls_emb = _unit(geo, c, e)
    obj_w = np.concatenate([2 * u, 4 * v, 2 * _unit(geo, c, d)])
    obj_emb = np.concatenate([cls_emb + 0.3 * _unit(geo, c, e), cls_emb + 0.3 * _unit(geo, c, e), _unit(geo, c, e)])
    obj_emb /= np.linalg.norm(obj_emb, axis=1, keepdims=True)
    rng = np.random.default_rng([s.seed, sum(map(ord, split))])
    n = s.num_videos
    a = rng.integers(0, c, n)
    b = 2 * ((a // 2 + rng.integers(1, c // 2, n)) % (c // 2)) + rng.integers(0, 2, n)
    light = s.noise * rng.standard_normal((n, t, d)) + s.scene * v[a][:, None]
    logits = rng.standard_normal((n, t, c))
    mask = np.zeros((n, t), bool)
    for i in range(n):
        f = rng.choice(t, 2 * s.events, replace=False)
        light[i, f[: s.events]] += s.signal * u[a[i]]
        light[i, f[s.events :]] += s.signal * u[b[i]]
        logits[i, f[: s.events], a[i]] += 4.0
        logits[i, f[s.events :], b[i]] += 4.0
        mask[i, f[: s.events]] = True
    arrays = SamplerArrays(
        light=light.astype(np.float32), labels=np.eye(c, dtype=np.float32)[a],
        class_names=[f"class{i}" for i in range(c)], rec_logits=logits.astype(np.float32),
        video_ids=[f"{split}{i:05d}" for i in range(n)], split=split, fingerprint=f"two-event-{s.seed}",
        extractor_spec={"name": "two-event", "feature_dim": d}, recognizer_spec={"name": "two-event-rec"},
    )
    priors = TSQPriors(obj_weight=obj_w.astype(np.float32), obj_bias=np.zeros(3 * c, np.float32),
                       obj_embed=obj_emb.astype(np.float32), class_embed=cls_emb.astype(np.float32),
                       object_source="two-event toy", text_model="toy")
    return arrays, mask, priors
