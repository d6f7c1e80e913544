"""FAISS index of passage vectors keyed by passage row id (IndexIDMap2 over inner product)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


class VectorIndex:
    """Exact inner-product search; vectors are normalised, so scores are cosines."""

    def __init__(self, dimension: int, index: Any = None):
        import faiss

        self.dimension = dimension
        self._index = (
            index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        )

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add vectors under the given ids (ids must not be present yet)."""
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: NDArray[np.int64]) -> int:
        """Remove the given ids; return how many were present."""
        if not len(ids):
            return 0
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))  # type: ignore[arg-type]

    def search(
        self, query: NDArray[np.float32], top_k: int, allowed: NDArray[np.int64] | None = None
    ) -> list[tuple[int, float]]:
        """Best (id, cosine) pairs for one query vector, optionally among `allowed` ids only."""
        import faiss

        if len(self) == 0 or top_k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if not len(allowed):
                return []
            params = faiss.SearchParameters(  # type: ignore[call-arg]
                sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            )
            top_k = min(top_k, len(allowed))
        top_k = min(top_k, len(self))
        scores, ids = self._index.search(query, top_k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def reconstruct(self, ids: list[int]) -> NDArray[np.float32]:
        """The stored vectors of the given ids, in order."""
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for row, item in enumerate(ids):
            out[row] = self._index.reconstruct(int(item))
        return out

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves either the old file or the new one, never half."""
        import faiss

        tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dimension: int) -> VectorIndex:
        """Read an index written by `save`."""
        import faiss

        index = faiss.read_index(str(path))
        if index.d != dimension:
            raise ValueError(f"{path} holds {index.d}-d vectors, expected {dimension}")
        return cls(dimension, index)
