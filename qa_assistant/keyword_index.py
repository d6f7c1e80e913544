"""Keyword search terms: exact words, names and acronyms (ANSES, SINTyS, AUH) for SQLite FTS5.

FTS5's unicode61 tokenizer with remove_diacritics folds accents on both sides, so
"información" matches "informacion". Stopwords of the series' languages are dropped so that a
question's function words do not decide the ranking.
"""

from __future__ import annotations

import re

FTS_TOKENIZER = "unicode61 remove_diacritics 2"
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

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


def exact_terms(question: str) -> list[str]:
    """Acronyms, names and numbers of a question: words that mean the same in every language.

    ANSES, SINTyS, AUH, CNCPS, "Hiquis", "1000": an uppercase letter after the first, a
    capital inside the sentence, or digits. These are what keyword search is for across
    languages; ordinary content words only match passages in the question's language.
    """
    found: dict[str, None] = {}
    for match in _WORD.finditer(question):
        word = match.group().replace("’", "'").split("'")[-1]  # l'ANSES → ANSES
        if not word:
            continue
        inside = match.start() > 0 and question[: match.start()].strip()[-1:] not in (
            "",
            ".",
            "?",
            "!",
            "¿",
            "¡",
            "؟",
            '"',
            "«",
        )
        if (
            any(c.isdigit() for c in word)
            or sum(c.isupper() for c in word[1:]) >= 1
            or (inside and word[0].isupper())
        ):
            found.setdefault(word.lower(), None)
    return list(found)[:MAX_TERMS]


def fts_query(terms: list[str]) -> str | None:
    """An FTS5 MATCH expression that matches any of the terms (None when there are none)."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    return " OR ".join(quoted) if quoted else None
