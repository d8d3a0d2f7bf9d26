"""Tests for benchmarks/build_controlled.py: the class groups, pure planning on fake clip counts,
the motion window, and one tiny end-to-end build on generated photos and testsrc clips (never
reads /work/shared)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import benchmarks.build_controlled as bc  # noqa: E402
import benchmarks.build_untrimmed as bu  # noqa: E402

ALL_GROUPS = {**bc.LABELLED_GROUPS, **bc.DISTRACTOR_GROUPS}


def test_groups_are_disjoint_and_big_enough() -> None:
    members = [i for idx in ALL_GROUPS.values() for i in idx]
    assert len(members) == len(set(members)), "an ImageNet class sits in two groups"
    assert all(0 <= i < 1000 for i in members)
    assert len(bc.LABELLED_GROUPS) >= 10
    assert min(len(v) for v in bc.LABELLED_GROUPS.values()) >= 10  # >= 4 val and 6 train photos


def fake_photos() -> dict[int, bc.Photo]:
    group_of = {i: g for g, idx in ALL_GROUPS.items() for i in idx}
    return {i: bc.Photo(i, f"class{i}", f"c{i}.jpg", g) for i, g in group_of.items()}


def test_photo_split_is_disjoint_and_deterministic() -> None:
    split = bc.split_photos(fake_photos(), seed=3, val_fraction=0.4)
    assert split == bc.split_photos(fake_photos(), seed=3, val_fraction=0.4)
    for group, members in ALL_GROUPS.items():
        train, val = {p.index for p in split["train"][group]}, {p.index for p in split["val"][group]}
        assert train and val and not train & val and train | val == set(members)
        assert len(val) == min(len(members) - 1, max(1, round(0.4 * len(members))))


def _plan(**kw: object) -> tuple[list[bc.ControlledPlan], dict[str, int]]:
    cfg = bc.ControlledConfig(out=Path("unused"), **{"n_train": 24, "n_val": 36, "seed": 1, **kw})
    clips = {f"noFight/nofi{i:03d}.mp4": 40 + (7 * i) % 30 for i in range(20)}
    pools = {"train": sorted(clips)[:14], "val": sorted(clips)[14:]}
    photos = bc.split_photos(fake_photos(), cfg.seed, cfg.val_photo_fraction)
    return bc.plan_videos(cfg, photos, pools, clips), clips


def test_plan_labels_shots_and_event_fraction() -> None:
    plans, clips = _plan(event_frac=0.05, distractors=2, confusers=1)
    assert [p.video_id for p in plans][:2] == ["train_00000", "train_00001"]
    assert Counter(p.split for p in plans) == {"train": 24, "val": 36}
    # labels balanced over the 12 coarse classes in each split
    assert set(Counter(p.label for p in plans if p.split == "val").values()) == {3}
    photos = bc.split_photos(fake_photos(), 1, 0.4)
    for p in plans:
        kinds = Counter(s.kind for s in p.shots)
        assert kinds == {"event": 1, "distractor": 2, "confuser": 1}
        assert len(set(p.clips)) == len(p.clips)  # no background clip twice in a video
        spans = bc.compose_spans(p, clips, 24)
        n = spans["num_frames"]
        ev = spans["event"]
        assert abs((ev[1] - ev[0]) - 0.05 * n) <= 1  # the event covers event_frac of the video
        assert n >= 16 * 24 * 0.9  # at least ~min_seconds (the last clip may overshoot)
        for s in p.shots:
            assert s.photo in photos[p.split][s.photo.group]  # photos only from the video's split
            if s.kind == "event":
                assert s.photo.group == p.label
            elif s.kind == "distractor":
                assert s.photo.group in bc.DISTRACTOR_GROUPS
            else:
                assert s.photo.group in bc.LABELLED_GROUPS and s.photo.group != p.label
        # shots and clips tile the video without overlap
        segs = sorted([(c["start_frame"], c["end_frame"]) for c in spans["clips"]]
                      + [(s["start_frame"], s["end_frame"]) for s in spans["shots"]])
        assert segs[0][0] == 0 and segs[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(segs, segs[1:]))
        assert spans["cell"] == {"event_frac": 0.05, "distractors": 2}
    assert _plan(event_frac=0.05, distractors=2, confusers=1)[0] == plans  # deterministic


def test_plan_difficulty_grid_is_balanced_over_cells() -> None:
    cells = bc.parse_grid("0.02,0.1 x 0,4")
    assert cells == ((0.02, 0), (0.02, 4), (0.1, 0), (0.1, 4))
    plans, clips = _plan(cells=cells, n_train=0, n_val=48)
    got = Counter((p.event_frac, sum(s.kind == "distractor" for s in p.shots)) for p in plans)
    assert got == {c: 12 for c in cells}
    for p in plans:
        spans = bc.compose_spans(p, clips, 24)
        ev = spans["event"]
        assert abs((ev[1] - ev[0]) - max(8, p.event_frac * spans["num_frames"])) <= 1
    with pytest.raises(bu.PlanError, match="bad --grid"):
        bc.parse_grid("0.1,0.2")


def test_plan_rejects_bad_knobs() -> None:
    with pytest.raises(bu.PlanError, match="event_frac"):
        _plan(event_frac=0.6)
    with pytest.raises(bu.PlanError, match=">= 0"):
        _plan(distractors=-1)


@pytest.mark.parametrize("w,h", [(400, 300), (300, 400), (320, 180)])
def test_window_fits_the_photo_with_the_frame_aspect(w: int, h: int) -> None:
    for zoom, x, y in [(1.0, 0.0, 0.0), (0.55, 1.0, 1.0), (0.7, 0.3, 0.8)]:
        left, top, right, bottom = bc.window(w, h, 16 / 9, zoom, x, y)
        assert 0 <= left and 0 <= top and right <= w + 1e-9 and bottom <= h + 1e-9
        assert (right - left) / (bottom - top) == pytest.approx(16 / 9)
    left, top, right, bottom = bc.window(w, h, 16 / 9, 1.0, 0.5, 0.5)
    assert max(right - left - w, bottom - top - h) == pytest.approx(0.0, abs=1e-9)  # full zoom touches two sides


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from PIL import Image

    root = tmp_path_factory.mktemp("sources")
    photos = root / "photos"
    photos.mkdir()
    rows = ["index\twnid\tname\tfile\toriginal_size"]
    rng = np.random.default_rng(0)
    for i in sorted(i for idx in ALL_GROUPS.values() for i in idx):
        colour = rng.integers(0, 255, size=3)
        img = np.broadcast_to(colour, (30, 40, 3)).astype(np.uint8).copy()
        img[:, : 4 + i % 30] = 255 - colour  # a band, so pans change the picture
        Image.fromarray(img).save(photos / f"c{i}.jpg")
        rows.append(f"{i}\tn{i:08d}\tclass{i}\tc{i}.jpg\t40x30")
    (photos / "classes.tsv").write_text("\n".join(rows) + "\n")
    bg = root / "fight-surv"
    ffmpeg = bu.ffmpeg_exe()
    for j, (size, src) in enumerate([("160x120", "testsrc"), ("120x160", "testsrc2"),
                                     ("160x90", "smptebars"), ("96x96", "rgbtestsrc")]):
        dst = bg / "noFight" / f"nofi{j + 1:03d}.mp4"
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"{src}=size={size}:rate=25", "-t", "0.5", "-pix_fmt", "yuv420p",
                        "-c:v", "libx264", "-preset", "ultrafast", str(dst)], check=True)
    (bg / "fight").mkdir()
    return photos, bg


def _tiny(photos: Path, bg: Path, out: Path, **kw: object) -> bc.ControlledConfig:
    args: dict = dict(out=out, photos=photos, background=bg, seed=0, n_train=2, n_val=2,
                      min_seconds=1.0, max_seconds=1.5, event_frac=0.2, distractors=1, min_shot_frames=3,
                      val_clip_fraction=0.5, workers=2,
                      encode=bu.EncodeConfig(width=64, height=36, fps=24, gop=8))
    args.update(kw)
    return bc.ControlledConfig(**args)


@pytest.mark.slow
def test_end_to_end_build_resume_and_extract_reader(tiny_sources: tuple[Path, Path], tmp_path: Path) -> None:
    import decord

    from nsnet.extract.annotations import csv_list

    photos, bg = tiny_sources
    out = tmp_path / "out"
    report = bc.build(_tiny(photos, bg, out))
    assert report["videos"] == report["written"] == 4
    spans = json.loads((out / "spans.json").read_text())
    with open(out / "annotations.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["path", "label", "split"] and len(rows) == 5
    for path, label, split in rows[1:]:
        entry = spans[Path(path).stem]
        assert (entry["label"], entry["split"]) == (label, split)
        vr = decord.VideoReader(str(out / path))
        assert len(vr) == entry["num_frames"] and vr[0].shape == (36, 64, 3)
        ev = entry["event"]
        event_frame = vr[(ev[0] + ev[1]) // 2].asnumpy().astype(int)
        # the event frame shows the (two-colour) photo, not a test pattern: two colours (up to
        # resampling and compression at the band's edge) cover nearly every pixel
        _, counts = np.unique(event_frame.reshape(-1, 3) // 32, axis=0, return_counts=True)
        assert np.sort(counts)[-2:].sum() >= 0.8 * counts.sum()
        assert len(entry["distractors"]) == 1
    groups = json.loads((out / "groups.json").read_text())
    assert set(groups["labelled"]) == set(bc.LABELLED_GROUPS)
    manifest = csv_list.read(out / "annotations.csv")
    assert len(manifest.entries) == 4 and set(manifest.class_names) <= set(bc.LABELLED_GROUPS)

    first = (out / "spans.json").read_text()
    again = bc.build(_tiny(photos, bg, out, workers=1))
    assert again["written"] == 0 and again["clips_normalised"] == 0
    assert (out / "spans.json").read_text() == first
    assert not list(out.rglob("*.part"))
    with pytest.raises(bu.BuildError, match="different settings"):
        bc.build(_tiny(photos, bg, out, distractors=2))


@pytest.mark.slow
def test_picture_in_picture_keeps_the_background_around_the_photo(tiny_sources: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    photos, bg = tiny_sources
    cfg = _tiny(photos, bg, tmp_path / "pip", pip=True, n_train=1, n_val=0)
    cache = tmp_path / "clips"
    cache.mkdir()
    shot = bc.Shot("event", bc.Photo(7, "cock", "c7.jpg", "bird"), 4, 0,
                   bc.Motion(1.0, 0.5, 0.5, 0.8, 0.2, 0.2, pip_scale=0.5, pip_x=1.0, pip_y=0.0))
    base = np.full((36, 64, 3), 77, np.uint8)
    frames = bc.render_shot(photos / "c7.jpg", shot, 64, 36, base)
    assert frames.shape == (4, 36, 64, 3)
    # the photo occupies the top-right 32x18 block, the rest is the background frame
    assert (frames[:, :, :32] == 77).all() and (frames[:, 18:] == 77).all()
    assert not (frames[:, :18, 32:] == 77).all()
    assert cfg.pip


def test_spans_record_where_a_picture_in_picture_photo_sits() -> None:
    plans, clips = _plan(event_frac=0.05, distractors=1, pip=True)
    for p in plans[:5]:
        shots = bc.compose_spans(p, clips, 24)["shots"]
        for s, shot in zip(p.shots, shots):
            m = s.motion
            assert shot["pip"] == {"scale": m.pip_scale, "x": m.pip_x, "y": m.pip_y}
            assert 0.25 <= m.pip_scale <= 0.5
    full, clips = _plan(event_frac=0.05, distractors=1)
    assert all("pip" not in s for s in bc.compose_spans(full[0], clips, 24)["shots"])
