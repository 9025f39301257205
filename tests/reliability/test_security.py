"""Security properties kept as tests: Keras models load in safe mode, nothing is unpickled, names and paths in
metadata cannot leave their folders, SQLite sees only parameterised values, exports escape spreadsheet formulas."""

from __future__ import annotations

import ast
import csv
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from inspector_app.core.captures import CaptureStore
from inspector_app.core.errors import ModelStoreError
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.detectors.common.model_files import load_array, model_file
from inspector_app.detectors.loaded_model import LoadedModel

PACKAGE = Path(__file__).resolve().parents[2] / "inspector_app"


def test_a_keras_model_with_a_lambda_layer_is_refused_without_running_it(home: Path, tmp_path: Path) -> None:
    """A model.keras carrying Python code (a Lambda layer) is refused by the safe-mode load; its code never runs."""
    from inspector_app.detectors.common import runtime  # noqa: PLC0415

    keras = runtime.keras()
    marker = tmp_path / "code-ran"
    inputs = keras.Input((32, 32, 1))
    # Built from text so the function holds the marker's path as a constant (Keras saves a lambda's bytecode).
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # noqa: S307
    outputs = keras.layers.Lambda(touch)(inputs)
    models = home / "models" / "widget"
    shutil.copytree(models / "v1", models / "v2")
    keras.Model(inputs, outputs).save(models / "v2" / "model.keras")
    marker.unlink()  # touched while the model was built
    with pytest.raises(ModelStoreError, match="model widget@v2: .*model.keras is corrupt or was not saved by this app"):
        LoadedModel.load(ModelStore(home), ModelRef("widget", "v2"))
    assert not marker.exists()


class _Explodes:
    def __reduce__(self) -> tuple:
        return (Path.touch, (Path(self.marker),))  # type: ignore[attr-defined]


def test_an_array_file_holding_a_pickle_is_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    evil = _Explodes()
    evil.marker = str(marker)  # type: ignore[attr-defined]
    np.save(tmp_path / "error_mean.npy", np.array([evil], dtype=object), allow_pickle=True)
    with pytest.raises(ModelStoreError, match="error_mean.npy is corrupt"):
        load_array(tmp_path, "error_mean.npy", (None,))
    assert not marker.exists()


def test_the_package_never_unpickles_freely() -> None:
    """Every np.load passes allow_pickle=False; only the restricted .pth reader touches the pickle module."""
    for source in PACKAGE.rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load" and \
                    getattr(node.func.value, "id", "") == "np":
                flags = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
                assert flags.get("allow_pickle") is False, f"{source}:{node.lineno} np.load without allow_pickle=False"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n in ("pickle", "dill", "joblib", "cloudpickle") for n in names):
                    assert source.name == "torch_weights.py", f"{source} imports a pickle module"


@pytest.mark.parametrize("text", ["../../etc@v1", "widget@../../etc", "/abs@v1", "widget@v1/../../x"])
def test_model_names_and_versions_cannot_leave_the_models_folder(tmp_path: Path, text: str) -> None:
    store = ModelStore(tmp_path)
    store.write_version("widget", {"family": "autoencoder", "config": {}, "calibration": {"threshold": 1.0}},
                        lambda folder: None)
    with pytest.raises(ModelStoreError):
        store.resolve(text)


@pytest.mark.parametrize("name", ["../secret.npy", "/etc/passwd", "sub/error_mean.npy"])
def test_model_file_names_are_plain_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelStoreError, match="not a plain file name"):
        model_file(tmp_path, name)


def test_an_active_model_file_pointing_outside_is_ignored(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    (tmp_path / "active_model.json").write_text(json.dumps({"name": "../..", "version": "etc"}))
    assert store.active() is None or store.active().name != "../.."


HOSTILE = ["x' OR 1=1 --", "'); DROP TABLE captures; --", "=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0",
           "-2+3", "@SUM(A1)"]


class _RecordingConnection:
    """Stands in for the store's connection and keeps the SQL text of every statement, as written by the app
    (SQLite's own trace shows statements with their parameters filled in, so it cannot tell the two apart)."""

    def __init__(self, conn: sqlite3.Connection, statements: list[str]) -> None:
        self._conn, self._statements = conn, statements

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        self._statements.append(sql)
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def test_sqlite_only_ever_sees_hostile_text_as_parameters(tmp_path: Path) -> None:
    """Every statement the store runs is recorded: no hostile value ever appears in the SQL text itself."""
    store = CaptureStore(tmp_path, pass_sample_rate=1.0)
    statements: list[str] = []
    store._db._conn = _RecordingConnection(store._db._connection(), statements)  # noqa: SLF001
    for i, text in enumerate(HOSTILE):
        record = store.record(np.zeros((8, 8, 3), np.uint8), source=text, frame_index=i, model_name=text,
                              model_version=text, score=1.0, normalised_score=2.0, threshold=0.5, failed=True)
        store.decide(record.id, "defect", note=text)
        assert store.query(model_name=text, model_version=text)[0].note == text
    assert store.counts(model_name="x' OR 1=1 --")["total"] == 1
    assert statements and not any(text in sql for text in HOSTILE for sql in statements)
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0] == len(HOSTILE)
    conn.close()
    store.close()


def test_exports_escape_spreadsheet_formulas(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path, pass_sample_rate=1.0)
    for i, text in enumerate(HOSTILE):
        record = store.record(np.zeros((8, 8, 3), np.uint8), source=text, frame_index=i, model_name="m",
                              model_version="v1", score=1.0, normalised_score=2.0, threshold=0.5, failed=True)
        store.decide(record.id, "defect", note=text)
    store.export_csv(tmp_path / "out.csv")
    store.close()
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'=HYPERLINK(\"http://x\")" in cells and "'-2+3" in cells
