"""``bench`` finds its images in a folder or a dataset and answers a user's mistake with one line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import tiny_parts_dataset
from inspector_app.cli import main
from inspector_app.core.errors import InspectorError
from inspector_app.jobs.commands import bench_files


def test_a_dataset_root_gives_its_test_images_spread_over_the_defect_types(tmp_path: Path) -> None:
    root = tiny_parts_dataset(tmp_path / "parts", size=32)
    files = bench_files(root, count=8)
    assert len(files) == 8
    assert all("test" in f.parts for f in files)
    assert len({f.parent.name for f in files}) >= 3  # good and several defect types, not the first folder only


def test_a_plain_folder_gives_its_images(tmp_path: Path) -> None:
    root = tiny_parts_dataset(tmp_path / "parts", size=32)
    folder = root / "train" / "good"
    files = sorted(folder.iterdir())
    picked = bench_files(folder, count=5)
    assert len(set(picked)) == 5 and picked == sorted(picked) and picked[0] == files[0]
    assert files.index(picked[-1]) >= len(files) * 3 // 4  # spread over the folder, not its first five
    assert bench_files(folder, count=1000) == files


@pytest.mark.parametrize("stream", [[], ["--stream"]])
def test_bench_on_an_empty_or_missing_folder_says_so_in_one_line(tmp_path: Path, stream: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    for data, words in ((tmp_path / "empty", "no images in"), (tmp_path / "nowhere", "does not exist")):
        assert main(["bench", *stream, "--data", str(data)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and "Traceback" not in err
    with pytest.raises(InspectorError):
        bench_files(tmp_path / "empty", 4)


def test_stream_bench_outside_a_source_checkout_says_where_it_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An installed wheel has no ``benchmarks/`` beside the package: one line that says so, not a traceback."""
    from inspector_app import cli  # noqa: PLC0415

    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "inspector_app" / "cli.py"))
    (tmp_path / "images").mkdir()
    assert main(["bench", "--stream", "--data", str(tmp_path / "images")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "benchmarks/stream_bench.py" in err and "Traceback" not in err
