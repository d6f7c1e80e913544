"""Keyword search terms: words, names and acronyms (ANSES, SINTyS, AUH) for SQLite FTS5.

The FTS5 table has two columns: `text`, the words as written, and `stems`, each word reduced
by the Snowball stemmer of the passage's language. Word search only compares a question with
passages in its own language, so with `Settings.stemming` it can compare stems: Spanish
"pensiones" finds "pensión", French "retraites" finds "retraite". FTS5's unicode61 tokenizer
with remove_diacritics folds accents on both sides, so "información" matches "informacion".
Stopwords of the series' languages are dropped so that a question's function words do not
decide the ranking.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa_assistant.types import Passage

FTS_TOKENIZER = "unicode61 remove_diacritics 2"
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # what unicode61 sees as one token
TEXT_COLUMN = "text"
STEMS_COLUMN = "stems"
# Snowball stemmers (PyStemmer) of the series' languages and their close neighbours.
SNOWBALL = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "ar": "arabic",
    "pt": "portuguese",
    "de": "german",
    "it": "italian",
}

STOPWORDS = frozenset(
    """
    a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its of on or our should so than that the their them there these they this to
    was we were what when where which who whom why will with would you your about tell me
    explain describe said say says
    le la les un une des du de d l et ou en au aux est sont que qui quoi quel quelle quels
    quelles comment pourquoi dans pour par sur avec ce cette ces son sa ses leur leurs il elle
    ils elles nous vous on ne pas plus qu s y a été être fait faire
    el los las unos unas del al y o en es son que qué quien quién cual cuál cuales como cómo
    por para con se su sus lo le les un una uno este esta estos estas ese esa cuándo dónde
    fue ser hay sobre entre
    في من على إلى عن ما ماذا كيف هل هي هو التي الذي التى مع أن إن كان كانت لماذا أي ذلك هذه هذا
    و أو ثم لم لا ب ل
    """.split()
)


def keyword_terms(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(question):
        word = match.group().lower().replace("’", "'")
        if len(word) < 2 and not word.isdigit():
            continue
        if word in STOPWORDS:
            continue
        seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


_CAPITALISED_INSIDE = re.compile(r"(?<=[\w,;:] )[^\W\d_][^\W_]*", re.UNICODE)


def question_names(question: str) -> list[str]:
    """Words capitalised inside a question (not at its start), lower-cased: mostly names."""
    found = (m.group() for m in _CAPITALISED_INSIDE.finditer(question))
    words = [w.lower() for w in found if w[0].isupper()]
    return [w for w in dict.fromkeys(words) if w not in STOPWORDS and len(w) > 1]


@functools.cache
def _stemmer(language: str) -> Any:
    """The Snowball stemmer of a language code, or None when there is none."""
    name = SNOWBALL.get(language)
    if name is None:
        return None
    import Stemmer

    return Stemmer.Stemmer(name)


def stem_words(words: list[str], language: str | None) -> list[str]:
    """Lower-cased `words` reduced to their Snowball stems in `language` (as is without one)."""
    lowered = [w.lower() for w in words]
    stemmer = _stemmer(language or "und")
    if stemmer is None:
        return lowered
    return [str(w) for w in stemmer.stemWords(lowered)]


def stemmed_text(text: str, language: str | None) -> str:
    """What the `stems` column stores: every token of `text`, stemmed, space-separated."""
    return " ".join(stem_words(_TOKEN.findall(text), language))


def stemmed_terms(terms: list[str], language: str | None) -> list[str]:
    """Query terms for the `stems` column: split like the index splits them, then stemmed.

    "l'économie" becomes "l" and "économie", then "économ" (the tokenizer folds the accent);
    pieces that are stopwords or single letters are dropped, as in `keyword_terms`.
    """
    pieces = [
        piece
        for term in terms
        for piece in _TOKEN.findall(term)
        if piece.lower() not in STOPWORDS and (len(piece) > 1 or piece.isdigit())
    ]
    return list(dict.fromkeys(stem_words(pieces, language)))[:MAX_TERMS]


def fts_query(terms: list[str], column: str = TEXT_COLUMN) -> str | None:
    """An FTS5 MATCH expression: any of the terms in `column` (None when there are none)."""
    quoted = [f'{column} : "' + term.replace('"', '""') + '"' for term in terms]
    return " OR ".join(quoted) if quoted else None


def keyword_text(passage: Passage) -> str:
    """What word search reads of a passage: its text, and its speaker and section names (so
    that "what did Brau say about …" finds Brau's turns)."""
    extra = " ".join(x for x in (passage.speaker, passage.section) if x)
    return f"{extra}\n{passage.text}" if extra else passage.text
