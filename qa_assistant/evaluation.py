"""Retrieval quality: recall@k, MRR@k and nDCG@k over judged rankings, and their summary (pure).

A query's ranking is a sequence of keys (document ids, or answer targets), best first, and its
judgements map keys to relevance grades (> 0 means relevant). A key repeated further down a
ranking counts once, at its first position, so several passages of one relevant document (or
several passages inside one gold span) are not rewarded twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

NDCG_DEPTH = 10
MRR_DEPTH = 10
RECALL_DEPTHS = (1, 5, 10)
GOLD_KEY = "gold"  # the one answer target of a judged question


# ----- metrics ----------------------------------------------------------------------------------
def _relevant(grades: Mapping[str, float]) -> set[str]:
    return {key for key, grade in grades.items() if grade > 0}


def recall_at_k(ranking: Sequence[str], grades: Mapping[str, float], k: int) -> float:
    """Share of the relevant keys found in the first `k` of `ranking` (0 when none is relevant)."""
    relevant = _relevant(grades)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], grades: Mapping[str, float], k: int) -> float:
    """1 / rank of the first relevant key within the first `k` (0 when there is none)."""
    for rank, key in enumerate(ranking[:k], start=1):
        if grades.get(key, 0.0) > 0:
            return 1.0 / rank
    return 0.0


def dcg(gains: Iterable[float]) -> float:
    """Discounted cumulative gain: Σ gain_i / log2(i + 1), ranks i from 1 (linear gain)."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranking: Sequence[str], grades: Mapping[str, float], k: int) -> float:
    """DCG of the first `k` of `ranking` over the DCG of the ideal ranking of the judgements."""
    seen: set[str] = set()
    gains: list[float] = []
    for key in ranking[:k]:
        gains.append(0.0 if key in seen else max(grades.get(key, 0.0), 0.0))
        seen.add(key)
    ideal = dcg(sorted((g for g in grades.values() if g > 0), reverse=True)[:k])
    return dcg(gains) / ideal if ideal > 0 else 0.0


# ----- summary ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryOutcome:
    """One evaluated query: what was retrieved, what is relevant, and whether it abstained.

    `abstained` is None when abstention was not measured; unanswerable queries (no relevant
    key exists) only count towards the abstention rates.
    """

    query_id: str
    language: str
    ranking: tuple[str, ...]
    grades: Mapping[str, float]
    answerable: bool = True
    abstained: bool | None = None


@dataclass(frozen=True)
class RankingMetrics:
    """Mean ranking metrics over a set of answerable queries."""

    ndcg_at_10: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    n_queries: int


@dataclass(frozen=True)
class EvalResult:
    """Ranking metrics over all answerable queries and per query language, plus abstention.

    Args:
        abstention_rate: share of unanswerable questions the assistant declined (higher is
            better); None when the set has no unanswerable questions or none was measured.
        false_abstention_rate: share of answerable questions it declined (lower is better).
    """

    ndcg_at_10: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    n_queries: int
    by_language: dict[str, RankingMetrics] = field(default_factory=dict)
    n_unanswerable: int = 0
    abstention_rate: float | None = None
    false_abstention_rate: float | None = None


def ranking_metrics(outcomes: Sequence[QueryOutcome]) -> RankingMetrics:
    """Means of the metrics over `outcomes` (all zeros for an empty set)."""
    count = len(outcomes)

    def mean(values: Iterable[float]) -> float:
        return sum(values) / count if count else 0.0

    recalls = [
        mean(recall_at_k(o.ranking, o.grades, depth) for o in outcomes) for depth in RECALL_DEPTHS
    ]
    return RankingMetrics(
        ndcg_at_10=mean(ndcg_at_k(o.ranking, o.grades, NDCG_DEPTH) for o in outcomes),
        recall_at_1=recalls[0],
        recall_at_5=recalls[1],
        recall_at_10=recalls[2],
        mrr_at_10=mean(mrr_at_k(o.ranking, o.grades, MRR_DEPTH) for o in outcomes),
        n_queries=count,
    )


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarize(outcomes: Sequence[QueryOutcome]) -> EvalResult:
    """Aggregate per-query outcomes into an EvalResult (languages sorted by code)."""
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    overall = ranking_metrics(answerable)
    languages = sorted({o.language for o in answerable})
    declined = [o.abstained for o in unanswerable if o.abstained is not None]
    falsely_declined = [o.abstained for o in answerable if o.abstained is not None]
    return EvalResult(
        ndcg_at_10=overall.ndcg_at_10,
        recall_at_1=overall.recall_at_1,
        recall_at_5=overall.recall_at_5,
        recall_at_10=overall.recall_at_10,
        mrr_at_10=overall.mrr_at_10,
        n_queries=overall.n_queries,
        by_language={
            language: ranking_metrics([o for o in answerable if o.language == language])
            for language in languages
        },
        n_unanswerable=len(unanswerable),
        abstention_rate=_rate(declined),
        false_abstention_rate=_rate(falsely_declined),
    )


# ----- gold targets -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BeirQuery:
    """A query of a BEIR-style set; its judgements are document ids with grades."""

    query_id: str
    text: str
    grades: Mapping[str, float]
    language: str | None = None


@dataclass(frozen=True)
class BeirDocument:
    """A document of a BEIR-style corpus."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class SpanQuery:
    """A query answered by character spans `[start, end)` of one meeting transcript."""

    query_id: str
    text: str
    meeting_id: str
    spans: tuple[tuple[int, int], ...]
    language: str | None = None


@dataclass(frozen=True)
class Location:
    """Where an answer is: a file (path relative to the corpus), optionally narrowed down.

    `pages` are 1-based; `time` is (start, end) in seconds. With neither, any passage of the
    file is a hit (Markdown documents have no pages or times).
    """

    doc: str
    pages: tuple[int, ...] = ()
    time: tuple[float, float] | None = None


@dataclass(frozen=True)
class JudgedQuestion:
    """An organiser's question: where it is answered (any location counts), or unanswerable."""

    question: str
    language: str | None
    locations: tuple[Location, ...]
    answerable: bool = True


def overlaps_span(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    """True when `[start, end)` shares at least one character with one of `spans`."""
    return any(start < span_end and span_start < end for span_start, span_end in spans)


def matches_location(
    location: Location,
    source: str,
    pages: tuple[int, int] | None,
    start_seconds: float | None,
    end_seconds: float | None,
) -> bool:
    """True when a passage of `source` (with its page range and time range) is at `location`."""
    if source != location.doc:
        return False
    if location.pages:
        if pages is None:
            return False
        first, last = pages
        return any(first <= page <= last for page in location.pages)
    if location.time is not None:
        if start_seconds is None:
            return False
        end = end_seconds if end_seconds is not None else start_seconds
        # Inclusive: organisers write whole seconds, cues start and end on them.
        return start_seconds <= location.time[1] and location.time[0] <= end
    return True


def parse_clock(value: str) -> float:
    """'hh:mm:ss', 'mm:ss' or seconds → seconds."""
    seconds = 0.0
    for part in value.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds
