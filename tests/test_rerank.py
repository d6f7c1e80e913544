"""The USE-m3 second stage: its fusion order (hand-worked), its scope and its hook in search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_assistant import rerank
from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.rerank import fused_scores
from qa_assistant.types import Passage

from .conftest import FakeEmbedder, fake_settings


def test_fused_scores_match_a_hand_worked_example() -> None:
    # e5 cosines 0.80, 0.90, 0.85 → z = -1.2247, 1.2247, 0; USE 0.1, 0.1, 0.7 → z = -0.7071,
    # -0.7071, 1.4142. With weight 1: -1.9318, 0.5176, 1.4142.
    scores = fused_scores([0.80, 0.90, 0.85], [0.1, 0.1, 0.7], weight=1.0)
    assert scores == pytest.approx([-1.9318, 0.5176, 1.4142], abs=1e-4)


def test_fused_scores_with_zero_weight_keep_the_first_order() -> None:
    scores = fused_scores([0.80, 0.90, 0.85], [0.9, 0.1, 0.7], weight=0.0)
    assert sorted(range(3), key=lambda i: -scores[i]) == [1, 2, 0]


class ZebraEncoder:
    """A second-stage model that only likes zebras, and counts what it embeds."""

    name = "zebra"
    dimension = 2

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        rows = [[1.0, 0.0] if "zebra" in t.lower() else [0.0, 1.0] for t in texts]
        return np.array(rows, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0.0]] * len(texts), dtype=np.float32)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nThe pension pension pension rules.\n", "utf-8")
    (folder / "b.md").write_text("# B\n\nA zebra once asked about the pension.\n", "utf-8")
    return folder


def _first_source(tmp_path: Path, corpus: Path, **settings: object) -> str:
    assistant = Assistant(fake_settings(tmp_path, corpus, **settings), embedder=FakeEmbedder())
    assistant.add([corpus])
    return assistant.search("pension pension", top_k=2)[0].document.source


def test_without_the_second_stage_the_first_stage_order_stands(
    tmp_path: Path, corpus: Path
) -> None:
    assert Settings().rerank is True  # on by default, scoped to other languages
    assert _first_source(tmp_path / "off", corpus, rerank=False) == "a.md"


def _passage(row: int, language: str, text: str) -> Passage:
    return Passage(
        passage_id=str(row),
        doc_id="d",
        text=text,
        char_start=row,
        char_end=row + 1,
        language=language,
    )


def test_other_languages_scope_reorders_only_passages_in_other_languages() -> None:
    # First stage: en, es, en, es. The zebra model prefers the later passage of each language.
    passages = [
        _passage(0, "en", "pension"),
        _passage(1, "es", "pensión"),
        _passage(2, "en", "zebra"),
        _passage(3, "es", "cebra zebra"),
    ]
    scoped = rerank.Reranker(ZebraEncoder(), None, 30, weight=10.0, scope="other-languages")
    # English question: the Spanish passages swap within their positions 1 and 3.
    first = [0.9, 0.8, 0.7, 0.6]
    assert scoped.order("zebra?", passages, first, "en") == [0, 3, 2, 1]
    # Unclear question language: nothing is known to be cross-lingual, the order stands.
    assert scoped.order("zebra?", passages, first, "und") == [0, 1, 2, 3]
    # Scope "all": every candidate is re-scored.
    everything = rerank.Reranker(ZebraEncoder(), None, 30, weight=10.0, scope="all")
    assert everything.order("zebra?", passages, first, "en")[:2] == [2, 3]


def test_rerank_reorders_candidates_and_embeds_passages_at_ingest(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoders: list[ZebraEncoder] = []

    def make() -> ZebraEncoder:
        encoders.append(ZebraEncoder())
        return encoders[-1]

    monkeypatch.setattr(rerank, "UseEncoder", make)
    settings = {"rerank": True, "rerank_weight": 10.0, "rerank_scope": "all"}
    assistant = Assistant(fake_settings(tmp_path, corpus, **settings), embedder=FakeEmbedder())
    assistant.add([corpus])
    embedded_at_ingest = len(encoders[0].embedded)
    assert embedded_at_ingest == 2  # one passage per file, embedded while indexing
    hits = assistant.search("pension pension", top_k=2)
    assert [h.document.source for h in hits] == ["b.md", "a.md"]
    assert [h.rank for h in hits] == [1, 2]
    assert len(encoders[0].embedded) == embedded_at_ingest  # passages came from the cache
