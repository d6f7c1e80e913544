"""The store interface: what the library asks of an index, whatever engine holds it.

Two implementations:

- `index_store.IndexStore` (the default): SQLite (documents, passages, FTS5 word search) and
  FAISS (vectors) in a folder on this machine; `index_store.FolderLocation` finds it.
- `milvus_store.MilvusStore`: one Milvus database (embedded `milvus-lite`, a server or a
  cluster) shared by any number of app replicas and ingest workers; `QA_STORE` selects it.

The search pipeline (`search.py`), abstention's calibration and `Assistant` talk to `Store`
and `Location` only (an import contract in pyproject.toml keeps it so); `Assistant` picks the
Location from `Settings.store`. Passages are named by integer row ids, stable while a document
stays.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from qa_assistant.chunking import Layout
    from qa_assistant.types import (
        Document,
        DocumentInfo,
        DocumentMeta,
        Facets,
        Passage,
        SearchFilters,
    )

Scored = list[tuple[int, float]]  # (row id, score), best first


@dataclass(frozen=True)
class WordQuery:
    """Word search for any of `terms` (BM25).

    With `stems`, the terms are Snowball stems in `language`, compared with the passages' stems
    (`keyword_index.stemmed_text`); otherwise they are words as written, lower-cased, compared
    with the passages' words (case and accents folded).
    """

    terms: tuple[str, ...]
    language: str = "und"
    stems: bool = False

    def one(self, term: str) -> WordQuery:
        """The same kind of query for one term."""
        return WordQuery((term,), self.language, self.stems)


@dataclass(frozen=True)
class Manifest:
    """What an index was built with; opening it with other settings is refused."""

    model: str
    dimension: int
    chunk_chars: int
    chunk_overlap: int
    transcript_chunk_chars: int = 0
    transcript_chunk_overlap: int = 0
    format_version: int = 0
    package_version: str = ""
    created_at: str = ""

    @property
    def layout(self) -> Layout:
        """The passage sizes the index was built with."""
        from qa_assistant.chunking import Layout

        return Layout(
            self.chunk_chars,
            self.chunk_overlap,
            self.transcript_chunk_chars,
            self.transcript_chunk_overlap,
        )


class Cache(Protocol):
    """Vectors of texts by (model, sha256 of the text): sentence and second-stage vectors."""

    def get_many(self, model: str, shas: list[str]) -> dict[str, NDArray[np.float32]]: ...

    def put_many(self, model: str, items: dict[str, NDArray[np.float32]]) -> None: ...


class Store(Protocol):
    """One version of an index: documents, passages, their vectors and words."""

    manifest: Manifest
    name: str  # this version, unique within its location

    # ----- versions and generations --------------------------------------------------------
    def generation(self) -> int:
        """Counter bumped by every committed change (as this thread reads the index)."""
        ...

    def refresh(self) -> None:
        """Begin this thread's reads of the latest committed state."""
        ...

    def is_current(self) -> bool:
        """False once a rebuild has made another version the active one."""
        ...

    def make_current(self) -> None:
        """Make this version the one every reader opens (atomically)."""
        ...

    def check_model(self, model: str) -> None:
        """Raise IndexMismatchError when built with another model."""
        ...

    def flush(self) -> None:
        """After a batch of writes: compact, and keep the index type its size calls for."""
        ...

    def close(self) -> None: ...

    # ----- writes ---------------------------------------------------------------------------
    def write_document(
        self,
        doc: Document,
        meta: DocumentMeta,
        passages: list[Passage],
        vectors: NDArray[np.float32],
        replace_doc_id: str | None = None,
    ) -> None:
        """Store a document with its passages and vectors, replacing `replace_doc_id`."""
        ...

    def delete_document(self, doc_id: str) -> int:
        """Remove a document and its passages; the number of passages removed."""
        ...

    def save_calibration(self, text: str) -> None:
        """Store abstention's calibration (JSON) of this version."""
        ...

    def calibration(self) -> str | None: ...

    # ----- documents ------------------------------------------------------------------------
    def find_document(self, key: str) -> DocumentInfo | None:
        """A document by id, id prefix (≥ 6 characters) or source path."""
        ...

    def find_by_sha(self, sha256: str) -> DocumentInfo | None: ...

    def stored_meta(self, doc_id: str) -> DocumentMeta | None: ...

    def list_documents(self) -> list[DocumentInfo]: ...

    def documents_by_id(self, doc_ids: set[str]) -> dict[str, DocumentInfo]: ...

    def iter_documents(self, doc_id: str | None = None) -> Iterator[tuple[Document, DocumentMeta]]:
        """Stored documents with their full text and segments (for rebuilds and exports)."""
        ...

    def counts(self) -> tuple[int, int, int, int]:
        """(documents, passages, word-index rows, vectors)."""
        ...

    def facets(self) -> Facets: ...

    def languages(self) -> tuple[str, ...]:
        """Languages the passages are written in."""
        ...

    # ----- passages -------------------------------------------------------------------------
    def passages(self, row_ids: list[int]) -> dict[int, Passage]: ...

    def document_passages(self, doc_id: str) -> list[Passage]:
        """All passages of a document, in text order."""
        ...

    def passage_count(self) -> int: ...

    def stored_vectors(self, row_ids: list[int]) -> NDArray[np.float32]:
        """The passages' vectors, in the order asked."""
        ...

    def adjacent(
        self, row_ids: Iterable[int], radius: int, kinds: Collection[str] | None = None
    ) -> dict[int, tuple[int | None, ...]]:
        """Per passage, those at offsets -radius..radius in its document (None past an end);
        in documents of a kind not in `kinds`, a passage has no neighbours."""
        ...

    def passing(self, row_ids: Sequence[int], filters: SearchFilters) -> set[int]:
        """Those of `row_ids` that pass `filters`."""
        ...

    # ----- search ---------------------------------------------------------------------------
    def vector_search(
        self, query: NDArray[np.float32], top_k: int, filters: SearchFilters
    ) -> Scored:
        """(row id, cosine) of the nearest passages passing the filters, best first."""
        ...

    def keyword_search(self, words: WordQuery, top_k: int, filters: SearchFilters) -> Scored:
        """(row id, BM25 score) of the passages matching `words` best."""
        ...

    def keyword_scores(
        self, words: WordQuery, row_ids: list[int], filters: SearchFilters
    ) -> dict[int, float]:
        """BM25 scores of those of `row_ids` that match `words`."""
        ...

    def term_counts(
        self, terms: Sequence[WordQuery], row_ids: Sequence[int]
    ) -> list[tuple[int, int]]:
        """Per one-term query: passages matching it (counted up to a bound), and how many of
        `row_ids` do (document frequencies, for abstention)."""
        ...


class Location(Protocol):
    """Where the index lives: opens its current version, creates new ones, serialises writers."""

    def describe(self) -> str:
        """Where, for messages ("index/", "milvus-lite:///tmp/x.db")."""
        ...

    def exists(self) -> bool:
        """True when an index has been made current here."""
        ...

    def open_current(self, any_format: bool = False) -> Store:
        """The active version; IndexMissingError when there is none."""
        ...

    def create(self, manifest: Manifest) -> Store:
        """A new, empty version, not active until its `make_current`."""
        ...

    def writing(self) -> AbstractContextManager[None]:
        """Held while this process writes (and clears what killed writers left)."""
        ...

    def cache(self) -> Cache:
        """The vector cache for sentences and the second stage, shared by every version."""
        ...
