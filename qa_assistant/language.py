"""Language detection for documents, passages and questions (pure; langdetect underneath)."""

from __future__ import annotations

import functools
import re

# Languages the series uses, plus close neighbours that detection confuses them with.
KNOWN_LANGUAGES = ("en", "fr", "es", "ar", "pt", "de", "it")
MIN_DETECT_CHARS = 20
MIN_CONFIDENCE = 0.6
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
AMONG_CONFIDENCE = 0.3


def detect_language(text: str, default: str = "und", among: tuple[str, ...] | None = None) -> str:
    """Best-guess ISO 639-1 code of `text`, or `default` when the text is too short or unclear.

    With `among` (the languages of the indexed materials), a short question is assigned the
    most probable of those languages when detection gives it at least 0.3 ("IRG1 has antiviral
    effects" reads 0.57 French, 0.43 English: English, when the materials are English);
    otherwise its clear language even if the materials lack it, else `default`.
    """
    sample = text[:3000]
    letters = _LETTERS.findall(sample)
    if not letters:
        return default
    arabic = sum(1 for c in letters if _ARABIC.match(c))
    if arabic / len(letters) > 0.5:
        return "ar"
    if len(sample.strip()) < MIN_DETECT_CHARS:
        return default
    guesses = _guesses(sample)
    if among is not None:
        for lang, prob in guesses:
            if lang in among and prob >= AMONG_CONFIDENCE:
                return lang
    for lang, prob in guesses:
        if prob >= MIN_CONFIDENCE and (among is not None or lang in KNOWN_LANGUAGES):
            return lang
    return default


def written_in(passage_language: str | None, language: str) -> bool:
    """Whether a passage counts as written in `language` ("und" on either side: yes)."""
    return language == "und" or passage_language in (language, None, "und")


@functools.lru_cache(maxsize=1024)
def _guesses(sample: str) -> tuple[tuple[str, float], ...]:
    """langdetect's (language, probability) guesses, best first; () when it cannot tell.

    Cached: search asks for a question's language twice (plain, and among the materials').
    """
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0  # langdetect is randomised; a fixed seed keeps results repeatable
    try:
        return tuple((str(g.lang), float(g.prob)) for g in detect_langs(sample))
    except LangDetectException:
        return ()
