"""Fusion, keyword terms and question language: the pure pieces of ranking."""

from __future__ import annotations

import numpy as np
import pytest

from qa_assistant.fusion import (
    convex_order,
    document_prior,
    fuse_within_group,
    neighbour_smoothed,
    reciprocal_rank_fusion,
)
from qa_assistant.keyword_index import keyword_terms
from qa_assistant.language import detect_language
from qa_assistant.search import Candidates, Query, SearchOptions, diversify, fuse
from qa_assistant.types import Passage


def test_rrf_scores_match_hand_computation() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], [1.0, 0.5], k=1)
    # a: 1/2 + 0.5/3, b: 1/3, c: 1/4 + 0.5/2
    assert [key for key, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 2 + 0.5 / 3)
    assert fused[1][1] == pytest.approx(1 / 4 + 0.5 / 2)


def test_fusion_within_a_group_keeps_other_keys_in_place() -> None:
    # x and y are in another language: word search cannot see them, so they keep slots 1 and 3.
    base = ["x", "a", "y", "b", "c"]
    result = fuse_within_group(base, {"a", "b", "c"}, ["c", "b"], weight=1.0, k=1)
    assert result[0] == "x" and result[2] == "y"
    # Inside the group: c (ranks 3 and 1) beats a (rank 1 only) and b (ranks 2 and 2).
    assert [result[1], result[3], result[4]] == ["c", "b", "a"]


def test_fusion_within_a_group_is_plain_rrf_when_everything_is_in_it() -> None:
    base = ["a", "b", "c"]
    words = ["c", "b"]
    expected = [k for k, _ in reciprocal_rank_fusion([base, words], [1.0, 0.5], k=60)]
    assert fuse_within_group(base, set(base), words, weight=0.5, k=60) == expected


def test_neighbours_raise_a_score_but_never_lower_it() -> None:
    scores = {"a": 1.0, "b": 0.0, "c": 0.5, "d": 0.2}
    adjacent = {
        # radius 2: offsets -2, -1, 0, +1, +2
        "b": ("x", "a", "b", "c", "d"),  # x has no score: counts 0
        "a": (None, None, "a", "b", "c"),  # first passage of its document
        "c": ("a", "b", "c", "d", None),
        "d": ("d",),  # a passage without neighbours keeps its score
    }
    smoothed = neighbour_smoothed(scores, adjacent, weight=0.5)
    # weights 0.25, 0.5, 1, 0.5, 0.25 over the neighbours that exist
    assert smoothed["b"] == pytest.approx((0.5 * 1.0 + 0.5 * 0.5 + 0.25 * 0.2) / 2.5)
    # a's blend, (1.0 + 0.25 * 0.5) / 1.75, is below its own score: it keeps 1.0
    assert smoothed["a"] == 1.0
    assert smoothed["c"] == pytest.approx(max(0.5, (0.25 * 1.0 + 0.5 * 0 + 0.5 + 0.5 * 0.2) / 2.25))
    assert smoothed["d"] == pytest.approx(0.2)


def test_keyword_terms_drop_function_words_in_four_languages() -> None:
    assert keyword_terms("What does ANSES pay to families?") == ["anses", "pay", "families"]
    assert keyword_terms("¿Qué datos cruza el SINTyS?") == ["datos", "cruza", "sintys"]
    assert keyword_terms("Quelles sont les allocations?") == ["allocations"]
    assert "الدعم" in keyword_terms("ما هو الدعم؟")


def test_question_language_among_the_materials_languages() -> None:
    claim = "IRG1 has antiviral effects against neurotropic viruses."
    assert detect_language(claim) == "und"  # 0.57 French, 0.43 English: unclear
    assert detect_language(claim, among=("en",)) == "en"
    # A clear language the materials lack stays itself, so word search sees no passage.
    assert detect_language("¿Cuándo se fundó la universidad?", among=("en",)) == "es"
    assert detect_language("ok", among=("en",)) == "und"


def _passage(row: int, language: str) -> Passage:
    return Passage(
        passage_id=str(row),
        doc_id=f"d{row}",
        text=f"passage {row}",
        char_start=0,
        char_end=9,
        language=language,
    )


def _found(
    passages: dict[int, Passage], dense: list[tuple[int, float]], words: list[tuple[int, float]]
) -> Candidates:
    cosine = dict(dense)
    return Candidates(dense, words, cosine, passages, {})


def _query(language: str) -> Query:
    return Query("q", np.zeros(3, dtype=np.float32), language, language, "text : q")


@pytest.mark.parametrize("fusion", ["rrf", "convex"])
def test_words_in_the_question_language_cannot_jump_a_cross_lingual_answer(fusion: str) -> None:
    # Dense: the Spanish answer (1) first, then English passages 2, 3, 4. An English word
    # retriever cannot see 1; word search in English ranks 4 first.
    passages = {
        1: _passage(1, "es"),
        2: _passage(2, "en"),
        3: _passage(3, "en"),
        4: _passage(4, "en"),
    }
    found = _found(passages, [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)], [(4, 9.0), (3, 5.0)])
    options = SearchOptions(word_weight=1.0, rrf_k=1, fusion=fusion, convex_weight=0.8)  # type: ignore[arg-type]
    order = fuse(_query("en"), found, options)
    assert order[0] == 1
    # Among the English passages, RRF: 4 (1/4 + 1/2) > 3 (1/3 + 1/3) > 2 (1/2); convex at
    # 0.8: 4 (0.2·0 + 0.8·1) > 3 (0.2·0.5 + 0.8·5/9) > 2 (0.2·1 + 0).
    assert order[1:] == [4, 3, 2]


def test_without_word_search_the_dense_order_stands() -> None:
    passages = {i: _passage(i, "en") for i in (1, 2, 3)}
    found = _found(passages, [(1, 0.9), (2, 0.8), (3, 0.7)], [])
    assert fuse(_query("en"), found, SearchOptions()) == [1, 2, 3]


def test_document_prior_lifts_the_document_with_several_good_candidates() -> None:
    order = ["a1", "b1", "b2", "c1", "b3"]
    document_of = {"a1": "a", "b1": "b", "b2": "b", "b3": "b", "c1": "c"}
    # b holds three of the five candidates: with a prior as strong as the order, b1 overtakes a1.
    assert document_prior(order, document_of, weight=1.0, depth=3, k=1)[0] == "b1"
    assert document_prior(order, document_of, weight=0.0, depth=3, k=1) == order


def test_convex_order_blends_normalised_scores() -> None:
    dense = {"x": 0.9, "y": 0.8, "z": 0.7}
    assert convex_order(dense, {"z": 10.0, "y": 5.0}, 0.0) == ["x", "y", "z"]
    assert convex_order(dense, {"z": 10.0, "y": 5.0}, 1.0) == ["z", "y", "x"]


def test_diversify_skips_windows_overlapping_a_better_one() -> None:
    first = Passage("1", "d", "abc", 0, 100, language="en")
    overlapping = Passage("2", "d", "abc", 50, 150, language="en")
    apart = Passage("3", "d", "abc", 150, 250, language="en")
    passages = {1: first, 2: overlapping, 3: apart}
    assert diversify([1, 2, 3], passages, 5) == [1, 3]
    assert diversify([1, 2, 3], passages, 1) == [1]
