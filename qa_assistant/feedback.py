"""The organisers' feedback loop: every question asked, its top hits, and participants' votes.

Stored beside the index (`INDEX_DIR/questions.sqlite`, kept across rebuilds), anonymously:
the question text, its language, the hour it was asked, whether it was answered and which
passages were shown. No name, address, session cookie or client detail is ever stored.
`QA_LOG_QUESTIONS=false` turns the log off.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa_assistant.answering import format_time
from qa_assistant.errors import QAError
from qa_assistant.types import Answer, SearchFilters

LOG_FILE = "questions.sqlite"
LOGGED_HITS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS asks (
    ask_id TEXT PRIMARY KEY, asked_hour TEXT NOT NULL, question TEXT NOT NULL,
    normalized TEXT NOT NULL, language TEXT, answered INTEGER NOT NULL, session_filter TEXT
);
CREATE TABLE IF NOT EXISTS hits (
    ask_id TEXT NOT NULL, rank INTEGER NOT NULL, doc_id TEXT NOT NULL, source TEXT NOT NULL,
    session TEXT, citation TEXT NOT NULL, score REAL NOT NULL, page_start INTEGER,
    page_end INTEGER, time_start REAL, time_end REAL, PRIMARY KEY (ask_id, rank)
);
CREATE TABLE IF NOT EXISTS votes (
    ask_id TEXT NOT NULL, rank INTEGER NOT NULL, vote INTEGER NOT NULL,
    PRIMARY KEY (ask_id, rank)
);
"""


@dataclass(frozen=True)
class QuestionSummary:
    """One question as organisers see it: how often it was asked, answered and judged."""

    question: str
    language: str | None
    asked: int
    unanswered: int
    helpful: int
    unhelpful: int
    last_asked: str
    sessions: tuple[str, ...]


def normalize_question(question: str) -> str:
    """The same question typed twice: case, accents' composition and spaces folded."""
    return " ".join(unicodedata.normalize("NFC", question).casefold().split()).rstrip(" ?¿؟!.")


class QuestionLog:
    """The log in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def record(self, answer: Answer, filters: SearchFilters) -> str:
        """Log a question and the hits shown for it; return its id (for votes)."""
        ask_id = secrets.token_hex(12)
        hour = datetime.now(UTC).strftime("%Y-%m-%d %H:00")  # no finer: it is not a trace
        session = ",".join(filters.sessions) or None
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO asks VALUES (?,?,?,?,?,?,?)",
                (
                    ask_id,
                    hour,
                    answer.question,
                    normalize_question(answer.question),
                    answer.query_language,
                    int(answer.answerable),
                    session,
                ),
            )
            for hit in answer.hits[:LOGGED_HITS]:
                passage, document = hit.passage, hit.document
                self._db.execute(
                    "INSERT INTO hits VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        ask_id,
                        hit.rank,
                        document.doc_id,
                        document.source,
                        document.session.session_id if document.session else None,
                        hit.citation.label,
                        hit.score,
                        passage.pages[0] if passage.pages else None,
                        passage.pages[1] if passage.pages else None,
                        passage.start_seconds,
                        passage.end_seconds,
                    ),
                )
            self._db.execute("COMMIT")
        return ask_id

    def vote(self, ask_id: str, rank: int, helpful: bool) -> None:
        """Record 👍 (helpful) or 👎 on one shown hit; a second vote replaces the first."""
        with self._lock:
            known = self._db.execute(
                "SELECT 1 FROM hits WHERE ask_id=? AND rank=?", (ask_id, rank)
            ).fetchone()
            if known is None:
                raise QAError("no such answer to vote on (it may be from an older index)")
            self._db.execute(
                "INSERT OR REPLACE INTO votes VALUES (?,?,?)", (ask_id, rank, 1 if helpful else -1)
            )

    def questions(self, session: str | None = None) -> list[QuestionSummary]:
        """Questions grouped by their folded text: unanswered and 👎 first, then the most
        asked. `session`: only questions whose hits (or filter) came from that session."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.normalized, min(a.question), max(a.language), count(DISTINCT a.ask_id),"
                " count(DISTINCT CASE WHEN a.answered = 0 THEN a.ask_id END),"
                " (SELECT count(*) FROM votes v JOIN asks b ON b.ask_id = v.ask_id"
                "  WHERE b.normalized = a.normalized AND v.vote > 0),"
                " (SELECT count(*) FROM votes v JOIN asks b ON b.ask_id = v.ask_id"
                "  WHERE b.normalized = a.normalized AND v.vote < 0),"
                " max(a.asked_hour),"
                " group_concat(DISTINCT coalesce(h.session, a.session_filter))"
                " FROM asks a LEFT JOIN hits h ON h.ask_id = a.ask_id"
                " GROUP BY a.normalized"
            ).fetchall()
        summaries = [
            QuestionSummary(
                question=row[1],
                language=row[2],
                asked=row[3],
                unanswered=row[4],
                helpful=row[5],
                unhelpful=row[6],
                last_asked=row[7],
                sessions=tuple(sorted(s for s in (row[8] or "").split(",") if s)),
            )
            for row in rows
        ]
        if session:
            summaries = [s for s in summaries if session in s.sessions]
        return sorted(
            summaries,
            key=lambda s: (-(s.unanswered + s.unhelpful), -s.asked, s.question),
        )

    def judged_rows(self) -> list[dict[str, Any]]:
        """The 👍 votes as `qa-assistant eval questions` rows: the question and the place
        participants found helpful (several places of one question become `also`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.question, a.language, h.source, h.page_start, h.page_end,"
                " h.time_start, h.time_end FROM votes v"
                " JOIN asks a ON a.ask_id = v.ask_id"
                " JOIN hits h ON h.ask_id = v.ask_id AND h.rank = v.rank"
                " WHERE v.vote > 0 ORDER BY a.normalized, h.source, h.page_start, h.time_start"
            ).fetchall()
        judged: dict[str, tuple[str, str | None, list[dict[str, Any]]]] = {}
        for question, language, source, page_start, page_end, time_start, time_end in rows:
            place: dict[str, Any] = {"doc": source}
            if page_start is not None:
                place["pages"] = list(range(page_start, (page_end or page_start) + 1))
            elif time_start is not None:
                place["time"] = [format_time(time_start), format_time(time_end or time_start)]
            _, _, places = judged.setdefault(normalize_question(question), (question, language, []))
            if place not in places:
                places.append(place)
        result = []
        for question, language, places in judged.values():
            row: dict[str, Any] = {"question": question, **places[0]}
            if language:
                row["language"] = language
            if places[1:]:
                row["also"] = places[1:]
            result.append(row)
        return result

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def questions_csv(summaries: list[QuestionSummary]) -> str:
    """The Questions view as CSV (UTF-8, one row per question)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["question", "language", "asked", "unanswered", "helpful", "unhelpful", "last_asked",
         "sessions"]
    )  # fmt: skip
    for s in summaries:
        writer.writerow(
            [s.question, s.language or "", s.asked, s.unanswered, s.helpful, s.unhelpful,
             s.last_asked, " ".join(s.sessions)]
        )  # fmt: skip
    return out.getvalue()


def judged_jsonl(rows: list[dict[str, Any]]) -> str:
    """Judged questions as the JSON-lines file `qa-assistant eval questions` reads."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
