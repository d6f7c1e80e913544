"""Language detection for documents, passages and questions (pure; langdetect underneath)."""

from __future__ import annotations

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
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0  # langdetect is randomised; a fixed seed keeps results repeatable
    try:
        guesses = detect_langs(sample)
    except LangDetectException:
        return default
    if among is not None:
        for guess in guesses:
            if guess.lang in among and guess.prob >= AMONG_CONFIDENCE:
                return str(guess.lang)
    for guess in guesses:
        if guess.prob >= MIN_CONFIDENCE and (among is not None or guess.lang in KNOWN_LANGUAGES):
            return str(guess.lang)
    return default
