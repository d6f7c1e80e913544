"""Language detection for documents, passages and questions (pure; langdetect underneath)."""

from __future__ import annotations

import re

# Languages the series uses, plus close neighbours that detection confuses them with.
KNOWN_LANGUAGES = ("en", "fr", "es", "ar", "pt", "de", "it")
MIN_DETECT_CHARS = 20
MIN_CONFIDENCE = 0.6
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


def detect_language(text: str, default: str = "und") -> str:
    """Best-guess ISO 639-1 code of `text`, or `default` when the text is too short or unclear."""
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
    for guess in guesses:
        if guess.lang in KNOWN_LANGUAGES and guess.prob >= MIN_CONFIDENCE:
            return str(guess.lang)
    return default
