"""Trained models on disk: ``<data dir>/models/<name>/<version>/`` with the family's files and ``meta.json``.

A version is written into a hidden temporary folder and renamed into place in one step, so a crash or a
cancel never leaves half a model that the app could pick up. Versions stay until the user deletes them;
the active model is recorded in ``<data dir>/active_model.json``, also replaced atomically.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

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
        self.models_dir.mkdir(parents=True, exist_ok=True)
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
        return _migrate(meta, ref)

    # -- writing ----------------------------------------------------------------------------------------
    def next_version(self, name: str) -> str:
        numbers = [_version_number(v) for v in self.versions(name)]
        return f"v{max(numbers, default=0) + 1}"

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
        tmp = model_dir / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
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
        doomed = folder.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}")
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
        """Temporary folders left by a crash mid-write are never valid versions: remove them."""
        for model_dir in self.models_dir.iterdir():
            if not model_dir.is_dir():
                continue
            for child in model_dir.iterdir():
                if child.name.startswith(_TMP_PREFIX):
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)


def _migrate(meta: dict[str, Any], ref: ModelRef) -> dict[str, Any]:
    """Bring older metadata up to the current schema, or refuse clearly."""
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
