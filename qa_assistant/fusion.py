"""Fusion of rankings and scores (pure): reciprocal rank fusion, convex blends, in-place
re-ordering, document prior, neighbours."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)

RRF_K = 60  # Cormack, Clarke & Büttcher, 2009


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Key]], weights: Sequence[float], k: int = RRF_K
) -> list[tuple[Key, float]]:
    """Fuse rankings: score(d) = Σ weight_r / (k + rank_r(d)), ranks from 1.

    Ties are broken by the first ranking's order, then by first appearance, so results are
    deterministic.
    """
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking")
    scores: dict[Key, float] = {}
    first_seen: dict[Key, tuple[int, int]] = {}
    for which, (ranking, weight) in enumerate(zip(rankings, weights, strict=True)):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            first_seen.setdefault(key, (which, rank))
    return sorted(scores.items(), key=lambda item: (-item[1], first_seen[item[0]]))


def fuse_within_group(
    base: Sequence[Key],
    group: Collection[Key],
    ranking: Sequence[Key],
    weight: float,
    k: int = RRF_K,
) -> list[Key]:
    """Re-order the members of `group` among the positions they hold in `base`.

    The members are fused by RRF of their order in `base` and their order in `ranking` (a
    retriever that only sees the group, such as keyword search in the question's language);
    every other key keeps its position. Keys of `ranking` must be in `base`.
    """
    members = [key for key in base if key in group]
    inside = [key for key in ranking if key in group]
    order = [key for key, _ in reciprocal_rank_fusion([members, inside], [1.0, weight], k)]
    return reorder_within(base, group, order)


def reorder_within(base: Sequence[Key], group: Collection[Key], order: Sequence[Key]) -> list[Key]:
    """`base` with the positions held by members of `group` filled, in turn, from `order`."""
    members = iter(order)
    return [next(members) if key in group else key for key in base]


def min_max(values: Mapping[Key, float]) -> dict[Key, float]:
    """Each value scaled to [0, 1] over the set (all 1 when they do not vary)."""
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high == low:
        return dict.fromkeys(values, 1.0)
    return {key: (value - low) / (high - low) for key, value in values.items()}


def convex_order(
    dense: Mapping[Key, float], words: Mapping[Key, float], weight: float
) -> list[Key]:
    """The keys of `dense` by (1 - weight)·dense + weight·words: dense scores min-max
    normalised over the keys, word scores (BM25, positive) divided by the best one (a key word
    search did not find counts 0). Ties keep the dense order."""
    first = min_max(dense)
    found = {key: words[key] for key in dense if key in words}
    top = max(found.values(), default=0.0)
    matched = {key: value / top for key, value in found.items()} if top > 0 else {}
    blended = {key: (1 - weight) * first[key] + weight * matched.get(key, 0.0) for key in dense}
    return sorted(dense, key=lambda key: (-blended[key], -dense[key]))


def document_prior(
    order: Sequence[Key], document_of: Mapping[Key, str], weight: float, depth: int, k: int = RRF_K
) -> list[Key]:
    """`order` fused by RRF with a document ranking: the document or meeting a question is
    about tends to hold several of its good candidates.

    A document scores Σ 1/(k + rank) over its first `depth` passages in `order`; the second
    ranking lists the passages document by document, best document first (within one, in
    `order`), and weighs `weight` against `order`'s 1.
    """
    scores: dict[str, float] = {}
    taken: dict[str, int] = {}
    for rank, key in enumerate(order, start=1):
        doc = document_of[key]
        if taken.get(doc, 0) < depth:
            taken[doc] = taken.get(doc, 0) + 1
            scores[doc] = scores.get(doc, 0.0) + 1 / (k + rank)
    position = {key: i for i, key in enumerate(order)}
    by_document = sorted(order, key=lambda key: (-scores[document_of[key]], position[key]))
    return [key for key, _ in reciprocal_rank_fusion([order, by_document], [1.0, weight], k)]


def standard_scores(values: Sequence[float]) -> list[float]:
    """(value - mean) / standard deviation; all zeros when the values do not vary."""
    if not values:
        return []
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if spread == 0:
        return [0.0 for _ in values]
    return [(v - mean) / spread for v in values]


def neighbour_smoothed(
    scores: Mapping[Key, float],
    adjacent: Mapping[Key, Sequence[Key | None]],
    weight: float,
) -> dict[Key, float]:
    """Each passage's score raised by its neighbours' in the document (pure).

    `adjacent[key]` lists the passages at offsets -r..r around `key` in text order (the key
    itself in the middle, None past either end of the document). The blend is the weighted
    mean over the neighbours that exist, a neighbour without a score counting 0: the passage
    weighs 1, its direct neighbours `weight`, and each further step halves the weight. A
    passage keeps the larger of its own score and the blend: inside a discussion of the
    question it rises towards its neighbours, and an answer said at one moment keeps its own.
    """
    smoothed: dict[Key, float] = {}
    for key, around in adjacent.items():
        radius = len(around) // 2
        total = norm = 0.0
        for offset, neighbour in enumerate(around, start=-radius):
            if neighbour is None:
                continue
            w = 1.0 if offset == 0 else weight / 2 ** (abs(offset) - 1)
            total += w * scores.get(neighbour, 0.0)
            norm += w
        smoothed[key] = max(scores.get(key, 0.0), total / norm)
    return smoothed
