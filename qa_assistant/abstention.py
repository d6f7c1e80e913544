"""When the materials do not cover a question (pure; the probe questions are package data).

The rule: a question is answered when a logistic model gives at least a 0.24 probability (the
model's `cutoff`) that the materials cover it, from how much closer its nearest passage and
nearest sentence are to it than everyday questions get to the same library, and from how many
of its words and names the nearest passages in its language contain.

Why relative to everyday questions: how high a question's best passage scores says little by
itself. Off-topic questions score higher in a larger library (the best of more passages), in a
library written in their own language, and lower when asked in another language. So every
library is measured with the same ~200 everyday questions that no webinar covers (cooking,
sport, travel, hardware, astronomy, celebrities, science; `data/probe_questions.txt`, 50 each
in English, French, Spanish and Arabic): the means of their signals against the library, per
language and over all four, are its calibration. Why words: a rare word of the question (a
name, a programme, a gene) that no nearby passage contains says the materials talk about
something else, however close the meaning; a name in no passage at all says it more strongly.
A question asked across languages has no word evidence, and the model knows it.

`FEATURES` are those signals measured from the library's calibration; `COVERAGE_MODELS` holds
the coefficients fitted with `benchmarks/abstention.py` on libraries of several kinds and
languages, which also reports, library by library, how a model fitted without that library
does on it (docs/benchmarks.md, abstention).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

from qa_assistant.errors import QAError
from qa_assistant.types import Coverage, Evidence

PROBE_FILE = "probe_questions.txt"
PROBE_LANGUAGES = ("en", "fr", "es", "ar")
ALL_PROBES = "all"  # key of the means over every probe question
CALIBRATION_FORMAT = 2  # 2: means of several signals (1: of the best cosine only)
SIGNALS = ("best", "sentence")  # what the calibration averages over the probes


@dataclass(frozen=True)
class Probe:
    """An everyday question that no library of session materials is meant to cover."""

    language: str
    text: str


@functools.cache
def load_probes() -> tuple[Probe, ...]:
    """The packaged probe questions (`LANGUAGE<TAB>QUESTION` lines; `#` starts a comment)."""
    text = resources.files("qa_assistant").joinpath("data", PROBE_FILE).read_text("utf-8")
    probes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        language, sep, question = line.partition("\t")
        if not sep or language not in PROBE_LANGUAGES or not question.strip():
            raise QAError(
                f"{PROBE_FILE} line {number} is not LANGUAGE<TAB>QUESTION with a language of "
                f"{', '.join(PROBE_LANGUAGES)}: reinstall qa-assistant"
            )
        probes.append(Probe(language, question.strip()))
    return tuple(probes)


def probes_digest(probes: Sequence[Probe]) -> str:
    """Short fingerprint of a probe set: a calibration made with other probes is stale."""
    joined = "\n".join(f"{p.language}\t{p.text}" for p in probes)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


def signals(evidence: Evidence) -> dict[str, float]:
    """The calibrated signals of one measurement (`SIGNALS`)."""
    return {"best": evidence.best_cosine, "sentence": evidence.best_sentence}


@dataclass(frozen=True)
class Calibration:
    """How closely the probe questions match one generation of an index.

    `means[language][signal]` is the mean of a signal (`SIGNALS`) over the probes of a
    language, or over all of them (`ALL_PROBES`).
    """

    generation: int
    model: str
    probes: str  # probes_digest of the probe set used
    passages: int
    means: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def describes(self, generation: int, model: str, probes: str) -> bool:
        """True when this calibration is the one of that generation, model and probe set."""
        return (self.generation, self.model, self.probes) == (generation, model, probes)

    def mean(self, language: str, signal: str) -> float:
        """The probes' mean of `signal` in `language` (0 when unknown)."""
        return self.means.get(language, {}).get(signal, 0.0)

    def to_json(self) -> str:
        """The stored form (one JSON object)."""
        return json.dumps(
            {
                "format": CALIBRATION_FORMAT,
                "generation": self.generation,
                "model": self.model,
                "probes": self.probes,
                "passages": self.passages,
                "means": {k: dict(v) for k, v in self.means.items()},
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Calibration | None:
        """A stored calibration, or None when it is unreadable or of another format."""
        try:
            data = json.loads(text)
            if data.get("format") != CALIBRATION_FORMAT:
                return None
            return cls(
                generation=int(data["generation"]),
                model=str(data["model"]),
                probes=str(data["probes"]),
                passages=int(data["passages"]),
                means={
                    str(language): {str(k): float(v) for k, v in dict(values).items()}
                    for language, values in dict(data["means"]).items()
                },
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def calibrate(
    probes: Sequence[Probe],
    measured: Sequence[Evidence],
    generation: int,
    model: str,
    passages: int,
) -> Calibration:
    """The calibration from each probe's evidence against the library (0s when it is empty).

    Args:
        measured: the evidence of each probe question, in the order of `probes`.
    """
    if len(probes) != len(measured):
        raise ValueError(f"{len(probes)} probes but {len(measured)} measurements")
    groups: dict[str, list[dict[str, float]]] = {}
    for probe, evidence in zip(probes, measured, strict=True):
        values = signals(evidence)
        groups.setdefault(probe.language, []).append(values)
        groups.setdefault(ALL_PROBES, []).append(values)
    means = {
        language: {name: _mean([v[name] for v in rows]) for name in SIGNALS}
        for language, rows in sorted(groups.items())
    }
    return Calibration(generation, model, probes_digest(probes), passages, means)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def language_reference(calibration: Calibration, language: str | None) -> str:
    """The probe language a question is compared with.

    A question in a language without probes (or of unclear language) is compared with the
    probe language that matches the library best: the strictest reference at hand.
    """
    if language is not None and language != ALL_PROBES and language in calibration.means:
        return language
    languages = sorted(k for k in calibration.means if k != ALL_PROBES)
    if not languages:
        return ALL_PROBES
    return max(languages, key=lambda k: calibration.mean(k, "best"))


# ----- the model --------------------------------------------------------------------------------
FEATURES = (
    "best_vs_language",  # best cosine minus the mean of the probes in the question's language
    "best_vs_all",  # best cosine minus the mean of all probes
    "sentence_vs_language",  # best sentence cosine minus the language probes' mean
    "word_share",  # Evidence.word_share (0 across languages)
    "unknown_name",  # 1 when a name of the question is in no passage (0 across languages)
    "across_languages",  # 1 when no passage near the question is in its language
)


def features(evidence: Evidence, calibration: Calibration, language: str | None) -> list[float]:
    """The model's inputs (`FEATURES`, in order) for a question in `language`."""
    reference = language_reference(calibration, language)
    across = evidence.word_share is None
    return [
        evidence.best_cosine - calibration.mean(reference, "best"),
        evidence.best_cosine - calibration.mean(ALL_PROBES, "best"),
        evidence.best_sentence - calibration.mean(reference, "sentence"),
        0.0 if across else float(evidence.word_share or 0.0),
        1.0 if evidence.unknown_name else 0.0,
        1.0 if across else 0.0,
    ]


@dataclass(frozen=True)
class CoverageModel:
    """Logistic regression over `FEATURES` and the probability a question must reach."""

    intercept: float
    weights: Mapping[str, float]  # one per name of FEATURES
    cutoff: float

    def probability(self, values: Sequence[float]) -> float:
        """The probability that the materials cover a question with these feature values."""
        z = self.intercept + sum(
            self.weights[name] * x for name, x in zip(FEATURES, values, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


# multilingual-e5-small, fitted with benchmarks/abstention.py on all its libraries (18 question
# sets: demo, XQuAD en/es/ar/de within and across languages, QMSum, SciFact, all together; each
# set and group weighs alike; ridge penalty 1 on standardised features). The coefficients apply
# to raw feature values; the cut-off is the highest that declines ≤ 5 % of those libraries'
# covered questions. Other models' cosines spread differently: they keep a fixed threshold.
COVERAGE_MODELS = {
    "multilingual-e5-small": CoverageModel(
        intercept=-2.4486,
        weights={
            "best_vs_language": 13.8144,
            "best_vs_all": 8.9643,
            "sentence_vs_language": 22.0603,
            "word_share": 2.0274,
            "unknown_name": -1.1405,
            "across_languages": 1.0803,
        },
        cutoff=0.2382,
    )
}


def model_for(name: str) -> CoverageModel | None:
    """The coverage model of embedding model `name` (also run with int8 weights), else None."""
    return COVERAGE_MODELS.get(name.split("@", 1)[0])


def judge(
    evidence: Evidence,
    has_hits: bool,
    language: str | None,
    calibration: Calibration,
    model: CoverageModel,
) -> Coverage:
    """Answer or decline by the model over the library's calibration."""
    reference = language_reference(calibration, language)
    values = features(evidence, calibration, language)
    probability = model.probability(values)
    return Coverage(
        covered=has_hits and probability >= model.cutoff,
        rule="model",
        best_score=evidence.best_cosine,
        bar=model.cutoff,
        probability=probability,
        reference=reference,
        floor=calibration.mean(reference, "best"),
        features=tuple(values),
    )


def judge_fixed(best_score: float, has_hits: bool, threshold: float) -> Coverage:
    """Answer or decline by a fixed best cosine (QA_MIN_SCORE, or no coverage model)."""
    return Coverage(
        covered=has_hits and best_score >= threshold,
        rule="fixed",
        best_score=best_score,
        bar=threshold,
        floor=threshold,
    )


# ----- word evidence ----------------------------------------------------------------------------
def inverse_document_frequency(found: int, passages: int) -> float:
    """BM25's IDF of a word in `found` of `passages` passages (never negative)."""
    return math.log(1.0 + (passages - found + 0.5) / (found + 0.5))


def word_share(counts: Sequence[tuple[int, int]], passages: int) -> float:
    """The IDF-weighted share of words found in the nearest passages.

    Args:
        counts: per word, (passages of the library containing it, nearest passages containing
            it), as `IndexStore.term_counts` gives them.
    """
    weights = [inverse_document_frequency(found, passages) for found, _ in counts]
    total = sum(weights)
    if total <= 0:
        return 1.0
    return sum(w for w, (_, near) in zip(weights, counts, strict=True) if near) / total


# ----- fitting (benchmarks/abstention.py) -------------------------------------------------------
def fit_logistic(
    rows: Sequence[Sequence[float]],
    covered: Sequence[bool],
    weights: Sequence[float],
    l2: float = 1.0,
) -> tuple[float, list[float]]:
    """(intercept, coefficients) of an L2-regularised logistic regression, by Newton's method.

    The features are standardised for the fit (so that one `l2` suits features of any scale;
    the intercept is not penalised) and the coefficients returned apply to raw values.

    Args:
        weights: each row's weight in the likelihood (e.g. 1 / size of its question set).
    """
    import numpy as np

    x = np.asarray(rows, dtype=float)
    y = np.asarray(covered, dtype=float)
    w = np.asarray(weights, dtype=float)
    centre, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - centre) / scale])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    beta = np.zeros(z.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        gradient = z.T @ (w * (p - y)) + penalty * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    coefficients = beta[1:] / scale
    intercept = float(beta[0] - (coefficients * centre).sum())
    return intercept, [float(c) for c in coefficients]


NEWTON_STEPS = 100  # a strictly convex problem: Newton converges in well under 20


def cutoff_declining(probabilities: Sequence[float], share: float) -> float:
    """The highest cut-off that declines at most `share` of these (covered) questions."""
    ordered = sorted(probabilities)
    return ordered[min(math.floor(share * len(ordered)), len(ordered) - 1)]
