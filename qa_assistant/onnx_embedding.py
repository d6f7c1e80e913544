"""Embedding with ONNX Runtime: the model's transformer exported to ONNX once, pooled in numpy.

`onnx_export` writes the ONNX files the first time; later starts load them without importing
torch. Prompts, truncation, pooling and normalisation follow the model folder's configuration,
as sentence-transformers' `encode_query`/`encode_document` do, so fp32 vectors match PyTorch's.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa_assistant.embedding import QUANTIZED_SUFFIX
from qa_assistant.errors import ModelError
from qa_assistant.onnx_export import FALLBACK, Pooling, ensure_onnx_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

NORM_EPSILON = 1e-12  # torch.nn.functional.normalize's default, as sentence-transformers uses


def pool(
    tokens: NDArray[np.float32], mask: NDArray[np.int64], mode: Pooling
) -> NDArray[np.float32]:
    """Text vectors from token vectors [batch, sequence, hidden], as sentence-transformers pools."""
    weights = mask[:, :, None].astype(np.float32)
    if mode == "cls":
        pooled = tokens[:, 0]
    elif mode == "max":
        pooled = np.where(weights > 0, tokens, np.float32(-1e9)).max(axis=1)
    else:
        counts = np.maximum(weights.sum(axis=1), 1e-9)
        divisor = np.sqrt(counts) if mode == "mean_sqrt_len_tokens" else counts
        pooled = (tokens * weights).sum(axis=1) / divisor
    return np.asarray(pooled, dtype=np.float32)


def normalize(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """L2-normalise rows (inner product then equals cosine)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, NORM_EPSILON), dtype=np.float32)


class OnnxEmbedder:
    """A sentence-transformers model run by ONNX Runtime (optionally with int8 weights).

    Passages run on a session with `threads` intra-op threads, created on first use; questions
    on their own single-thread session, so that concurrent questions do not oversubscribe the
    cores.
    """

    def __init__(
        self,
        model: str,
        cache_dir: Path,
        threads: int = 2,
        batch_size: int = 16,
        quantized: bool = False,
    ):
        started = time.perf_counter()
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(
                f"the ONNX backend needs onnxruntime and tokenizers ({exc}): run make install"
            ) from exc
        self._layout, self._path = ensure_onnx_model(model, cache_dir, quantized)
        self.name = model + QUANTIZED_SUFFIX if quantized else model
        self.dimension = self._layout.dimension
        self._batch_size = batch_size
        self._threads = threads
        self._onnxruntime = onnxruntime
        tokenizer_file = self._layout.folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ModelError(f"{self._layout.folder} has no tokenizer.json: {FALLBACK}")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        # Counted with the special tokens, like transformers' truncation="longest_first".
        self._tokenizer.enable_truncation(self._layout.max_seq_length)
        # transformers' split_special_tokens: "<s>" written in a text is text, not a token.
        self._tokenizer.encode_special_tokens = self._layout.split_special_tokens
        pad = self._layout.pad_token
        pad_id = self._tokenizer.token_to_id(pad) if pad else None
        self._pad_id = pad_id if pad_id is not None else 0
        self._session_lock = threading.Lock()
        self._passage_session: Any = None
        self._query_session = self._new_session(1)
        self._input_names = [i.name for i in self._query_session.get_inputs()]
        logger.info(
            "loaded %s (%d dims, ONNX Runtime) from %s in %.1f s",
            self.name,
            self.dimension,
            self._path,
            time.perf_counter() - started,
        )

    def _new_session(self, threads: int) -> Any:
        options = self._onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = self._onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only
        # The cores are shared (questions, other processes): threads that spin while waiting
        # for work would take them away.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return self._onnxruntime.InferenceSession(
                str(self._path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelError(
                f"ONNX Runtime cannot load {self._path} ({exc}); delete that file to export it"
                f" again, or {FALLBACK}"
            ) from exc

    def _passages(self) -> Any:
        with self._session_lock:
            if self._passage_session is None:
                self._passage_session = self._new_session(self._threads)
            return self._passage_session

    def embed_passages(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed document passages (with the model's document prompt, if any)."""
        return self._embed(texts, self._layout.document_prompt, self._passages())

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed questions (with the model's query prompt, if any)."""
        return self._embed(texts, self._layout.query_prompt, self._query_session)

    def _embed(self, texts: list[str], prompt: str, session: Any) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([prompt + text for text in texts])
        # Similar lengths in one batch: less padding. Rows go back to their input order.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                length = len(encodings[i].ids)
                ids[row, :length] = encodings[i].ids
                mask[row, :length] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feed["token_type_ids"] = np.zeros_like(ids)  # one segment per text
            (tokens,) = session.run(["token_embeddings"], feed)
            out[rows] = pool(tokens, mask, self._layout.pooling)
        return normalize(out) if self._layout.normalize else out
