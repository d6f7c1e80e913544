"""Reciprocal rank fusion of several rankings (pure)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
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
