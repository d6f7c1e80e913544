"""The second stage: its score arithmetic (hand-worked), its two groups and its hook in search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_assistant import rerank
from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.rerank import (
    Reranker,
    StageWeights,
    best_sentence_scores,
    combined_scores,
    position_scores,
)
from qa_assistant.types import Passage

from .conftest import FakeEmbedder, fake_settings


def test_combined_scores_match_a_hand_worked_example() -> None:
    # e5 cosines 0.80, 0.90, 0.85 → z = -1.2247, 1.2247, 0; USE 0.1, 0.1, 0.7 → z = -0.7071,
    # -0.7071, 1.4142. With weights 1, 1: -1.9318, 0.5176, 1.4142.
    scores = combined_scores([[0.80, 0.90, 0.85], [0.1, 0.1, 0.7]], [1.0, 1.0])
    assert scores == pytest.approx([-1.9318, 0.5176, 1.4142], abs=1e-4)
    # Weight 2 on the second feature: -1.2247 - 1.4142 = -2.6389, 1.2247 - 1.4142 = -0.1895,
    # 0 + 2.8284.
    scores = combined_scores([[0.80, 0.90, 0.85], [0.1, 0.1, 0.7]], [1.0, 2.0])
    assert scores == pytest.approx([-2.6389, -0.1895, 2.8284], abs=1e-4)


def test_combined_scores_with_zero_weight_keep_the_first_order() -> None:
    scores = combined_scores([[0.80, 0.90, 0.85], [0.9, 0.1, 0.7]], [1.0, 0.0])
    assert sorted(range(3), key=lambda i: -scores[i]) == [1, 2, 0]
    with pytest.raises(ValueError):
        combined_scores([[0.1]], [1.0, 1.0])


def test_position_scores_fall_with_position_like_rrf() -> None:
    scores = position_scores([0, 1, 5])
    assert scores == pytest.approx([-np.log(60), -np.log(61), -np.log(65)])
    assert scores == sorted(scores, reverse=True)


def test_best_sentence_scores_take_each_passages_best_sentence() -> None:
    sentences = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    query = np.array([0.0, 1.0], dtype=np.float32)
    # Passage 0 has sentences 0 and 1 (cosines 0, 1); passage 1 none; passage 2 sentence 2.
    best = best_sentence_scores(sentences, [2, 0, 1], query, fallback=[0.5, 0.4, 0.3])
    assert best == pytest.approx([1.0, 0.4, 0.8])


class ZebraEncoder:
    """A model that only likes zebras (one sentence or passage at a time), and counts its texts."""

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


def _passage(row: int, language: str, text: str) -> Passage:
    return Passage(
        passage_id=str(row),
        doc_id="d",
        text=text,
        char_start=row,
        char_end=row + 1,
        language=language,
    )


PASSAGES = [
    _passage(0, "en", "The pension. Nothing here."),
    _passage(1, "es", "La pensión."),
    _passage(2, "en", "A zebra. Other things."),
    _passage(3, "es", "Una cebra, zebra."),
]
FIRST = [0.9, 0.8, 0.7, 0.6]  # e5 cosines, first-stage order
QUERY = np.array([1.0, 0.0], dtype=np.float32)  # the question likes zebras too


def test_each_language_group_is_reordered_within_its_positions() -> None:
    reranker = Reranker(ZebraEncoder(), ZebraEncoder(), None, 30)
    # English question. English group (positions 0, 2): position z = 1, -1 (weight 2) plus best
    # sentence z = -1, 1 (weight 1): 1, -1, the order stands. Spanish group (1, 3): e5 z = 1, -1,
    # best sentence z = -1, 1, USE z = -1, 1: -1, 1, they swap.
    assert reranker.order("zebra?", QUERY, PASSAGES, FIRST, "en") == [0, 3, 2, 1]
    # A heavier sentence weight (3) lifts the English zebra sentence too: -1, 1.
    heavy = Reranker(ZebraEncoder(), ZebraEncoder(), None, 30, StageWeights(sentence=3.0))
    assert heavy.order("zebra?", QUERY, PASSAGES, FIRST, "en") == [2, 3, 0, 1]


def test_unclear_question_language_scores_every_candidate_by_position_and_sentence() -> None:
    use = ZebraEncoder()
    reranker = Reranker(use, ZebraEncoder(), None, 30)
    # Positions 0-3 (weight 2) and best sentences 0, 0, 1, 1 (weight 1): 1.698, -0.120,
    # 0.091, -1.669 (computed by hand from -ln(60 + position)).
    assert reranker.order("zebra?", QUERY, PASSAGES, FIRST, "und") == [0, 2, 1, 3]
    assert use.embedded == []  # USE-m3 is only asked about other languages


def test_without_sentence_weight_only_the_other_language_group_moves() -> None:
    weights = StageWeights(sentence=0.0, second=0.5)
    reranker = Reranker(ZebraEncoder(), ZebraEncoder(), None, 30, weights)
    # Spanish group: e5 z = 1, -1 plus 0.5 × USE z = -1, 1: 0.5, -0.5, the order stands.
    assert reranker.order("zebra?", QUERY, PASSAGES, FIRST, "en") == [0, 1, 2, 3]
    strong = Reranker(
        ZebraEncoder(), ZebraEncoder(), None, 30, StageWeights(sentence=0.0, second=2.0)
    )
    assert strong.order("zebra?", QUERY, PASSAGES, FIRST, "en") == [0, 3, 2, 1]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.md").write_text(
        "# A\n\nThe pension rules of the country are strict and well known.\n", "utf-8"
    )
    (folder / "b.md").write_text(
        "# B\n\nUna cebra (zebra) preguntó una vez por la pensión de la señora.\n", "utf-8"
    )
    (folder / "c.md").write_text(
        "# C\n\nLas reglas de la pensión son estrictas en el país (rules).\n", "utf-8"
    )
    return folder


QUESTION = "What are the pension rules of the country today?"


def test_without_the_second_stage_the_first_stage_order_stands(
    tmp_path: Path, corpus: Path
) -> None:
    assert Settings().rerank is True  # on by default
    assistant = Assistant(fake_settings(tmp_path, corpus, rerank=False), embedder=FakeEmbedder())
    assistant.add([corpus])
    assert [h.document.source for h in assistant.search(QUESTION, 3)] == ["a.md", "c.md", "b.md"]


def test_rerank_reorders_candidates_and_embeds_what_it_reads_at_ingest(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoders: list[ZebraEncoder] = []

    def make() -> ZebraEncoder:
        encoders.append(ZebraEncoder())
        return encoders[-1]

    monkeypatch.setattr(rerank, "UseEncoder", make)
    settings = {"rerank": True, "rerank_weight": 10.0}
    assistant = Assistant(fake_settings(tmp_path, corpus, **settings), embedder=FakeEmbedder())
    assistant.add([corpus])
    embedded_at_ingest = len(encoders[0].embedded)
    assert embedded_at_ingest == 3  # one passage per file, embedded while indexing
    hits = assistant.search(QUESTION, top_k=3)
    # The English passage keeps its place; the Spanish ones swap: USE-m3 likes the zebra.
    assert [h.document.source for h in hits] == ["a.md", "b.md", "c.md"]
    assert [h.rank for h in hits] == [1, 2, 3]
    assert len(encoders[0].embedded) == embedded_at_ingest  # passages came from the cache
