"""Model versions appear whole or not at all; activation, deletion and schema checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from inspector_app.core.errors import ModelStoreError
from inspector_app.core.modelstore import SCHEMA_VERSION, ModelRef, ModelStore

META = {"family": "autoencoder", "config": {"image_size": 32}, "calibration": {"threshold": 1.0}}


def write_weights(folder: Path) -> None:
    (folder / "weights.bin").write_bytes(b"\0" * 16)


def test_versions_are_numbered_and_listed(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first = store.write_version("widget", META, write_weights)
    second = store.write_version("widget", META, write_weights)
    assert (first.version, second.version) == ("v1", "v2")
    assert store.versions("widget") == ["v1", "v2"]
    meta = store.meta(second)
    assert meta["schema"] == SCHEMA_VERSION and meta["name"] == "widget" and meta["version"] == "v2"
    assert (store.folder(second) / "weights.bin").is_file()


def test_resolve_prefers_active_then_newest(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    v1 = store.write_version("widget", META, write_weights)
    store.write_version("widget", META, write_weights)
    assert store.resolve("widget") == ModelRef("widget", "v2")
    store.activate(v1)
    assert store.resolve("widget") == v1
    assert store.resolve("widget@v2") == ModelRef("widget", "v2")
    with pytest.raises(ModelStoreError, match="no version 'v9'"):
        store.resolve("widget@v9")
    with pytest.raises(ModelStoreError, match="no model named 'other'"):
        store.resolve("other")


def test_failed_write_leaves_no_version(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)

    def explode(folder: Path) -> None:
        write_weights(folder)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.write_version("widget", META, explode)
    assert store.versions("widget") == []
    assert list((tmp_path / "models" / "widget").iterdir()) == []


def test_save_killed_midway_leaves_no_half_version(tmp_path: Path) -> None:
    """A real process is SIGKILLed while writing; the version never appears, and the debris is cleaned."""
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from inspector_app.core.modelstore import ModelStore
        def slow(folder):
            (folder / "part1.bin").write_bytes(b"x" * 1000)
            print("writing", flush=True)
            time.sleep(30)
        ModelStore(Path({str(tmp_path)!r})).write_version("widget", {META!r}, slow)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "writing"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    model_dir = tmp_path / "models" / "widget"
    assert any(p.name.startswith(".tmp-") for p in model_dir.iterdir())  # the half-written folder exists...
    store = ModelStore(tmp_path)
    assert store.versions("widget") == []  # ...but is never a version
    assert list(model_dir.iterdir()) == []  # and is removed when the store next opens


def test_activate_and_delete(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    v1 = store.write_version("widget", META, write_weights)
    v2 = store.write_version("widget", META, write_weights)
    assert store.active() is None
    store.activate(v2)
    assert ModelStore(tmp_path).active() == v2  # survives a restart
    with pytest.raises(ModelStoreError, match="active model"):
        store.delete(v2)
    store.delete(v1)
    assert store.versions("widget") == ["v2"]


def test_update_meta_keeps_the_rest(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    ref = store.write_version("widget", META, write_weights)
    store.update_meta(ref, {"calibration": {"threshold": 2.5}})
    meta = store.meta(ref)
    assert meta["calibration"]["threshold"] == 2.5 and meta["family"] == "autoencoder"


@pytest.mark.parametrize(
    ("meta_text", "message"),
    [
        (json.dumps({**META, "schema": SCHEMA_VERSION + 1, "app_version": "9.0"}), "update the app"),
        (json.dumps({"family": "autoencoder"}), "no schema number"),
        ("{not json", "unreadable"),
        (json.dumps({"schema": SCHEMA_VERSION, "family": "x"}), "lacks 'config'"),
    ],
)
def test_incompatible_meta_gives_a_clear_error(tmp_path: Path, meta_text: str, message: str) -> None:
    folder = tmp_path / "models" / "foreign" / "v1"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(meta_text)
    with pytest.raises(ModelStoreError, match=message):
        ModelStore(tmp_path).meta(ModelRef("foreign", "v1"))


@pytest.mark.parametrize("bad", ["", "../escape", ".hidden", "a/b", "x" * 65, "sp ace"])
def test_unsafe_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ModelStoreError, match="invalid model name"):
        ModelStore(tmp_path).write_version(bad, META, write_weights)


def test_active_pointing_at_deleted_folder_is_none(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    ref = store.write_version("widget", META, write_weights)
    store.activate(ref)
    (store.folder(ref) / "meta.json").unlink()
    time.sleep(0)
    assert store.active() is None
