"""Exporting a sentence-transformers model to ONNX, once, for `onnx_embedding`.

The export reads the sentence-transformers folder that `embedding.resolve_model_folder` gives
and writes `cache_dir/onnx/<model>-<hash of the weights>/model.onnx` (and `model.int8.onnx`,
its weights quantised to int8), each graph with its weights beside it in a `.data` file that
ONNX Runtime maps into memory. Only the export imports torch. `read_layout` tells how the
folder's model pools, prompts and truncates, which the embedder then reproduces.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from qa_assistant.embedding import resolve_model_folder
from qa_assistant.errors import ModelError

logger = logging.getLogger(__name__)
ONNX_DIRNAME = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
DATA_SUFFIX = ".data"  # the weights beside each graph (model.onnx.data)
LOCK_FILE = "export.lock"
FINGERPRINTS_FILE = "fingerprints.json"
EXTERNAL_MIN_BYTES = 1024  # tensors from this size are kept in the weights file
# Part of the export folder's hash: bump it when the exported graph changes, so that older
# exports are not reused.
EXPORT_RECIPE = "torchscript-opset17-external-v2"
OPSET = 17  # supported by every onnxruntime since 1.14
HASH_CHARS = 12
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin")
# Larger models are not worth exporting on a small CPU machine (and the TorchScript exporter
# cannot write more than 2 GB of weights into one graph).
MAX_ONNX_BYTES = 2_000_000_000
PROMPT_NAMES = {"query": ("query",), "document": ("document", "passage", "corpus")}
POOLING_FLAGS = {  # sentence-transformers < 6 wrote one flag per pooling mode
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
}
SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
FALLBACK = "set QA_EMBEDDING_BACKEND=torch to use PyTorch instead"

Pooling = Literal["mean", "cls", "max", "mean_sqrt_len_tokens"]


@dataclass(frozen=True)
class ModelLayout:
    """What a sentence-transformers folder says about running its model."""

    folder: Path
    pooling: Pooling
    normalize: bool
    query_prompt: str
    document_prompt: str
    max_seq_length: int
    dimension: int
    output_name: str
    split_special_tokens: bool
    pad_token: str | None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc


def read_layout(folder: Path) -> ModelLayout:
    """Read pooling, prompts and lengths from a sentence-transformers folder."""
    modules = _read_json(folder / "modules.json") or [{"path": "", "type": "Transformer"}]
    kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
    unsupported = [kind for kind in kinds if kind not in SUPPORTED_MODULES]
    if unsupported or kinds[0] != "Transformer" or kinds.count("Transformer") != 1:
        raise ModelError(
            f"the model in {folder} has modules the ONNX backend does not run "
            f"({', '.join(kinds)}): {FALLBACK}"
        )
    if modules[0].get("path", ""):
        raise ModelError(f"the transformer of {folder} is not at its top level: {FALLBACK}")
    pooling_path = next(
        (m.get("path", "") for m, kind in zip(modules, kinds, strict=True) if kind == "Pooling"),
        None,
    )
    if pooling_path is None:
        raise ModelError(f"the model in {folder} has no pooling module: {FALLBACK}")
    pooling_config = _read_json(folder / pooling_path / "config.json")
    mode = pooling_config.get("pooling_mode")
    modes = [mode] if mode else [m for flag, m in POOLING_FLAGS.items() if pooling_config.get(flag)]
    if len(modes) != 1 or modes[0] not in POOLING_FLAGS.values():
        raise ModelError(f"pooling {modes or pooling_config} of {folder} not supported: {FALLBACK}")
    if not pooling_config.get("include_prompt", True):
        raise ModelError(f"pooling without prompt tokens ({folder}) not supported: {FALLBACK}")

    settings = _read_json(folder / "config_sentence_transformers.json")
    prompts: dict[str, str] = settings.get("prompts") or {}
    default = prompts.get(settings.get("default_prompt_name") or "", "")

    def prompt_for(role: str) -> str:
        name = next((name for name in PROMPT_NAMES[role] if name in prompts), None)
        return prompts[name] if name is not None else default

    config = _read_json(folder / "config.json")
    tokenizer_config = _read_json(folder / "tokenizer_config.json")
    sbert = _read_json(folder / "sentence_bert_config.json")
    positions = int(config.get("max_position_embeddings") or 512)
    # sentence-transformers truncates at sentence_bert_config's max_seq_length, else at the
    # tokenizer's model_max_length (which may be a huge "no limit" value).
    max_length = int(sbert.get("max_seq_length") or tokenizer_config.get("model_max_length") or 0)
    max_length = min(max_length, positions) if max_length > 0 else positions
    dimension = int(
        pooling_config.get("embedding_dimension")
        or pooling_config.get("word_embedding_dimension")
        or config.get("hidden_size")
        or 0
    )
    if dimension <= 0:
        raise ModelError(f"cannot tell the embedding dimension of {folder}: {FALLBACK}")
    output_name = (
        sbert.get("modality_config", {}).get("text", {}).get("method_output_name")
        or "last_hidden_state"
    )
    pad = tokenizer_config.get("pad_token")
    return ModelLayout(
        folder=folder,
        pooling=cast(Pooling, modes[0]),
        normalize="Normalize" in kinds,
        query_prompt=prompt_for("query"),
        document_prompt=prompt_for("document"),
        max_seq_length=max_length,
        dimension=dimension,
        output_name=str(output_name),
        split_special_tokens=bool(tokenizer_config.get("split_special_tokens", False)),
        pad_token=pad.get("content") if isinstance(pad, dict) else pad,
    )


# ----- export ------------------------------------------------------------------------------
def weights_fingerprint(folder: Path, memo: Path) -> str:
    """Short hash of the model's weights and configuration.

    Hashing 500 MB takes a second, so the hash is remembered in `memo`, keyed by each file's
    path, size and modification time.
    """
    files = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
    if not any(path.suffix in WEIGHT_SUFFIXES for path in files):
        raise ModelError(f"no model.safetensors or pytorch_model.bin in {folder}: {FALLBACK}")
    stats = [path.stat() for path in files]
    key = "|".join(
        [EXPORT_RECIPE]
        + [
            f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
            for path, stat in zip(files, stats, strict=True)
        ]
    )
    try:
        known = _read_json(memo) if memo.is_file() else {}
    except ModelError:  # a damaged memo is only a cache
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return str(known[key])
    digest = hashlib.blake2b(EXPORT_RECIPE.encode(), digest_size=16)
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
    fingerprint = digest.hexdigest()[:HASH_CHARS]
    known = known if isinstance(known, dict) else {}
    known[key] = fingerprint
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(memo, lambda tmp: tmp.write_text(json.dumps(known, indent=1) + "\n"))
    except OSError as exc:  # only a cache: the next start hashes again
        logger.warning("cannot remember the weights' hash in %s: %s", memo, exc)
    return fingerprint


def export_folder(model: str, folder: Path, cache_dir: Path) -> Path:
    """Where the ONNX files of `model` (converted from `folder`) live."""
    onnx_root = cache_dir / ONNX_DIRNAME
    name = Path(model).name if Path(model).is_dir() else model
    return onnx_root / f"{name}-{weights_fingerprint(folder, onnx_root / FINGERPRINTS_FILE)}"


def _write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` on a temporary file beside `target`, then rename it onto `target`."""
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()


@contextmanager
def _export_lock(folder: Path) -> Iterator[None]:
    """Be the only process writing `folder` (an OS lock, released however the holder ends)."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another process that is exporting into %s", folder)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        # Holding the lock, any scratch folder is what a killed export left.
        for leftover in folder.glob("*.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        yield
    finally:
        os.close(descriptor)


@contextmanager
def _scratch(target: Path) -> Iterator[Path]:
    """A scratch folder beside `target`, removed afterwards."""
    folder = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _install(source: Path, target: Path) -> None:
    """Move the ONNX model `source` to `target`, its weights in `target` + DATA_SUFFIX.

    ONNX Runtime maps weights kept in a separate file instead of copying them: a session
    then takes a quarter of the memory and loads in a tenth of the time, and the sessions
    for passages and for questions share the pages. The weights move first and the graph
    that names them last, so a `target` that exists is complete.
    """
    import onnx

    staged = source.with_name(target.name)
    data = staged.with_name(target.name + DATA_SUFFIX)
    onnx.save_model(
        onnx.load(str(source)),
        str(staged),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data.name,
        size_threshold=EXTERNAL_MIN_BYTES,
    )
    for path in (data, staged):
        path.chmod(0o644)  # the cache may be shared; onnx writes the weights 0600
    os.replace(data, target.with_name(data.name))
    os.replace(staged, target)


def export_onnx(layout: ModelLayout, target: Path) -> None:
    """Export the folder's transformer to ONNX at `target` (imports torch)."""
    started = time.perf_counter()
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(variable, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise ModelError(
            f"exporting to ONNX needs torch and transformers ({exc}): run make install"
        ) from exc
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = AutoModel.from_pretrained(
            str(layout.folder), local_files_only=True, attn_implementation="eager"
        ).eval()
    except Exception as exc:
        raise ModelError(f"cannot load the transformer of {layout.folder}: {exc}") from exc
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in _forward_parameters(model):
        names.append("token_type_ids")
    output_name = layout.output_name

    class Transformer(torch.nn.Module):
        """Positional inputs in (as ONNX names them), the token vectors out."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return getattr(self.model(**dict(zip(names, inputs, strict=True))), output_name)

    # Two rows of different lengths, so nothing is specialised to one shape.
    sample = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 8:] = 0
    inputs = (sample, mask, torch.zeros_like(sample))[: len(names)]
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "token_embeddings"]}
    try:
        with _scratch(target) as scratch:
            traced = scratch / "traced.onnx"
            # The tracer warns about shapes it treats as constants (the mask's padding
            # check); the dynamic axes cover what varies, and the tests compare with PyTorch.
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    Transformer(),
                    inputs,
                    str(traced),
                    dynamo=False,  # the TorchScript exporter needs no onnxscript
                    input_names=names,
                    output_names=["token_embeddings"],
                    dynamic_axes=axes,
                    opset_version=OPSET,
                    do_constant_folding=True,
                )
            _install(traced, target)
    except Exception as exc:
        raise ModelError(
            f"exporting {layout.folder} to ONNX failed ({type(exc).__name__}: {exc}); {FALLBACK}"
        ) from exc
    logger.info("exported %s to %s in %.1f s", layout.folder, target, time.perf_counter() - started)


def _forward_parameters(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def quantize_onnx(source: Path, target: Path) -> None:
    """Quantise the weights of `source` to int8 (dynamic quantisation) into `target`."""
    started = time.perf_counter()
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ModelError(
            f"int8 quantisation needs the onnx package ({exc}): run make install"
        ) from exc
    advice = _DropAdvice()
    logging.getLogger().addFilter(advice)
    try:
        with _scratch(target) as scratch:
            quantized = scratch / "quantized.onnx"
            # Signed int8 weights, one scale per output channel: of QInt8/QUInt8, per tensor
            # or per channel, the closest to PyTorch's vectors for e5 and the fastest (lowest
            # cosine on 100 xquad passages in en/es/ar/de and 29 questions: 0.993, against
            # 0.978 QInt8 per tensor, 0.987 QUInt8 per tensor, 0.993 QUInt8 per channel but
            # 25% slower).
            quantize_dynamic(source, quantized, weight_type=QuantType.QInt8, per_channel=True)
            _install(quantized, target)
    except Exception as exc:
        raise ModelError(
            f"quantising {source} failed ({type(exc).__name__}: {exc}); "
            "set QA_EMBEDDING_BACKEND=onnx (or torch) instead"
        ) from exc
    finally:
        logging.getLogger().removeFilter(advice)
    logger.info("quantised %s to int8 in %.1f s", source, time.perf_counter() - started)


class _DropAdvice(logging.Filter):
    """Drops onnxruntime's advice to pre-process the model (its shape inference fails on BERTs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def ensure_onnx_model(model: str, cache_dir: Path, quantized: bool) -> tuple[ModelLayout, Path]:
    """The folder's layout and its ONNX file, exporting (and quantising) it the first time."""
    folder = resolve_model_folder(model, cache_dir)
    layout = read_layout(folder)
    target_folder = export_folder(model, folder, cache_dir)
    target = target_folder / (INT8_FILE if quantized else FP32_FILE)
    if target.is_file():
        return layout, target
    with _export_lock(target_folder):  # another process may have exported while we waited
        fp32 = target_folder / FP32_FILE
        if not fp32.is_file():
            size = sum(f.stat().st_size for f in folder.iterdir() if f.suffix in WEIGHT_SUFFIXES)
            if size > MAX_ONNX_BYTES:
                raise ModelError(f"{model} is too large to export to ONNX here: {FALLBACK}")
            logger.info("exporting %s to ONNX (once; about 20 s)", model)
            export_onnx(layout, fp32)
        if not target.is_file():
            logger.info("quantising %s to int8 (once; about 15 s)", model)
            quantize_onnx(fp32, target)
    return layout, target
