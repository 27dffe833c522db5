"""Writing a classifier artefact folder (see classifier/artefact.py for the layout)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.artefact import (
    DEFAULT_ARTEFACT,
    EMBEDDER_DIR,
    HEADS,
    MANIFEST,
    SCHEMA_VERSION,
    TAXONOMY,
)
from classifier.features import Featuriser
from classifier.heads import Heads
from classifier.model import Embedder
from classifier.taxonomy import Taxonomy
from training.sources import REPO_ROOT


class ExportError(Exception):
    code = "export_refused"


def git_commit(repo: Path = REPO_ROOT) -> str:
    """The checked-out commit, read from .git without running git ("unknown" if none)."""
    git = repo / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
    except OSError:
        pass
    return "unknown"


def _same_embedder(a: Path, b: Path) -> bool:
    try:
        return (a / "embedder.json").read_bytes() == (b / "embedder.json").read_bytes()
    except OSError:
        return False


def copy_embedder(src: Path, folder: Path) -> None:
    """Place the embedder folder at folder/embedder (kept when it is already that one)."""
    dest = folder / EMBEDDER_DIR
    if dest.resolve() == src.resolve() or _same_embedder(src, dest):
        return
    if dest.exists():
        if folder.resolve() == DEFAULT_ARTEFACT.resolve():
            raise ExportError(
                f"{dest}: the shipped default artefact keeps its own embedder; export heads "
                "trained with another embedder elsewhere (--export PATH)"
            )
        shutil.rmtree(dest)
    shutil.copytree(src, dest)


def write_artefact(
    folder: Path,
    heads: Heads,
    featuriser: Featuriser,
    taxonomy: Taxonomy,
    embedder: Embedder,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write heads, taxonomy, manifest and embedder into `folder`; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    src = getattr(embedder, "path", None)
    if src is not None:
        copy_embedder(Path(src), folder)
    heads.save(folder / HEADS)
    if Path(taxonomy.path).resolve() != (folder / TAXONOMY).resolve():
        shutil.copyfile(taxonomy.path, folder / TAXONOMY)
    manifest = {
        "schema": SCHEMA_VERSION,
        "route_keys": heads.route.labels,
        "difficulties": heads.difficulty.labels,
        "taxonomy_sha256": taxonomy.sha256,
        "embedder": {"name": embedder.name, "dim": embedder.dim, "path": EMBEDDER_DIR},
        "features": {
            **featuriser.config(),
            # structural features by name; the hashed bag of words follows (bow_dim slots)
            "numeric_names": [n for n in featuriser.numeric_names if not n.startswith("bow_")],
        },
        "temperatures": {"route": heads.route.temperature, "difficulty": heads.difficulty.temperature},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        **(extra or {}),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder


def copy_artefact(src: Path, dest: Path) -> Path:
    """Copy an artefact folder to `dest` (embedder handled by copy_embedder)."""
    dest.mkdir(parents=True, exist_ok=True)
    copy_embedder(src / EMBEDDER_DIR, dest)
    for name in (HEADS, TAXONOMY, MANIFEST):
        shutil.copyfile(src / name, dest / name)
    return dest
