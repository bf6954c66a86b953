"""Content-hash cache keys for stage outputs."""

from __future__ import annotations

import hashlib
from functools import cache
import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from habitat.grid import GridSpec
from habitat.stages.spec import StageSpec

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_files(path: Path) -> list[Path]:
    """The files one input consists of: a Shapefile is its .shp plus its sidecar files."""
    if path.suffix.lower() == ".shp":
        return sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())
    return [path]


def input_sha256(path: Path) -> str:
    """Content hash of one input, over all the files it consists of."""
    files = source_files(path)
    if len(files) == 1:
        return file_sha256(files[0])
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.suffix.lower().encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


@cache
def _package_sha256() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_sha256(stage: StageSpec) -> str:
    """Code version of a stage: the hash of every habitat module's source.

    A stage calls pure functions across the package, so the whole package counts (a change
    anywhere recomputes the stages; cheap compared with a stale cached result).
    """
    return _package_sha256()


def params_json(params: BaseModel) -> str:
    """Canonical JSON of validated parameters (sorted keys, defaults filled in)."""
    return json.dumps(params.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def stage_key(
    stage: StageSpec,
    params: BaseModel,
    grid: GridSpec,
    input_hashes: Mapping[str, str],
    *,
    code_hash: str | None = None,
    settings: Mapping[str, BaseModel] | None = None,
) -> str:
    """sha256 over stage id, version, code hash, params, grid and input content hashes.

    ``input_hashes`` maps an input name (an upstream output id, or a pipeline key for files the
    stage reads) to the sha256 of its content; file names and locations do not enter the key.
    ``settings`` are the parameters of other stages the stage uses (``StageSpec.settings``).
    """
    payload = {
        "stage": stage.id,
        "version": stage.version,
        "code": code_hash if code_hash is not None else code_sha256(stage),
        "params": json.loads(params_json(params)),
        "grid": grid.to_dict(),
        "inputs": dict(sorted(input_hashes.items())),
    }
    if settings:
        payload["settings"] = {sid: json.loads(params_json(p)) for sid, p in sorted(settings.items())}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
