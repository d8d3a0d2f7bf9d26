"""``--variant auto -o groups=TABLE``: the holdout takes whole groups (no source on both sides), the
table is read from a path or a URL, and a bad table or a video without a group is one clear error."""

from __future__ import annotations

import json

import fsspec
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from nsnet.cli.sampler import fit_sampler_command
from nsnet.sampler.auto.groups import grouped_holdout_index, parse_groups
from nsnet.sampler.auto.select import split_holdout
from nsnet.sampler.data import SamplerDataError
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, write_store

SPEC = PlantedSpec(num_videos=60, num_classes=3, num_frames=12, light_dim=8, rec_dim=6, salient=2)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def planted():
    return planted_saliency_arrays(SPEC, "train")[0]


def _write(path, table: dict[str, str]) -> str:
    path.write_text(json.dumps(table))
    return str(path)


def test_the_holdout_is_a_stratified_fold_of_whole_groups() -> None:
    # hand case: 4 groups of 2 videos, groups a, c of class 0 and b, d of class 1; 2 folds -> one group per class
    hold = grouped_holdout_index(["a", "a", "b", "b", "c", "c", "d", "d"], np.array([0, 0, 1, 1, 0, 0, 1, 1]), 2)
    assert len(hold) == 4 and sorted(np.array([0, 0, 1, 1, 0, 0, 1, 1])[hold]) == [0, 0, 1, 1]
    assert all((i ^ 1) in hold for i in hold)  # each group whole (its two videos are 2j, 2j + 1)
    np.testing.assert_array_equal(hold, grouped_holdout_index(["a", "a", "b", "b", "c", "c", "d", "d"],
                                                              np.array([0, 0, 1, 1, 0, 0, 1, 1]), 2))  # deterministic
    with pytest.raises(SamplerDataError, match="needs at least 5 groups; the train videos are in 4"):
        grouped_holdout_index(list("aabbccdd"), np.zeros(8, int), 5)


def test_no_group_is_on_both_sides_and_classes_keep_their_share(planted, tmp_path) -> None:
    group = {v: f"src{i % 17}" for i, v in enumerate(planted.video_ids)}  # sources spread over the store order
    fit, hold = split_holdout(planted, 0.2, _write(tmp_path / "g.json", group))
    assert not {group[v] for v in fit.video_ids} & {group[v] for v in hold.video_ids}
    assert sorted(fit.video_ids + hold.video_ids) == sorted(planted.video_ids)
    assert fit.split.startswith("train[folds 1-4 of 5 by group ") and hold.split.startswith("train[fold 5 of 5 by group ")
    per_class, held = planted.labels.sum(0), hold.labels.sum(0)
    assert np.all(np.abs(held - per_class / 5) <= 4), (held, per_class)  # within one group (<= 4 videos) of 1/5
    other = {v: f"src{i % 5}" for i, v in enumerate(planted.video_ids)}
    assert split_holdout(planted, 0.2, _write(tmp_path / "h.json", other))[0].split != fit.split  # another grouping
    singles = split_holdout(planted, 0.25, _write(tmp_path / "s.json", {v: v for v in planted.video_ids}))[1]
    assert np.all(np.abs(singles.labels.sum(0) - per_class / 4) < 1)  # one video per group: stratified to a video


def test_a_grouped_holdout_share_must_be_one_over_n() -> None:
    from nsnet.sampler.config import SamplerConfigError, sampler_config

    assert sampler_config("auto", groups="g.csv", holdout=0.25).options.holdout == 0.25
    with pytest.raises(SamplerConfigError, match="holdout must be 1/n with groups"):
        sampler_config("auto", groups="g.csv", holdout=0.3)
    assert sampler_config("auto", holdout=0.3).options.holdout == 0.3  # no groups: any share


def test_csv_json_and_a_url_give_the_same_table(planted, tmp_path) -> None:
    rows = {v: f"g{i // 2}" for i, v in enumerate(planted.video_ids)}
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text("video_id,group\n" + "".join(f"{v},{g}\n" for v, g in rows.items()))
    with fsspec.open("memory://nsnet-test/groups.json", "w") as fh:
        fh.write(json.dumps(rows))
    splits = [split_holdout(planted, 0.25, src) for src in (str(csv_path), _write(tmp_path / "g.json", rows),
                                                           "memory://nsnet-test/groups.json")]
    assert len({(f.split, tuple(h.video_ids)) for f, h in splits}) == 1
    # the store's file names match too (ids are looked up by id, then by file name)
    by_name = {f"clips/{v}.mp4".split("/")[-1].removesuffix(".mp4"): g for v, g in rows.items()}
    assert split_holdout(planted, 0.25, _write(tmp_path / "n.json", by_name))[1].video_ids == splits[0][1].video_ids


@pytest.mark.parametrize("text, match", [
    ("video,source\nx,1\n", "columns video_id,group"),
    ('{"a": "1", "b": [2]}', "must be a string or an integer"),
    ("video_id,group\na,1\na,2\n", "is in two groups"),
    ("video_id,group\na,\n", "line 2: empty video_id or group"),
    ("{}", "the table is empty"),
    ("{nope", "not valid JSON"),
])
def test_a_bad_table_is_one_clear_error(text, match) -> None:
    with pytest.raises(SamplerDataError, match=match):
        parse_groups(text, "t.csv")


def test_a_video_without_a_group_or_a_missing_table_is_one_clear_error(planted, tmp_path) -> None:
    some = {v: "g" for v in planted.video_ids[:-3]}
    with pytest.raises(SamplerDataError, match=r"3 of 60 videos have no group in .*first: 'train00057'"):
        split_holdout(planted, 0.2, _write(tmp_path / "g.json", some))
    with pytest.raises(SamplerDataError, match="no such file"):
        split_holdout(planted, 0.2, str(tmp_path / "absent.csv"))
    one = {v: "g" for v in planted.video_ids}  # one group cannot be split
    with pytest.raises(SamplerDataError, match="needs at least 5 groups"):
        split_holdout(planted, 0.2, _write(tmp_path / "one.json", one))


def test_cli_auto_trains_the_candidates_on_the_grouped_fit_split(planted, tmp_path) -> None:
    store = write_store(tmp_path / "store.zarr", {"train": planted, "val": planted})
    groups = _write(tmp_path / "groups.json", {v: f"s{i % 9}" for i, v in enumerate(planted.video_ids)})
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("fit-sampler")(fit_sampler_command)
    run = tmp_path / "auto"
    opts = dict(epochs=2, width=8, seeds=1, resamples=100, k=2, candidates="maxconf-l,scsampler", groups=groups)
    res = CliRunner().invoke(app, [str(store.path), "--variant", "auto", "--out", str(run), "-q",
                                   *[x for k, v in opts.items() for x in ("-o", f"{k}={v}")]])
    assert res.exit_code == 0, res.output
    assert f"whole groups of {groups}" in res.output
    hold = json.loads((run / "config.json").read_text())["run"]["auto"]["holdout"]
    fit, _ = split_holdout(planted, 0.2, groups)
    assert (hold["fit"], hold["fit_videos"], hold["groups"]) == (fit.split, fit.N, groups)
    for cand in (run / "candidates").iterdir():
        meta = json.loads((cand / "config.json").read_text())["run"]
        assert (meta["train_split"], meta["num_train_videos"]) == (fit.split, fit.N)
