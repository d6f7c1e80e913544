"""The demo corpus questions (en/fr/es/ar) against the real default model and index."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qa_assistant.answering import MEDIA_FORMATS
from qa_assistant.assistant import Assistant
from qa_assistant.types import Answer, Hit

from .conftest import DATA

QUESTIONS = [
    json.loads(line)
    for line in (DATA / "demo_questions.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
ANSWERABLE = [q for q in QUESTIONS if q.get("answerable", True)]
UNANSWERABLE = [q for q in QUESTIONS if not q.get("answerable", True)]
# Measured with the default pipeline (docs/benchmarks.md); a drop below fails the build.
MIN_RECALL_AT_5 = 0.85


def _seconds(stamp: str) -> float:
    hours, minutes, seconds = (int(x) for x in stamp.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def matches(hit: Hit, target: dict[str, Any]) -> bool:
    """Right file, and an overlapping page or time range when the target gives one."""
    if hit.document.source != target["doc"]:
        return False
    if "pages" in target:
        if hit.passage.pages is None:
            return False
        first, last = hit.passage.pages
        return any(first <= page <= last for page in target["pages"])
    if "time" in target:
        start, end = (_seconds(t) for t in target["time"])
        passage_start = hit.passage.start_seconds or 0.0
        passage_end = hit.passage.end_seconds or passage_start
        return passage_start <= end and start <= passage_end
    return True


def correct_hits(answer: Answer, row: dict[str, Any]) -> list[Hit]:
    """Hits of `answer` that are a right location for `row` (or one of its alternatives)."""
    targets = [row, *row.get("also", [])]
    return [h for h in answer.hits if any(matches(h, t) for t in targets)]


@pytest.fixture(scope="module")
def answers(real_assistant: Assistant) -> dict[str, Answer]:
    return {q["question"]: real_assistant.ask(q["question"], top_k=5) for q in QUESTIONS}


@pytest.mark.slow
def test_recall_at_5_in_every_language(answers: dict[str, Answer]) -> None:
    found = {q["question"]: bool(correct_hits(answers[q["question"]], q)) for q in ANSWERABLE}
    missed = [q for q in found if not found[q]]
    recall = sum(found.values()) / len(found)
    assert recall >= MIN_RECALL_AT_5, f"recall@5 {recall:.2f}; missed: {missed}"
    for language in ("en", "fr", "es", "ar"):
        rows = [q for q in ANSWERABLE if q["language"] == language]
        assert rows and any(found[q["question"]] for q in rows), language


@pytest.mark.slow
def test_right_hits_carry_citation_link_and_highlights(answers: dict[str, Answer]) -> None:
    for row in ANSWERABLE:
        for hit in correct_hits(answers[row["question"]], row):
            assert hit.citation.label and hit.citation.link
            assert hit.highlights
            if hit.passage.pages and hit.document.doc_format == "pdf":
                assert f"#page={hit.passage.pages[0]}" in hit.citation.link
            if hit.passage.pages and hit.document.doc_format == "pptx":
                assert f", slide {hit.passage.pages[0]}" in hit.citation.label
            if hit.passage.start_seconds is not None and (
                hit.document.recording_url or hit.document.doc_format in MEDIA_FORMATS
            ):
                # the recording online at ?t=, or the served file playing from #t=
                assert f"t={int(hit.passage.start_seconds)}" in hit.citation.link


# The Arabic question on the weather in Tunis is asked across languages (no Arabic materials)
# and names the series' country: the coverage model rates it as likely covered as the covered
# Arabic questions over English materials. Declining it would take a cut-off that declines
# 30 % of all covered benchmark questions and 3 of the demo's 26 (docs/benchmarks.md, Choices).
ACCEPTED_UNANSWERABLE = ("ما هي توقعات حالة الطقس في تونس العاصمة في نهاية هذا الأسبوع؟",)


@pytest.mark.slow
def test_questions_outside_the_materials_are_not_covered(answers: dict[str, Answer]) -> None:
    for row in UNANSWERABLE:
        if row["question"] in ACCEPTED_UNANSWERABLE:
            continue
        answer = answers[row["question"]]
        assert not answer.answerable, (row["question"], answer.coverage)
    wrongly_refused = [q["question"] for q in ANSWERABLE if not answers[q["question"]].answerable]
    assert len(wrongly_refused) <= 1, wrongly_refused
