"""Keyword terms and Snowball stems: what word search compares (pure), and its effect in search."""

from __future__ import annotations

from pathlib import Path

from qa_assistant.assistant import Assistant
from qa_assistant.keyword_index import (
    fts_query,
    keyword_terms,
    stem_words,
    stemmed_terms,
    stemmed_text,
)

from .conftest import FakeEmbedder, fake_settings


def test_words_are_stemmed_in_their_own_language() -> None:
    assert stem_words(["Pensiones", "pensión"], "es") == ["pension", "pension"]
    assert stem_words(["retraites", "retraite"], "fr") == ["retrait", "retrait"]
    assert stem_words(["programmes", "programme"], "en") == ["programm", "programm"]
    # No stemmer for the language (or none known): lower-cased as written.
    assert stem_words(["ANSES", "Pensiones"], "und") == ["anses", "pensiones"]
    assert stem_words(["Pensiones"], None) == ["pensiones"]


def test_stemmed_text_splits_like_the_fts_tokenizer() -> None:
    # unicode61 splits at apostrophes and punctuation; the stems column must hold the same units.
    assert stemmed_text("L'économie des retraites, 2023.", "fr") == "l économ de retrait 2023"


def test_stemmed_terms_drop_stopword_pieces_and_duplicates() -> None:
    terms = keyword_terms("Qu'en est-il de l'économie et des retraites de l'économie ?")
    # Accents stay in the stem; the FTS5 tokenizer folds them on both sides.
    assert stemmed_terms(terms, "fr") == ["économ", "retrait"]


def test_fts_query_names_its_column_and_escapes_quotes() -> None:
    assert fts_query(["anses", 'say "x"'], "text") == 'text : "anses" OR text : "say ""x"""'
    assert fts_query([], "stems") is None


def test_with_stemming_word_search_finds_other_inflections(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "es.md").write_text(
        "# Informe\n\nLa reforma de la pensión universal amplió la cobertura de los mayores.\n",
        "utf-8",
    )
    (corpus / "otro.md").write_text(
        "# Otro\n\nLa asignación por hijo llega a millones de familias cada mes del año.\n",
        "utf-8",
    )
    # The fake embedder only matches exact words: "pensiones" ≠ "pensión" for it, so only
    # word search on stems can put the pension passage first.
    question = "¿Qué pasó con las pensiones universales de los jubilados?"
    stemmed = Assistant(
        fake_settings(tmp_path, corpus, word_weight=5.0, stem_languages=("es",)),
        embedder=FakeEmbedder(),
    )
    stemmed.add([corpus])
    hits = stemmed.search(question, top_k=2)
    assert hits[0].document.source == "es.md"
    assert hits[0].retriever == "hybrid"
    # The same index without stemming (the default): no word matches, the dense order stands.
    as_written = Assistant(
        fake_settings(tmp_path, corpus, word_weight=5.0), embedder=FakeEmbedder()
    )
    assert [h.retriever for h in as_written.search(question, top_k=2)] == ["vector", "vector"]
