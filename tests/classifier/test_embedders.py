"""Embedders: the shipped static model (fast) and an ONNX export of MiniLM (slow, needs torch)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifier.embedders import (
    EmbedderError,
    OnnxEmbedder,
    StaticEmbedder,
    load_embedder,
    read_manifest,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "classifier" / "artefacts" / "default" / "embedder"
TEXTS = [
    "How do I sort a list of dicts by a key in Python?",
    "Write a haiku about autumn leaves.",
    "Fix the segfault in this C++ code:\nint main() { int *p = 0; return *p; }",
    "Refactor the payment module to use dependency injection and add unit tests.",
    "x",
]
TRAINING_ONLY = ("torch", "transformers", "sentence_transformers", "sklearn")


@pytest.fixture(scope="module")
def static() -> StaticEmbedder:
    return StaticEmbedder(DEFAULT)


def _no_training_imports(folder: Path) -> None:
    code = (
        "import sys, json\n"
        "from classifier.embedders import load_embedder\n"
        f"e = load_embedder({str(folder)!r})\n"
        "e.embed(['hello world'])\n"
        f"print(json.dumps([m for m in {TRAINING_ONLY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# -- static ------------------------------------------------------------------------------


def test_static_shape_dtype_and_name(static: StaticEmbedder) -> None:
    out = static.embed(TEXTS)
    assert out.shape == (len(TEXTS), static.dim)
    assert out.dtype == np.float32
    assert static.dim == 256
    assert static.name == read_manifest(DEFAULT)["name"]


def test_static_rows_are_unit_norm(static: StaticEmbedder) -> None:
    norms = np.linalg.norm(static.embed(TEXTS), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_static_is_deterministic_across_calls_and_loads(static: StaticEmbedder) -> None:
    first = static.embed(TEXTS)
    assert np.array_equal(first, static.embed(TEXTS))
    assert np.array_equal(first, StaticEmbedder(DEFAULT).embed(TEXTS))


@pytest.mark.parametrize("text", ["", "   \n\t", "\u200b"])
def test_static_empty_text_is_a_zero_vector(static: StaticEmbedder, text: str) -> None:
    out = static.embed([text, "hello"])
    assert not out[0].any()
    assert np.linalg.norm(out[1]) == pytest.approx(1.0, abs=1e-5)


def test_static_empty_list_gives_empty_array(static: StaticEmbedder) -> None:
    assert static.embed([]).shape == (0, static.dim)


def test_static_truncates_long_text_to_max_tokens(static: StaticEmbedder) -> None:
    # 600 "alpha" fill the 512-token window, so "zebra" never counts.
    long_text = "alpha " * 600 + "zebra " * 600
    assert static.max_tokens == 512
    assert len(static.token_ids([long_text])[0]) == 512
    np.testing.assert_allclose(static.embed([long_text]), static.embed(["alpha"]), atol=1e-6)
    assert float(static.embed(["alpha zebra"])[0] @ static.embed(["alpha"])[0]) < 0.99


def test_static_huge_text_is_cheap_and_valid(static: StaticEmbedder) -> None:
    out = static.embed(["def f():\n    return 1\n" * 20_000])
    assert np.linalg.norm(out[0]) == pytest.approx(1.0, abs=1e-5)


def test_static_batch_equals_single(static: StaticEmbedder) -> None:
    batch = static.embed(TEXTS + [""])
    singles = np.stack([static.embed([t])[0] for t in TEXTS + [""]])
    assert np.array_equal(batch, singles)


def test_static_drops_special_tokens(static: StaticEmbedder) -> None:
    assert np.array_equal(static.embed(["[CLS] hello [SEP] [PAD]"]), static.embed(["hello"]))


def test_static_keeps_meaning(static: StaticEmbedder) -> None:
    a, b, c = static.embed(["How do I sort a list in Python?", "python: sorting a list", "Write a poem about the sea."])
    assert float(a @ b) > float(a @ c) + 0.2


@pytest.mark.parametrize("bad", ["a bare string", ["ok", 3], [None]])
def test_embed_rejects_non_string_input(static: StaticEmbedder, bad: object) -> None:
    with pytest.raises(EmbedderError) as err:
        static.embed(bad)  # type: ignore[arg-type]
    assert err.value.code == "bad_input"


def test_import_of_embedders_pulls_no_training_dependency() -> None:
    code = (
        "import sys, json, classifier.embedders\n"
        f"print(json.dumps([m for m in {TRAINING_ONLY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_serving_the_static_embedder_pulls_no_training_dependency() -> None:
    _no_training_imports(DEFAULT)


def test_shipped_static_artefact_is_intact_and_small() -> None:
    manifest = read_manifest(DEFAULT)
    assert manifest["kind"] == "static"
    assert manifest["distillation"]["pca_dims"] == manifest["dim"]
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((DEFAULT / name).read_bytes()).hexdigest() == digest, name
    size = sum(p.stat().st_size for p in DEFAULT.iterdir() if p.is_file())
    assert size <= 16_000_000


# -- loading errors ----------------------------------------------------------------------


def test_missing_manifest_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError) as err:
        load_embedder(tmp_path)
    assert err.value.code == "missing_manifest"
    assert str(tmp_path / "embedder.json") in str(err.value)


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"kind": "bert"}, "bad_manifest"),
        ({"dim": "256"}, "bad_manifest"),
        ({"dim": 128}, "bad_vectors"),
        ({"files": {"vectors": "nope.npy", "tokenizer": "tokenizer.json"}}, "missing_file"),
    ],
)
def test_broken_static_folder_is_reported(tmp_path: Path, patch: dict, code: str) -> None:
    folder = tmp_path / "embedder"
    shutil.copytree(DEFAULT, folder)
    manifest = json.loads((folder / "embedder.json").read_text())
    manifest.update(patch)
    (folder / "embedder.json").write_text(json.dumps(manifest))
    with pytest.raises(EmbedderError) as err:
        load_embedder(folder)
    assert err.value.code == code
    assert str(folder) in str(err.value)


def test_kind_mismatch_is_reported() -> None:
    with pytest.raises(EmbedderError, match="expected 'onnx'"):
        OnnxEmbedder(DEFAULT)


def test_load_embedder_dispatches_static() -> None:
    assert isinstance(load_embedder(DEFAULT), StaticEmbedder)


# -- ONNX (exports MiniLM into a temporary folder: needs torch, ~10 s) ---------------------


@pytest.fixture(scope="module")
def onnx_int8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from training.export_onnx import export_minilm_onnx

    return export_minilm_onnx(tmp_path_factory.mktemp("minilm-int8"), quantize=True)


@pytest.fixture(scope="module")
def torch_reference() -> np.ndarray:
    pytest.importorskip("sentence_transformers")
    from training.distill import teacher_embeddings

    return teacher_embeddings(TEXTS)


@pytest.mark.slow
def test_onnx_shape_norm_and_dispatch(onnx_int8: Path) -> None:
    embedder = load_embedder(onnx_int8)
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.dim == 384 and embedder.max_tokens == 256
    out = embedder.embed(TEXTS + [""])
    assert out.shape == (len(TEXTS) + 1, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(out, embedder.embed(TEXTS + [""]))


@pytest.mark.slow
def test_onnx_int8_is_close_to_fp32_torch(onnx_int8: Path, torch_reference: np.ndarray) -> None:
    got = OnnxEmbedder(onnx_int8).embed(TEXTS)
    cosines = np.sum(got * torch_reference, axis=1)
    assert cosines.min() >= 0.98, cosines


@pytest.mark.slow
def test_onnx_batch_matches_single_and_truncates(onnx_int8: Path) -> None:
    embedder = OnnxEmbedder(onnx_int8)
    texts = TEXTS + ["word " * 2000]  # past MiniLM's 512 positions: must be truncated
    singles = np.stack([embedder.embed([t])[0] for t in texts])
    assert np.array_equal(embedder.embed(texts), singles)
    # Batched int8 quantises activations per batch tensor, so padded mates shift a
    # text's vector a little; that is why batch_size defaults to 1.
    batched = OnnxEmbedder(onnx_int8, intra_op_threads=2, batch_size=4).embed(texts)
    assert np.sum(batched * singles, axis=1).min() >= 0.95


@pytest.mark.slow
def test_serving_the_onnx_embedder_pulls_no_training_dependency(onnx_int8: Path) -> None:
    _no_training_imports(onnx_int8)
