"""Trained models on disk: ``<data dir>/models/<name>/<version>/`` with the family's files and ``meta.json``.

A version is written into a hidden temporary folder and renamed into place in one step, so a crash or a
cancel never leaves half a model that the app could pick up. The temporary folder's name carries its
writer's process id and start time: a store opening while another process saves leaves that folder alone,
and only folders whose writer is gone are removed. Versions stay until the user deletes them;
the active model is recorded in ``<data dir>/active_model.json``, also replaced atomically.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil

from inspector_app import __version__
from inspector_app.core.atomic_files import write_text_atomic
from inspector_app.core.errors import ModelStoreError

log = logging.getLogger(__name__)

#: Bump when meta.json changes in a way older readers cannot follow; add a migration in ``_migrate``.
SCHEMA_VERSION = 1
META_FILE = "meta.json"
ACTIVE_FILE = "active_model.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TMP_PREFIX = ".tmp-"
#: ``.tmp-<pid>-<process start, ms>-<random>``: who is writing, so only an orphan's folder is removed.
_OWNED_TMP = re.compile(r"^\.tmp-(\d+)-(\d+)-[0-9a-f]+$")
#: A temporary folder without an owner (written by an older app) is removed only once it is this old.
_UNOWNED_TMP_AGE_S = 24 * 3600


@dataclass(frozen=True)
class ModelRef:
    """A model name and version, written ``name@version`` on the command line."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def check_name(value: str, what: str = "model name") -> str:
    """Names become folder names: allow letters, digits, '.', '_' and '-' only."""
    if not _SAFE_NAME.match(value or "") or value in {".", ".."}:
        msg = f"invalid {what} {value!r}: use letters, digits, '.', '_' or '-' (at most 64, not starting with a dot)"
        raise ModelStoreError(msg)
    return value


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so readers never see a half-written file."""
    write_text_atomic(path, lambda handle: json.dump(data, handle, indent=2, sort_keys=True))


def _version_number(version: str) -> int:
    match = re.fullmatch(r"v(\d+)", version)
    return int(match.group(1)) if match else 0


class ModelStore:
    """Lists, writes, activates and deletes model versions under one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        self.models_dir = self.root / "models"
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"cannot use {self.root} as the data folder: {exc.strerror or exc}"
            raise ModelStoreError(msg) from None
        self._remove_stale_temporaries()

    # -- reading ----------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(p.name for p in self.models_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def versions(self, name: str) -> list[str]:
        """Complete versions of ``name``, oldest first."""
        folder = self.models_dir / name
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        found = [v for v in found if (folder / v / META_FILE).is_file()]
        return sorted(found, key=lambda v: (_version_number(v), (folder / v).stat().st_mtime, v))

    def all_refs(self) -> Iterator[ModelRef]:
        for name in self.names():
            for version in self.versions(name):
                yield ModelRef(name, version)

    def folder(self, ref: ModelRef) -> Path:
        return self.models_dir / ref.name / ref.version

    def resolve(self, text: str) -> ModelRef:
        """``name@version``, or ``name`` alone for its active (else newest) version."""
        name, _, version = text.partition("@")
        check_name(name)
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none yet"
            msg = f"no model named {name!r} in {self.models_dir} (models: {known})"
            raise ModelStoreError(msg)
        if version:
            if version not in versions:
                msg = f"model {name!r} has no version {version!r} (versions: {', '.join(versions)})"
                raise ModelStoreError(msg)
            return ModelRef(name, version)
        active = self.active()
        if active is not None and active.name == name and active.version in versions:
            return active
        return ModelRef(name, versions[-1])

    def meta(self, ref: ModelRef) -> dict[str, Any]:
        """The version's metadata, checked for a schema this app can read."""
        path = self.folder(ref) / META_FILE
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            msg = f"model {ref} has no {META_FILE} at {path}"
            raise ModelStoreError(msg) from None
        except (OSError, ValueError) as exc:
            msg = f"model {ref}: {META_FILE} is unreadable ({exc})"
            raise ModelStoreError(msg) from None
        return _check_meta(_migrate(meta, ref), ref)

    # -- writing ----------------------------------------------------------------------------------------
    def next_version(self, name: str) -> str:
        numbers = [_version_number(v) for v in self.versions(name)]
        return f"v{max(numbers, default=0) + 1}"

    def check_new_version(self, name: str, version: str | None = None) -> None:
        """Refuse a name or version that ``write_version`` would refuse, before hours are spent training it."""
        check_name(name)
        if version is not None:
            check_name(version, "version name")
            if (self.models_dir / name / version).exists():
                msg = f"model {name!r} already has a version {version!r}; choose another --version"
                raise ModelStoreError(msg)

    def write_version(
        self,
        name: str,
        meta: dict[str, Any],
        write_files: Callable[[Path], None],
        version: str | None = None,
    ) -> ModelRef:
        """Create a version: ``write_files(tmp_folder)`` fills it, then it appears in one rename.

        If ``write_files`` raises (or the process dies), no version appears and the temporary folder is
        removed (now, or at the next start).
        """
        check_name(name)
        if version is not None:
            check_name(version, "version name")
        model_dir = self.models_dir / name
        model_dir.mkdir(parents=True, exist_ok=True)
        tmp = model_dir / _owned_tmp_name()
        tmp.mkdir()
        try:
            write_files(tmp)
            chosen = version or self.next_version(name)
            full_meta = {
                **meta,
                "schema": SCHEMA_VERSION,
                "app_version": __version__,
                "name": name,
                "version": chosen,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            write_json_atomic(tmp / META_FILE, full_meta)
            target = model_dir / chosen
            if target.exists():
                msg = f"model {name!r} already has a version {chosen!r}"
                raise ModelStoreError(msg)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("saved model %s@%s", name, chosen)
        return ModelRef(name, chosen)

    def update_meta(self, ref: ModelRef, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into a version's metadata (e.g. a threshold the operator moved)."""
        meta = self.meta(ref)
        meta.update(changes)
        write_json_atomic(self.folder(ref) / META_FILE, meta)
        return meta

    def delete(self, ref: ModelRef) -> None:
        if self.active() == ref:
            msg = f"{ref} is the active model; activate another version before deleting it"
            raise ModelStoreError(msg)
        folder = self.folder(ref)
        if not (folder / META_FILE).is_file():
            msg = f"no model version {ref}"
            raise ModelStoreError(msg)
        # Rename first so a half-finished delete never looks like a complete version.
        doomed = folder.with_name(_owned_tmp_name())
        os.rename(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    # -- the active model -------------------------------------------------------------------------------
    def activate(self, ref: ModelRef) -> None:
        self.meta(ref)  # refuse to activate something unreadable
        write_json_atomic(self.root / ACTIVE_FILE, {"name": ref.name, "version": ref.version})

    def active(self) -> ModelRef | None:
        path = self.root / ACTIVE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            ref = ModelRef(str(data["name"]), str(data["version"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return ref if (self.folder(ref) / META_FILE).is_file() else None

    def _remove_stale_temporaries(self) -> None:
        """Temporary folders left by a crash mid-write are never valid versions: remove those no live process owns.

        Another process (a training child saving, a second window) may be writing one right now; deleting it
        would destroy its finished model, so a folder is removed only when its writer has exited.
        """
        for model_dir in self.models_dir.iterdir():
            if not model_dir.is_dir():
                continue
            for child in model_dir.iterdir():
                if child.name.startswith(_TMP_PREFIX) and _orphaned(child):
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)


def _process_start_ms(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).create_time() * 1000)
    except (psutil.Error, OSError):
        return None


def _owned_tmp_name() -> str:
    """A temporary folder name that says which running process writes it."""
    pid = os.getpid()
    return f"{_TMP_PREFIX}{pid}-{_process_start_ms(pid) or 0}-{uuid.uuid4().hex}"


def _orphaned(path: Path) -> bool:
    """True when the process that made this temporary folder is gone (or, unnamed, it is a day old)."""
    match = _OWNED_TMP.match(path.name)
    if match is None:
        try:
            return time.time() - path.lstat().st_mtime > _UNOWNED_TMP_AGE_S
        except OSError:
            return False
    pid, started = int(match.group(1)), int(match.group(2))
    now_started = _process_start_ms(pid)
    # A live process with that pid and (within a second) that start time is the owner; a pid reused by a
    # later process has a later start time.
    return now_started is None or abs(now_started - started) > 1000


def _migrate(meta: dict[str, Any], ref: ModelRef) -> dict[str, Any]:
    """Bring older metadata up to the current schema, or refuse clearly."""
    if not isinstance(meta, dict):
        msg = f"model {ref} is broken: {META_FILE} holds {type(meta).__name__}, not an object"
        raise ModelStoreError(msg)
    schema = meta.get("schema")
    if not isinstance(schema, int):
        msg = f"model {ref} has no schema number in {META_FILE}; it was not made by inspector-app"
        raise ModelStoreError(msg)
    if schema > SCHEMA_VERSION:
        msg = (
            f"model {ref} was saved by inspector-app {meta.get('app_version', '?')} (schema {schema}); "
            f"this is {__version__}, which reads schema {SCHEMA_VERSION} or older: update the app"
        )
        raise ModelStoreError(msg)
    for key in ("family", "config", "calibration"):
        if key not in meta:
            msg = f"model {ref}: {META_FILE} lacks {key!r}"
            raise ModelStoreError(msg)
    return meta


def _check_meta(meta: dict[str, Any], ref: ModelRef) -> dict[str, Any]:
    """Refuse metadata whose values have the wrong type, so a damaged file is reported instead of crashing
    whatever reads it later (listing, loading, inspecting)."""

    def broken(what: str) -> ModelStoreError:
        return ModelStoreError(f"model {ref} is broken: {META_FILE} {what}")

    if not isinstance(meta["family"], str):
        raise broken(f"has family {meta['family']!r}, not a name")
    config, calibration = meta["config"], meta["calibration"]
    if not isinstance(config, dict):
        raise broken(f"has config {config!r}, not a table of settings")
    size = config.get("image_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise broken(f"has image_size {size!r}, not a positive whole number")
    if not isinstance(calibration, dict):
        raise broken(f"has calibration {calibration!r}, not a table")
    for key in ("threshold", "score_low", "map_low", "map_scale"):
        value = calibration.get(key, 0.0 if key != "threshold" else None)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise broken(f"has calibration {key} {value!r}, not a finite number")
    return meta
