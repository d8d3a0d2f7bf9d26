"""Tests for nsnet.extract.annotations: every reader, auto-detection, and malformed inputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from nsnet.extract.annotations import (
    FORMATS,
    AnnotationError,
    Manifest,
    VideoEntry,
    activitynet,
    csv_list,
    detect_format,
    folder,
    kinetics,
    load_manifest,
    normalise_split,
    ucf101,
)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def by_id(manifest: Manifest) -> dict[str, VideoEntry]:
    return {e.video_id: e for e in manifest.entries}


# ---------------------------------------------------------------- ActivityNet

def activitynet_json(database: dict, taxonomy: list | None = None) -> dict:
    data: dict = {"version": "VERSION 1.3", "database": database}
    if taxonomy is not None:
        data["taxonomy"] = taxonomy
    return data


ANET_DB = {
    "aaa": {"subset": "training", "duration": 10.0, "url": "u",
            "annotations": [{"label": "Surfing", "segment": [0.0, 3.0]},
                            {"label": "Diving", "segment": [4.0, 6.0]},
                            {"label": "Surfing", "segment": [7.0, 9.0]}]},
    "bbb": {"subset": "validation", "duration": 5.0, "url": "u",
            "annotations": [{"label": "Diving", "segment": [1.0, 2.0]}]},
    "ccc": {"subset": "testing", "duration": 5.0, "url": "u", "annotations": []},
    "ddd": {"subset": "training", "duration": 5.0, "url": "u",
            "annotations": [{"label": "Surfing", "segment": [0.0, 1.0]}]},
}
ANET_TAXONOMY = [
    {"nodeId": 1, "nodeName": "Root", "parentId": None, "parentName": None},
    {"nodeId": 2, "nodeName": "Sports", "parentId": 1, "parentName": "Root"},
    {"nodeId": 3, "nodeName": "Surfing", "parentId": 2, "parentName": "Sports"},
    {"nodeId": 4, "nodeName": "Diving", "parentId": 2, "parentName": "Sports"},
    {"nodeId": 5, "nodeName": "Archery", "parentId": 2, "parentName": "Sports"},
]


def test_activitynet_labels_splits_paths(tmp_path: Path) -> None:
    ann = write(tmp_path / "anet.json", json.dumps(activitynet_json(ANET_DB, ANET_TAXONOMY)))
    root = tmp_path / "videos"
    touch(root / "v_aaa.mp4")
    touch(root / "validation" / "bbb.mkv")  # subset folder + bare id + other extension
    touch(root / "test" / "v_ccc.webm")  # normalised subset folder name
    m = activitynet.read(ann, root)
    e = by_id(m)
    assert [x.video_id for x in m.entries] == ["aaa", "bbb", "ccc", "ddd"]
    assert e["aaa"].labels == ("Diving", "Surfing")  # distinct labels, sorted -> multi-label
    assert e["bbb"].labels == ("Diving",) and e["ccc"].labels == ()
    assert [x.split for x in m.entries] == ["train", "val", "test", "train"]
    assert e["aaa"].path == (root / "v_aaa.mp4").resolve()
    assert e["bbb"].path == (root / "validation" / "bbb.mkv").resolve()
    assert e["ccc"].path == (root / "test" / "v_ccc.webm").resolve()
    assert e["ddd"].path == (root / "v_ddd.mp4").resolve()
    assert [x.video_id for x in m.missing()] == ["ddd"]
    assert m.class_names == ["Archery", "Diving", "Surfing"]  # taxonomy leaves only
    assert m.multilabel and m.format == "activitynet" and m.source == str(ann.resolve())
    expected = np.array([[0, 1, 1], [0, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=np.uint8)
    lm = m.label_matrix()
    assert lm.dtype == np.uint8 and np.array_equal(lm, expected)


def test_activitynet_without_taxonomy_uses_annotation_labels(tmp_path: Path) -> None:
    ann = write(tmp_path / "a.json", json.dumps(activitynet_json(ANET_DB)))
    m = activitynet.read(ann, tmp_path)
    assert m.class_names == ["Diving", "Surfing"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"database": {"a": ', "invalid JSON"),
        ('[1, 2]', "'database'"),
        ('{"database": {}}', "no videos"),
        ('{"database": {"a": {"annotations": []}}}', "missing 'subset'"),
        ('{"database": {"a": {"subset": "dev", "annotations": []}}}', "unknown split"),
        ('{"database": {"a": {"subset": "training", "annotations": [{"segment": [0, 1]}]}}}', "'label'"),
        ('{"database": {"a": {"subset": "training"}, "a": {"subset": "testing"}}}', "duplicate video id 'a'"),
        ('{"database": {"a": {"subset": "training"}}, "taxonomy": {"x": 1}}', "taxonomy"),
    ],
)
def test_activitynet_malformed(tmp_path: Path, text: str, message: str) -> None:
    ann = write(tmp_path / "bad.json", text)
    with pytest.raises(AnnotationError, match=message) as info:
        activitynet.read(ann, tmp_path)
    assert "\n" not in str(info.value) and str(ann.name) in str(info.value)


def test_activitynet_bad_json_reports_line(tmp_path: Path) -> None:
    ann = write(tmp_path / "bad.json", '{\n"database": {\n"a": oops}}')
    with pytest.raises(AnnotationError, match=r"bad\.json:3: invalid JSON"):
        activitynet.read(ann, tmp_path)


# ------------------------------------------------------------------- Kinetics

KINETICS_CSV = """label,youtube_id,time_start,time_end,split,is_cc
abseiling,AAA,0,10,train,0
playing guitar,BBB,5,15,train,0
abseiling,CCC,20,30,val,1
playing guitar,DDD,1,11,validate,0
"""


def test_kinetics_layouts_and_ids(tmp_path: Path) -> None:
    ann = write(tmp_path / "k400.csv", KINETICS_CSV)
    root = tmp_path / "k"
    touch(root / "train" / "abseiling" / "AAA_000000_000010.mp4")
    touch(root / "playing_guitar" / "BBB_000005_000015.webm")
    touch(root / "CCC_000020_000030.mkv")
    m = kinetics.read(ann, root)
    e = by_id(m)
    assert list(e) == ["AAA_000000_000010", "BBB_000005_000015", "CCC_000020_000030", "DDD_000001_000011"]
    assert e["AAA_000000_000010"].path == (root / "train/abseiling/AAA_000000_000010.mp4").resolve()
    assert e["BBB_000005_000015"].path == (root / "playing_guitar/BBB_000005_000015.webm").resolve()
    assert e["CCC_000020_000030"].path == (root / "CCC_000020_000030.mkv").resolve()
    assert e["DDD_000001_000011"].path == (root / "DDD_000001_000011.mp4").resolve()
    assert [x.video_id for x in m.missing()] == ["DDD_000001_000011"]
    assert [x.split for x in m.entries] == ["train", "train", "val", "val"]
    assert m.class_names == ["abseiling", "playing guitar"]
    assert not m.multilabel
    assert np.array_equal(m.label_matrix(), np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.uint8))


def test_kinetics_test_split_without_label_column(tmp_path: Path) -> None:
    ann = write(tmp_path / "test.csv", "youtube_id,time_start,time_end,split\nEEE,3,13,test\n")
    touch(tmp_path / "test" / "EEE_000003_000013.mp4")
    m = kinetics.read(ann, tmp_path)
    (entry,) = m.entries
    assert entry.labels == () and entry.split == "test" and m.class_names == []
    assert entry.path == (tmp_path / "test" / "EEE_000003_000013.mp4").resolve() and m.missing() == []
    assert m.label_matrix().shape == (1, 0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("label,youtube_id,time_end,split\nx,A,1,train\n", "k.csv:1: missing required column 'time_start'"),
        ("label,youtube_id,time_start,time_end,split\nx,A,zero,1,train\n", "k.csv:2: time 'zero'"),
        ("label,youtube_id,time_start,time_end,split\nx,A,0,1\n", "k.csv:2: expected 5 fields"),
        ("label,youtube_id,time_start,time_end,split\nx,A,0,1,holdout\n", "k.csv:2: unknown split"),
        ("label,youtube_id,time_start,time_end,split\nx,A,0,1,train\n\ny,A,0,1,val\n",
         "k.csv:4: duplicate video id 'A_000000_000001'"),
        ("label,youtube_id,time_start,time_end,split\n", "no videos"),
        ("", "empty CSV"),
    ],
)
def test_kinetics_malformed(tmp_path: Path, text: str, message: str) -> None:
    ann = write(tmp_path / "k.csv", text)
    with pytest.raises(AnnotationError, match=message):
        kinetics.read(ann, tmp_path)


# --------------------------------------------------------------------- UCF101

def make_ucf(tmp_path: Path, newline: str = "\n") -> tuple[Path, Path]:
    lists = tmp_path / "ucfTrainTestlist"
    write(lists / "classInd.txt", "1 ApplyEyeMakeup\n2 Archery\n3 HandstandPushups\n", newline)
    write(lists / "trainlist01.txt",
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nHandstandPushups/v_HandStandPushups_g08_c01.avi 3\n",
          newline)
    write(lists / "testlist01.txt", "Archery/v_Archery_g01_c01.avi\n\n", newline)
    write(lists / "trainlist02.txt", "Archery/v_Archery_g01_c01.avi 2\n", newline)
    write(lists / "testlist02.txt",
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi\nHandstandPushups/v_HandStandPushups_g08_c01.avi\n",
          newline)
    root = tmp_path / "UCF-101"
    touch(root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g08_c01.avi")
    touch(root / "Archery" / "v_Archery_g01_c01.avi")
    return lists, root


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_ucf101_split1_and_split2(tmp_path: Path, newline: str) -> None:
    lists, root = make_ucf(tmp_path, newline)
    m1 = ucf101.read(lists, root, split_id=1)
    assert [(e.video_id, e.labels, e.split) for e in m1.entries] == [
        ("v_ApplyEyeMakeup_g08_c01", ("ApplyEyeMakeup",), "train"),
        ("v_HandStandPushups_g08_c01", ("HandstandPushups",), "train"),
        ("v_Archery_g01_c01", ("Archery",), "val"),
    ]
    assert m1.class_names == ["ApplyEyeMakeup", "Archery", "HandstandPushups"]  # classInd order
    assert by_id(m1)["v_Archery_g01_c01"].path == (root / "Archery" / "v_Archery_g01_c01.avi").resolve()
    assert [e.video_id for e in m1.missing()] == ["v_HandStandPushups_g08_c01"]
    assert np.array_equal(m1.label_matrix(), np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.uint8))

    m2 = ucf101.read(lists / "classInd.txt", root, split_id=2)
    assert {e.video_id: e.split for e in m2.entries} == {
        "v_Archery_g01_c01": "train", "v_ApplyEyeMakeup_g08_c01": "val", "v_HandStandPushups_g08_c01": "val",
    }
    assert [e.video_id for e in m2.subset("validation").entries] == [
        "v_ApplyEyeMakeup_g08_c01", "v_HandStandPushups_g08_c01"]


def test_ucf101_flat_video_folder(tmp_path: Path) -> None:
    lists, _ = make_ucf(tmp_path)
    flat = tmp_path / "flat"
    touch(flat / "v_ApplyEyeMakeup_g08_c01.avi")
    m = ucf101.read(lists, flat)
    assert by_id(m)["v_ApplyEyeMakeup_g08_c01"].path == (flat / "v_ApplyEyeMakeup_g08_c01.avi").resolve()
    assert by_id(m)["v_Archery_g01_c01"].path == (flat / "Archery" / "v_Archery_g01_c01.avi").resolve()


@pytest.mark.parametrize(
    "filename, text, message",
    [
        ("trainlist01.txt", "Archery/v_Archery_g01_c02.avi 7\n", r"trainlist01\.txt:1: unknown class index '7'"),
        ("trainlist01.txt", "Archery/v_Archery_g01_c02.avi 1\n", "class index 1 is 'ApplyEyeMakeup' but folder"),
        ("testlist01.txt", "Archery/v_Archery_g01_c01.avi\nBowling/v_Bowling_g01_c01.avi\n",
         r"testlist01\.txt:2: unknown class folder 'Bowling'"),
        ("testlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi\n", "duplicate video id"),
        ("classInd.txt", "1 ApplyEyeMakeup\n3 Archery\n", r"classInd\.txt:2: class index 3 out of order"),
        ("classInd.txt", "ApplyEyeMakeup\n", r"classInd\.txt:1: expected"),
    ],
)
def test_ucf101_malformed(tmp_path: Path, filename: str, text: str, message: str) -> None:
    lists, root = make_ucf(tmp_path)
    write(lists / filename, text)
    with pytest.raises(AnnotationError, match=message):
        ucf101.read(lists, root)


def test_ucf101_missing_split_file(tmp_path: Path) -> None:
    lists, root = make_ucf(tmp_path)
    with pytest.raises(AnnotationError, match=r"trainlist03\.txt: annotation file not found"):
        ucf101.read(lists, root, split_id=3)
    with pytest.raises(AnnotationError, match="split_id"):
        ucf101.read(lists, root, split_id=0)


# --------------------------------------------------------------------- folder

def expected_hash_split(rel: str) -> str:
    return "train" if int(hashlib.sha1(rel.encode()).hexdigest()[:8], 16) % 100 < 80 else "val"


def test_folder_without_split_dirs_uses_hash_split(tmp_path: Path) -> None:
    rels = [f"cats/c{i}.mp4" for i in range(10)] + [f"dogs/d{i}.AVI" for i in range(10)]
    for rel in rels:
        touch(tmp_path / rel)
    touch(tmp_path / "dogs" / "notes.txt")  # not a video
    touch(tmp_path / "README.md")
    touch(tmp_path / ".hidden" / "x.mp4")
    m = folder.read(tmp_path)
    assert m.class_names == ["cats", "dogs"] and m.format == "folder"
    assert len(m) == 20 and m.missing() == []
    e = by_id(m)
    assert e["cats/c3"].labels == ("cats",) and e["cats/c3"].path == (tmp_path / "cats/c3.mp4").resolve()
    for rel in rels:
        assert e[rel.rsplit(".", 1)[0]].split == expected_hash_split(rel)
    assert {x.split for x in m.entries} == {"train", "val"}  # both present for these 20 names
    assert folder.read(tmp_path).entries == m.entries  # deterministic
    assert m.label_matrix().sum(axis=0).tolist() == [10, 10]


def test_folder_with_split_dirs(tmp_path: Path) -> None:
    touch(tmp_path / "train" / "cats" / "a.mp4")
    touch(tmp_path / "train" / "dogs" / "b.mkv")
    touch(tmp_path / "validation" / "cats" / "c.webm")
    touch(tmp_path / "test" / "birds" / "sub" / "d.mov")
    m = folder.read(tmp_path)
    assert {(e.video_id, e.labels, e.split) for e in m.entries} == {
        ("train/cats/a", ("cats",), "train"),
        ("train/dogs/b", ("dogs",), "train"),
        ("validation/cats/c", ("cats",), "val"),
        ("test/birds/sub/d", ("birds",), "test"),
    }
    assert m.class_names == ["birds", "cats", "dogs"]


def test_folder_errors(tmp_path: Path) -> None:
    touch(tmp_path / "train" / "cats" / "a.mp4")
    touch(tmp_path / "dogs" / "b.mp4")
    with pytest.raises(AnnotationError, match="mixes split folders and class folders"):
        folder.read(tmp_path)
    empty = tmp_path / "empty"
    (empty / "cats").mkdir(parents=True)
    with pytest.raises(AnnotationError, match="no video files"):
        folder.read(empty)


# ------------------------------------------------------------------ plain CSV

def test_csv_with_header_multilabel_and_crlf(tmp_path: Path) -> None:
    touch(tmp_path / "clips" / "a.mp4")
    ann = write(tmp_path / "m.csv",
                "path,label,split\nclips/a.mp4,run;jump,train\nclips/b.mp4,jump|swim,validation\n"
                "clips/c.mp4,,test\n", "\r\n")
    m = csv_list.read(ann)
    assert [(e.video_id, e.labels, e.split) for e in m.entries] == [
        ("clips/a", ("jump", "run"), "train"),
        ("clips/b", ("jump", "swim"), "val"),
        ("clips/c", (), "test"),
    ]
    assert m.entries[0].path == (tmp_path / "clips" / "a.mp4").resolve()
    assert [e.video_id for e in m.missing()] == ["clips/b", "clips/c"]
    assert m.class_names == ["jump", "run", "swim"] and m.multilabel
    assert np.array_equal(m.label_matrix(), np.array([[1, 1, 0], [1, 0, 1], [0, 0, 0]], dtype=np.uint8))


def test_csv_without_header_or_split(tmp_path: Path) -> None:
    ann = write(tmp_path / "ann" / "plain.csv", "a.mp4,run\nsub/b.avi,jump\n")
    root = tmp_path / "videos"
    m = csv_list.read(ann, root=root)
    assert [(e.video_id, e.labels, e.split) for e in m.entries] == [
        ("a", ("run",), "train"), ("sub/b", ("jump",), "train")]
    assert m.entries[1].path == (root / "sub" / "b.avi").resolve()
    assert not m.multilabel
    # headerless rows with a split column, absolute path kept as is
    video = touch(tmp_path / "abs.mp4").resolve()
    ann2 = write(tmp_path / "p2.csv", f"{video},run,testing\n")
    (entry,) = csv_list.read(ann2, root=root).entries
    assert entry.path == video and entry.split == "test" and entry.video_id == video.with_suffix("").as_posix()


def test_csv_roundtrip_and_subset(tmp_path: Path) -> None:
    ann = write(tmp_path / "anet.json", json.dumps(activitynet_json(ANET_DB, ANET_TAXONOMY)))
    m = activitynet.read(ann, tmp_path)
    out = tmp_path / "out" / "manifest.csv"
    out.parent.mkdir()
    m.to_csv(out)
    lines = out.read_text().splitlines()
    assert lines[0] == "path,label,split"
    assert lines[1] == f"{tmp_path.resolve() / 'v_aaa.mp4'},Diving;Surfing,train"
    back = csv_list.read(out)
    assert [(e.path, e.labels, e.split) for e in back.entries] == [(e.path, e.labels, e.split) for e in m.entries]
    train = m.subset("training")
    assert [e.video_id for e in train.entries] == ["aaa", "ddd"] and train.class_names == m.class_names
    assert train.label_matrix().shape == (2, 3)
    with pytest.raises(AnnotationError, match="unknown split"):
        m.subset("dev")


@pytest.mark.parametrize(
    "text, message",
    [
        ("path,split\na.mp4,train\n", r"c\.csv:1: missing required column 'label'"),
        ("path,label,split\na.mp4,run\n", r"c\.csv:2: expected 3 fields"),
        ("a.mp4\n", r"c\.csv:1: expected path,label\[,split\]"),
        ("a.mp4,run,holdout\n", r"c\.csv:1: unknown split 'holdout'"),
        ("path,label\na.mp4,run\na.mkv,jump\n", r"c\.csv:3: duplicate video id 'a'"),
        ("path,label\n,run\n", "empty path"),
        ("path,label\n", "no videos"),
        ("\n\n", "empty CSV"),
    ],
)
def test_csv_malformed(tmp_path: Path, text: str, message: str) -> None:
    ann = write(tmp_path / "c.csv", text)
    with pytest.raises(AnnotationError, match=message):
        csv_list.read(ann)


def test_label_matrix_rejects_unknown_label(tmp_path: Path) -> None:
    m = Manifest([VideoEntry("x", tmp_path / "x.mp4", ("a", "b"), "train")], ["a"], "mem", "csv")
    with pytest.raises(AnnotationError, match="'b' not in class_names"):
        m.label_matrix()


# ------------------------------------------------------------- load / detect

def test_detect_format_and_load(tmp_path: Path) -> None:
    anet = write(tmp_path / "anet.json", json.dumps(activitynet_json(ANET_DB)))
    kin = write(tmp_path / "k.csv", KINETICS_CSV)
    plain = write(tmp_path / "p.csv", "path,label\na.mp4,run\n")
    lists, root = make_ucf(tmp_path / "ucf")
    folder = tmp_path / "folder"
    touch(folder / "cats" / "a.mp4")
    other = write(tmp_path / "notes.yaml", "x: 1\n")

    assert detect_format(anet) == "activitynet"
    assert detect_format(kin) == "kinetics"
    assert detect_format(plain) == "csv"
    assert detect_format(lists) == "ucf101"
    assert detect_format(lists / "classInd.txt") == "ucf101"
    assert detect_format(folder) == "folder"
    with pytest.raises(AnnotationError, match="cannot detect"):
        detect_format(other)

    assert load_manifest(anet).format == "activitynet"
    assert load_manifest(kin, root=tmp_path).format == "kinetics"
    assert load_manifest(plain).entries[0].path == (tmp_path / "a.mp4").resolve()
    assert load_manifest(folder).class_names == ["cats"]
    ucf = load_manifest(lists)  # root defaults to the parent of ucfTrainTestlist
    assert ucf.format == "ucf101"
    assert by_id(ucf)["v_Archery_g01_c01"].path == (tmp_path / "ucf" / "Archery" / "v_Archery_g01_c01.avi").resolve()
    assert load_manifest(lists / "classInd.txt", root=root).missing() == ucf101.read(lists, root).missing()
    assert load_manifest(plain, format="csv").format == "csv"
    with pytest.raises(AnnotationError, match="unknown annotation format"):
        load_manifest(plain, format="hmdb")
    with pytest.raises(AnnotationError, match="not found"):
        load_manifest(tmp_path / "nope.json")
    assert FORMATS[0] == "auto"


def test_normalise_split() -> None:
    assert [normalise_split(s) for s in ("training", "Validation", "testing", "val", " train ")] == [
        "train", "val", "test", "val", "train"]
    with pytest.raises(AnnotationError, match="unknown split 'dev'"):
        normalise_split("dev")
