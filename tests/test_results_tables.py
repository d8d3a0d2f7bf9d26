"""benchmarks/RESULTS.md's marked tables against the committed JSON (benchmarks/report.py), and the
population -> sample std conversion against hand-computed values."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import report  # noqa: E402
from benchmarks.tables.stats import Results, pm, sample_std, std_of  # noqa: E402


def test_results_md_matches_its_json() -> None:
    text = report.RESULTS_MD.read_text()
    names = [name for name, _ in report.blocks(text)]
    assert sorted(names) == sorted(report.RENDERERS)  # every renderer used once, no block swallowed
    assert report.check(text, Results()) is None


def test_sample_std_hand_computed() -> None:
    # 1, 2, 3, 4: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5
    population = math.sqrt(5 / 4)
    assert std_of([1.0, 2.0, 3.0, 4.0]) == pytest.approx(math.sqrt(5 / 3))
    assert sample_std(population, 4, ddof=0) == pytest.approx(math.sqrt(5 / 3))
    assert sample_std(1.5, 4, ddof=1) == 1.5  # already a sample std: kept
    assert sample_std(0.0, 3) == 0.0 and sample_std(2.0, 1) == 0.0  # no spread, or one seed
    assert pm(19.59, 0.0) == "19.59" and pm(44.8, 4.91) == "44.80 ± 4.91"


def _tsqnet_json(tmp_path: Path, std: float, ddof: int | None) -> Results:
    data = {"seeds": [0, 1, 2],
            "rows": [{"name": "uniform (untrained)", "mAP": {"mean": 19.59, "std": 0.0, "seeds": 3}},
                     {"name": "tsq-cs-cs", "mAP": {"mean": 10.0, "std": std, "seeds": 3},
                      "mAP_tqm": {"mean": 12.0, "std": std, "seeds": 3}}]}
    if ddof is not None:
        data["std_ddof"] = ddof
    (tmp_path / "tsqnet_tables.json").write_text(json.dumps(data))
    return Results(tmp_path)


def test_renderer_converts_old_files_and_keeps_new_ones(tmp_path: Path) -> None:
    # 9, 10, 11: population std sqrt(2/3), sample std 1
    old = report.render("tsqnet_tables", _tsqnet_json(tmp_path, math.sqrt(2 / 3), None))
    assert "| tsq-cs-cs | 10.00 ± 1.00 |  | 12.00 ± 1.00 |" in old
    assert "| uniform (untrained) | 19.59 |" in old  # no "± 0.00"
    new = report.render("tsqnet_tables", _tsqnet_json(tmp_path, 1.0, 1))
    assert "| tsq-cs-cs | 10.00 ± 1.00 |" in new


def test_tampered_table_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = report.RESULTS_MD.read_text()
    assert "| nsnet-tuned | 5 | 44.80 ± 4.91 |" in text
    tampered = text.replace("| nsnet-tuned | 5 | 44.80 ± 4.91 |", "| nsnet-tuned | 5 | 44.80 ± 4.01 |")
    diff = report.check(tampered, Results())
    assert diff is not None and "[controlled_table1]" in diff and "-| nsnet-tuned | 5 | 44.80 ± 4.01 |" in diff
    path = tmp_path / "RESULTS.md"
    path.write_text(tampered)
    assert report.main(["--check", "--results", str(path)]) == 1
    assert "44.80 ± 4.01" in capsys.readouterr().out
    assert report.main(["--write", "--results", str(path)]) == 0
    assert path.read_text() == text


def test_unknown_renderer_and_empty_blocks(tmp_path: Path) -> None:
    with pytest.raises(report.ReportError):
        report.check("<!-- table: nope -->\n| a |\n<!-- /table -->\n", Results())
    two = "<!-- table: store_url -->\n<!-- /table -->\ntext\n<!-- table: scale_stages -->\n<!-- /table -->\n"
    filled = report.regenerate(two, Results())
    assert [name for name, _ in report.blocks(filled)] == ["store_url", "scale_stages"]
    assert "\ntext\n" in filled and report.check(filled, Results()) is None
