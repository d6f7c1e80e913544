"""Readers of evaluation sets: BEIR folders, QMSum-style span targets, organiser question files.

Data loading at the edge: these read files into the typed gold records of `evaluation`, which
stays pure. Nothing here reads the materials being searched; the runner indexes those.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_assistant.errors import QAError
from qa_assistant.evaluation import (
    BeirDocument,
    BeirQuery,
    JudgedQuestion,
    Location,
    SpanQuery,
    parse_clock,
)


@dataclass(frozen=True)
class BeirSet:
    """A BEIR-style set: corpus, the queries that have judgements, and their judgements."""

    documents: tuple[BeirDocument, ...]
    queries: tuple[BeirQuery, ...]


@dataclass(frozen=True)
class SpanSet:
    """Span-judged queries and the folder holding the transcripts they refer to."""

    queries: tuple[SpanQuery, ...]
    docs_dir: Path


@dataclass(frozen=True)
class QuestionSet:
    """Organiser questions and the corpus folder their `doc` paths are relative to."""

    questions: tuple[JudgedQuestion, ...]
    docs_dir: Path


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise QAError(f"{path}, line {number}: not JSON ({exc.msg})") from exc
                if not isinstance(row, dict):
                    raise QAError(f"{path}, line {number}: expected a JSON object")
                yield row
    except OSError as exc:
        raise QAError(f"cannot read {path} ({exc.strerror or exc}); check the path") from exc


def _field(row: dict[str, Any], name: str, path: Path) -> Any:
    if name not in row:
        raise QAError(f"{path}: a row lacks the field {name!r}: {json.dumps(row)[:120]}")
    return row[name]


def read_qrels(path: Path) -> dict[str, dict[str, float]]:
    """`query-id corpus-id score` rows (tab-separated, header first) → grades per query."""
    grades: dict[str, dict[str, float]] = {}
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
    except OSError as exc:
        raise QAError(f"cannot read {path} ({exc.strerror or exc}); check the path") from exc
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
            continue  # blank line or header
        if len(row) < 3:
            raise QAError(f"{path}, line {number}: expected query-id, corpus-id and score")
        try:
            grade = float(row[2])
        except ValueError as exc:
            raise QAError(f"{path}, line {number}: score {row[2]!r} is not a number") from exc
        grades.setdefault(row[0], {})[row[1]] = grade
    return grades


def load_beir(
    corpus: Path, queries: Path, qrels: Path, query_language: str | None = None
) -> BeirSet:
    """Read a BEIR-style set; only queries with at least one relevant document are kept.

    The query file may be in another language than the corpus when the ids match (XQuAD).
    """
    judgements = read_qrels(qrels)
    documents = tuple(
        BeirDocument(
            doc_id=str(_field(row, "_id" if "_id" in row else "id", corpus)),
            title=str(row.get("title") or ""),
            text=str(_field(row, "text", corpus)),
        )
        for row in _json_lines(corpus)
    )
    kept = []
    for row in _json_lines(queries):
        query_id = str(_field(row, "_id" if "_id" in row else "id", queries))
        grades = judgements.get(query_id, {})
        if any(grade > 0 for grade in grades.values()):
            text = str(_field(row, "text", queries))
            kept.append(BeirQuery(query_id, text, grades, query_language))
    if not kept:
        raise QAError(f"no query in {queries} has a relevant document in {qrels}; check the ids")
    return BeirSet(documents=documents, queries=tuple(kept))


def load_spans(targets: Path, docs_dir: Path, split: str | None = None) -> SpanSet:
    """Read span targets (QMSum layout), keeping those of `split` whose transcript exists.

    `docs_dir` may hold the transcripts directly or in one subfolder per split.
    """
    folder = docs_dir / split if split and (docs_dir / split).is_dir() else docs_dir
    if not folder.is_dir():
        raise QAError(f"no transcript folder {folder}; pass --docs DIR")
    meetings = {path.stem for path in folder.rglob("*.txt")}
    queries = []
    for row in _json_lines(targets):
        if split is not None and row.get("split") != split:
            continue
        meeting = str(_field(row, "meeting_id", targets))
        if meeting not in meetings:
            continue
        spans = tuple(
            (int(span["char_start"]), int(span["char_end"]))
            for span in _field(row, "spans", targets)
        )
        queries.append(
            SpanQuery(
                query_id=str(_field(row, "qid", targets)),
                text=str(_field(row, "query", targets)),
                meeting_id=meeting,
                spans=spans,
                language=row.get("language"),
            )
        )
    if not queries:
        raise QAError(
            f"no span target in {targets} matches a transcript in {folder}"
            + (f" for split {split!r}" if split else "")
        )
    return SpanSet(queries=tuple(queries), docs_dir=folder)


def _location(row: dict[str, Any], path: Path) -> Location:
    doc = str(_field(row, "doc", path))
    pages = tuple(int(page) for page in row.get("pages") or ())
    time = row.get("time")
    span = None
    if time:
        if len(time) != 2:
            raise QAError(f"{path}: 'time' must be [start, end], got {time!r}")
        span = (parse_clock(str(time[0])), parse_clock(str(time[1])))
    return Location(doc=doc, pages=pages, time=span)


def load_questions(path: Path, docs_dir: Path) -> QuestionSet:
    """Read organiser questions (`question`, `language`, `doc`, `pages`|`time`, `also`)."""
    if not docs_dir.is_dir():
        raise QAError(f"no corpus folder {docs_dir}; pass --docs DIR")
    questions = []
    for row in _json_lines(path):
        answerable = bool(row.get("answerable", True))
        locations: tuple[Location, ...] = ()
        if answerable:
            main = _location(row, path)
            locations = (main, *(_location(other, path) for other in row.get("also") or ()))
        questions.append(
            JudgedQuestion(
                question=str(_field(row, "question", path)),
                language=row.get("language"),
                locations=locations,
                answerable=answerable,
            )
        )
    if not questions:
        raise QAError(f"{path} holds no questions")
    return QuestionSet(questions=tuple(questions), docs_dir=docs_dir)
