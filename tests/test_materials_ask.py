"""Real session materials asked about end to end: recordings in four languages, a scanned PDF
and a web page are added to one index with the real models, then found by `ask` with
citations a participant can check (time ranges, pages, the page's own URL).

Reads ../shared/samples/materials/ in place (never copied); skips when it is absent.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.types import Hit

from .conftest import SHARED

MATERIALS = SHARED / "samples" / "materials"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MATERIALS.is_dir(), reason="../shared/samples/materials not present"),
    pytest.mark.skipif(
        shutil.which("tesseract") is None,
        reason="Tesseract missing: apt-get install tesseract-ocr tesseract-ocr-eng "
        "tesseract-ocr-fra tesseract-ocr-spa tesseract-ocr-ara",
    ),
]

# (recording, question in its language, a key word of its reference transcript)
RECORDINGS = [
    (
        "speech/en_jfk_16k.wav",
        "What should my fellow Americans ask about their country?",
        "country",
    ),
    ("speech/es_leopard_arenas.wav", "¿Cómo son las arenas y de qué grano?", "arenas"),
    ("speech/fr_leopard_consulat.wav", "Qui devient conservateur des eaux et forêts ?", "consulat"),
    ("speech/ar_egyptian_klaam_demo.wav", "ماذا نفعل كل يوم بالشنطة؟", "يوم"),
]
SCAN = "scanned/en_multipage_6p.pdf"
PAGE = "html/fr_lemonde_loi_renseignement.html"


def folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@pytest.fixture(scope="module")
def assistant(
    tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path
) -> Iterator[Assistant]:
    root = tmp_path_factory.mktemp("materials")
    settings = Settings(index_dir=root / "index", corpus_dir=root, cache_dir=model_cache_dir)
    assistant = Assistant(settings)
    paths = [MATERIALS / name for name, _, _ in RECORDINGS] + [MATERIALS / SCAN, MATERIALS / PAGE]
    report = assistant.add(paths)
    assert [f.status for f in report.files] == ["indexed"] * len(paths), report
    yield assistant


def hit_for(assistant: Assistant, question: str, source: str) -> Hit:
    answer = assistant.ask(question, top_k=5)
    hits = [h for h in answer.hits if h.document.source.endswith(source)]
    assert hits, (question, [h.citation.label for h in answer.hits])
    return hits[0]


@pytest.mark.parametrize(("recording", "question", "word"), RECORDINGS)
def test_a_recording_is_found_and_its_cited_time_range_holds_the_words(
    assistant: Assistant, recording: str, question: str, word: str
) -> None:
    hit = hit_for(assistant, question, recording)
    assert hit.rank <= 3, hit.citation.label
    passage = hit.passage
    assert passage.start_seconds is not None and passage.end_seconds is not None
    assert folded(word) in folded(passage.text)
    stored = assistant.stored_document(hit.document.doc_id)
    assert stored is not None
    cues = [
        s for s in stored.segments if folded(word) in folded(stored.text[s.char_start : s.char_end])
    ]
    assert cues
    assert any(
        passage.start_seconds <= cue.start_seconds <= cue.end_seconds <= passage.end_seconds  # type: ignore[operator]
        for cue in cues
    )
    assert hit.citation.label.endswith(
        f"{_clock(passage.start_seconds)}–{_clock(passage.end_seconds)}"
    )
    assert hit.citation.link and hit.citation.link.endswith(f"#t={int(passage.start_seconds)}")


def _clock(seconds: float) -> str:
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def test_a_question_about_a_scan_cites_the_right_page_and_says_it_was_read_by_ocr(
    assistant: Assistant,
) -> None:
    hit = hit_for(assistant, "Who was sitting in the kitchen door of Miss Watson?", SCAN)
    assert hit.passage.pages == (1, 1)
    assert hit.passage.ocr
    assert hit.citation.label.endswith(", p. 1")
    assert hit.citation.link and hit.citation.link.endswith("en_multipage_6p.pdf#page=1")


def test_a_web_page_is_cited_by_its_title_and_links_to_its_url_at_the_passage(
    assistant: Assistant,
) -> None:
    hit = hit_for(assistant, "Combien de députés ont voté la loi sur le renseignement ?", PAGE)
    assert (
        hit.document.title
        == "Le projet de loi sur le renseignement massivement approuvé à l'Assemblée"
    )
    link = hit.citation.link or ""
    assert link.startswith("http://www.lemonde.fr/pixels/article/2015/05/04/")
    assert "#:~:text=" in link
    assert "Partager" not in hit.passage.text  # page furniture is not part of the text
