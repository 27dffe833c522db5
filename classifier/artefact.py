"""Where classifier artefacts live and what their manifest says.

An artefact is a folder:
    manifest.json   labels, embedder name/dim/path, featuriser config, data-set hash, metrics
    taxonomy.yaml   the taxonomy the heads were trained on (copied, hash in the manifest)
    heads.npz       the calibrated heads (classifier.heads.Heads)
    embedder/       the embedder (classifier.embedders.load_embedder), unless the manifest
                    points elsewhere
`models:/...` and `runs:/...` URIs are downloaded with MLflow, imported only then.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from classifier.errors import ArtefactError

DEFAULT_ARTEFACT = Path(__file__).resolve().parent / "artefacts" / "default"
MANIFEST = "manifest.json"
HEADS = "heads.npz"
TAXONOMY = "taxonomy.yaml"
EMBEDDER_DIR = "embedder"
SCHEMA_VERSION = 1
REGISTERED_MODEL = "autotier-classifier"


def _cache_root() -> Path:
    root = os.environ.get("AUTOTIER_CACHE_DIR")
    return Path(root) if root else Path(__file__).resolve().parents[1] / ".cache"


def _find_manifest(root: Path) -> Path:
    if (root / MANIFEST).is_file():
        return root
    found = sorted(root.rglob(MANIFEST), key=lambda p: len(p.parts))
    if not found:
        raise ArtefactError(f"{root}: no {MANIFEST} found in the downloaded model")
    return found[0].parent


def download_model_uri(uri: str) -> Path:
    """Download a `models:/` or `runs:/` URI with MLflow into the local cache."""
    try:
        import mlflow  # lazy: serving never imports MLflow unless asked for a registry URI
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ArtefactError(f"{uri}: loading from MLflow needs the 'mlflow' package") from exc
    # A fresh folder per download: an alias moves, so a URI's content is not stable.
    base = _cache_root() / "mlflow-models"
    base.mkdir(parents=True, exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix=hashlib.sha256(uri.encode()).hexdigest()[:8], dir=base))
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest))
    except Exception as exc:  # MLflow raises many types; turn them into one actionable error
        raise ArtefactError(f"{uri}: cannot download from MLflow: {exc}") from exc
    return _find_manifest(Path(local))


def resolve_artefact(location: str | os.PathLike[str] | None) -> Path:
    """Folder of an artefact given None (the shipped default), a path, or an MLflow URI."""
    if location is None:
        path = DEFAULT_ARTEFACT
    elif isinstance(location, str) and location.startswith(("models:/", "runs:/")):
        return download_model_uri(location)
    else:
        path = Path(location)
    if not (path / MANIFEST).is_file():
        raise ArtefactError(f"{path}: no {MANIFEST}; train one with `autotier train --export {path}`")
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtefactError(f"{folder / MANIFEST}: cannot read manifest: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA_VERSION:
        raise ArtefactError(
            f"{folder / MANIFEST}: schema must be {SCHEMA_VERSION}, got "
            f"{manifest.get('schema') if isinstance(manifest, dict) else manifest!r}"
        )
    for key in ("route_keys", "difficulties", "embedder", "features", "taxonomy_sha256"):
        if key not in manifest:
            raise ArtefactError(f"{folder / MANIFEST}: missing key {key!r}")
    return manifest


def embedder_path(folder: Path, manifest: dict[str, Any]) -> Path:
    rel = manifest["embedder"].get("path", EMBEDDER_DIR)
    path = Path(rel)
    return path if path.is_absolute() else folder / path
