"""Abstention, library by library: the share of uncovered questions declined and of covered
questions declined by three rules, in one run.

- old: a fixed best cosine of 0.82 (multilingual-e5-small);
- probe margins: best cosine above the mean of the probe questions in the question's language
  by 0.01625 and above the mean of all probes by 0.0389 (the calibrated rule before the model);
- model: `qa_assistant.abstention`'s logistic model, each library scored by a model fitted
  without it (leave-one-library-out), its cut-off chosen so that ≤ 5 % of the training
  libraries' covered questions are declined.

The run ends by fitting the model on every library: those are the coefficients the product
ships (`abstention.COVERAGE_MODELS`; a warning when they differ).

Libraries (each a product index built with `Assistant.add_documents`):

- XQuAD (en, es, ar, de corpora): half of the 48 articles, one paragraph removed from each kept
  article; covered = questions of the kept paragraphs, uncovered = questions of the removed
  articles, asked in the corpus language and in other languages (es→en, ar→en, en→es, en→ar,
  en→de). Questions of a removed paragraph whose article stays are reported apart ("near").
- QMSum val: the meetings of two of its three domains; uncovered = queries of the third.
- SciFact: 1,000 abstracts holding the judged abstracts of half of the claims; covered = those
  claims, uncovered = claims none of whose judged abstracts is in the library.
- The demo corpus with tests/data/demo_questions.jsonl, and with questions of the sets above.
- All of demo, SciFact and QMSum (Academic + Product) together, with XQuAD questions.

    nice -n 10 .venv/bin/python benchmarks/abstention.py

The first run embeds the sentences of the passages nearest to each question and probe (filling
that cache took 21 minutes on 2 busy cores, mostly SciFact's); they stay in
`benchmarks/.cache/`, and a run with the cache took 1–3 minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import (
    CACHE_DIR,
    CORPUS,
    DEMO_QUESTIONS,
    DOCS_FILE,
    EVAL_DIR,
    MAX_FILE_BYTES,
    RESULTS_DIR,
    SEED,
    CachedEmbedder,
    LanguageMemo,
    VectorCache,
    demo_documents,
    embedders,
    machine,
    replace_section,
)

from qa_assistant.abstention import (
    ALL_PROBES,
    COVERAGE_MODELS,
    FEATURES,
    Calibration,
    CoverageModel,
    cutoff_declining,
    fit_logistic,
    language_reference,
)
from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.eval_data import load_beir, load_questions, load_spans, read_qrels
from qa_assistant.eval_runner import beir_document
from qa_assistant.ingest import read_document
from qa_assistant.types import Document, DocumentMeta

logger = logging.getLogger("benchmarks")

PER_GROUP = 150  # questions asked per group (covered, uncovered) and row, seeded sample
XQUAD_ARTICLES = 48
# Question languages per corpus language: the corpus's own, and across languages both ways.
XQUAD_ASKED = {"en": ("en", "es", "ar"), "es": ("es", "en"), "ar": ("ar", "en"), "de": ("de", "en")}
QMSUM_DOMAINS = ("Academic", "Committee", "Product")
QMSUM_LEFT_OUT = ("Committee", "Product")  # one library per domain left out
SCIFACT_LIBRARY = 1000
OLD_THRESHOLD = 0.82  # the fixed rule (multilingual-e5-small)
LANGUAGE_MARGIN, LIBRARY_MARGIN = 0.01625, 0.0389  # the probe-margin rule the model replaces

COVERED, UNCOVERED, NEAR = "covered", "uncovered", "near"  # NEAR: reported apart


@dataclass(frozen=True)
class Question:
    """A question asked of a library, with what the library holds about it."""

    text: str
    language: str
    group: str  # COVERED, UNCOVERED or NEAR


@dataclass
class Library:
    """Documents indexed together, and the question sets asked of them (one row each)."""

    name: str
    documents: list[Document]
    asked: dict[str, list[Question]] = field(default_factory=dict)
    note: str = ""


def _rows(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _sample(items: Sequence[Question], count: int, seed: int) -> list[Question]:
    if len(items) <= count:
        return list(items)
    return random.Random(seed).sample(list(items), count)


def _groups(questions: list[Question], seed: int) -> list[Question]:
    """At most PER_GROUP covered and PER_GROUP uncovered questions; every NEAR one."""
    chosen: list[Question] = []
    for number, group in enumerate((COVERED, UNCOVERED, NEAR)):
        members = [q for q in questions if q.group == group]
        chosen += members if group == NEAR else _sample(members, PER_GROUP, seed + number)
    return chosen


# ----- XQuAD ------------------------------------------------------------------------------------
def xquad_library(language: str, number: int) -> Library:
    """Half of the articles in `language`, minus one paragraph of each kept article."""
    folder = EVAL_DIR / "xquad"
    rng = random.Random(SEED + number)
    kept_articles = set(rng.sample(range(XQUAD_ARTICLES), XQUAD_ARTICLES // 2))
    data = load_beir(
        folder / language / "corpus.jsonl", folder / "en" / "queries.jsonl", folder / "qrels.tsv"
    )
    paragraphs: dict[int, list[str]] = {}
    for doc in data.documents:
        paragraphs.setdefault(int(doc.doc_id[2:4]), []).append(doc.doc_id)
    removed = {rng.choice(sorted(paragraphs[a])) for a in sorted(kept_articles)}
    library = [
        d for d in data.documents if int(d.doc_id[2:4]) in kept_articles and d.doc_id not in removed
    ]

    def group(paragraph: str) -> str:
        if int(paragraph[2:4]) not in kept_articles:
            return UNCOVERED
        return NEAR if paragraph in removed else COVERED

    qrels = read_qrels(folder / "qrels.tsv")
    result = Library(
        f"XQuAD {language}",
        [beir_document(d, language) for d in library],
        note=f"{len(library)} paragraphs of {len(kept_articles)} of {XQUAD_ARTICLES} articles",
    )
    for asked in XQUAD_ASKED[language]:
        texts = {r["id"]: r["text"] for r in _rows(folder / asked / "queries.jsonl")}
        questions = [
            Question(texts[qid], asked, group(next(iter(grades))))
            for qid, grades in sorted(qrels.items())
            if qid in texts
        ]
        label = asked if asked == language else f"{asked}→{language}"
        result.asked[label] = _groups(questions, SEED + number)
    return result


# ----- QMSum ------------------------------------------------------------------------------------
def qmsum_libraries() -> list[Library]:
    """The val meetings of two domains per library; the third domain's queries are uncovered."""
    folder = EVAL_DIR / "qmsum"
    data = load_spans(folder / "span_targets.jsonl", folder / "transcripts", "val")
    domain_of = {
        r["meeting_id"]: r["domain"]
        for r in _rows(folder / "span_targets.jsonl")
        if r["split"] == "val"
    }
    documents = {
        path.stem: read_document(path, DocumentMeta(language="en"), path.name, MAX_FILE_BYTES)
        for path in sorted(data.docs_dir.glob("*.txt"))
    }
    libraries = []
    for number, left_out in enumerate(QMSUM_LEFT_OUT):
        kept = [m for m in sorted(documents) if domain_of.get(m) not in (left_out, None)]
        questions = [
            Question(q.text, "en", UNCOVERED if domain_of[q.meeting_id] == left_out else COVERED)
            for q in data.queries
        ]
        domains = [d for d in QMSUM_DOMAINS if d != left_out]
        library = Library(
            f"QMSum {' + '.join(domains)}",
            [documents[m] for m in kept],
            note=f"{len(kept)} val meetings; {left_out} meetings' queries uncovered",
        )
        library.asked["en"] = _groups(questions, SEED + 10 + number)
        libraries.append(library)
    return libraries


# ----- SciFact ----------------------------------------------------------------------------------
def scifact_library() -> Library:
    """1,000 abstracts with the judged abstracts of half of the claims."""
    folder = EVAL_DIR / "scifact"
    data = load_beir(folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv", "en")
    rng = random.Random(SEED + 20)
    claims = sorted(data.queries, key=lambda q: q.query_id)
    covered = set(rng.sample([q.query_id for q in claims], len(claims) // 2))
    wanted = {d for q in claims if q.query_id in covered for d in q.grades}
    avoided = {d for q in claims if q.query_id not in covered for d in q.grades} - wanted
    others = sorted(d.doc_id for d in data.documents if d.doc_id not in wanted | avoided)
    chosen = wanted | set(rng.sample(others, SCIFACT_LIBRARY - len(wanted)))
    questions = []
    for q in claims:
        if q.query_id in covered:
            questions.append(Question(q.text, "en", COVERED))
        elif not set(q.grades) & chosen:
            questions.append(Question(q.text, "en", UNCOVERED))
    library = Library(
        "SciFact",
        [beir_document(d, "en") for d in data.documents if d.doc_id in chosen],
        note=f"{len(chosen)} abstracts, judged abstracts of {len(covered)} of {len(claims)} claims",
    )
    library.asked["en"] = _groups(questions, SEED + 21)
    return library


# ----- demo -------------------------------------------------------------------------------------
def demo_library(others: Sequence[Library]) -> Library:
    """The demo corpus: its judged questions, and covered questions of other libraries."""
    judged = load_questions(DEMO_QUESTIONS, CORPUS).questions
    library = Library("demo", demo_documents(), note="corpus/")
    library.asked["demo questions"] = [
        Question(q.question, q.language or "und", COVERED if q.answerable else UNCOVERED)
        for q in judged
    ]
    foreign = [
        Question(q.text, q.language, UNCOVERED)
        for other in others
        for q in next(iter(other.asked.values()))
        if q.group == COVERED
    ]
    library.asked["other sets' questions"] = _sample(foreign, PER_GROUP, SEED + 30)
    return library


def combined_library(parts: Sequence[Library], xquad: Sequence[Library]) -> Library:
    """One larger library of several others (off-topic questions score higher in it): their
    documents together; their questions keep their groups; XQuAD questions are uncovered."""
    library = Library(
        "combined",
        [doc for part in parts for doc in part.documents],
        note=" + ".join(part.name for part in parts),
    )
    for part in parts:
        library.asked[part.name] = next(iter(part.asked.values()))
    foreign = [
        Question(q.text, q.language, UNCOVERED)
        for other in xquad
        for questions in other.asked.values()
        for q in questions
        if q.group == COVERED
    ]
    library.asked["XQuAD questions"] = _sample(foreign, PER_GROUP, SEED + 40)
    return library


# ----- measuring --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Asked:
    """What the product measured and decided about one question."""

    group: str
    language: str | None  # as the product detected it
    best_score: float
    features: tuple[float, ...]  # the coverage model's inputs (abstention.FEATURES)
    answered: bool  # the product's decision (the shipped model)


@dataclass
class Measured:
    """One library's calibration and the product's answers to its question sets."""

    library: Library
    calibration: Calibration
    answers: dict[str, list[Asked]]
    seconds: float


def measure(models: dict[str, CachedEmbedder], library: Library) -> Measured:
    """Index the library in a fresh product index, then ask every question with `ask`."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-bench-abstention-") as folder:
        settings = Settings(
            index_dir=Path(folder) / "index",
            corpus_dir=CORPUS,
            top_k=1,
            # The decision reads the nearest passages of dense search and their sentences,
            # which neither the second stage nor highlighting changes: both are off to keep the
            # run short (sentence vectors then come from the benchmark's embedding cache).
            rerank=False,
            highlight_sentences=0,
            log_questions=False,
        )
        assistant = Assistant(settings, embedder=models["e5"])
        assistant.add_documents(library.documents)
        calibration = assistant.calibration()
        assert calibration is not None
        answers: dict[str, list[Asked]] = {}
        for label, questions in library.asked.items():
            rows = []
            for question in questions:
                answer = assistant.ask(question.text)
                coverage = answer.coverage
                assert coverage is not None and coverage.rule == "model"
                rows.append(
                    Asked(
                        question.group,
                        answer.query_language,
                        coverage.best_score,
                        coverage.features,
                        coverage.covered,
                    )
                )
            answers[label] = rows
    seconds = time.perf_counter() - started
    logger.info("%s: %d documents, %.0f s", library.name, len(library.documents), seconds)
    return Measured(library, calibration, answers, seconds)


# ----- rules ------------------------------------------------------------------------------------
Rule = Callable[[Asked, Calibration], bool]  # True: declined


def old_rule(asked: Asked, calibration: Calibration) -> bool:
    return asked.best_score < OLD_THRESHOLD


def margins_rule(asked: Asked, calibration: Calibration) -> bool:
    reference = language_reference(calibration, asked.language)
    bar = max(
        calibration.mean(reference, "best") + LANGUAGE_MARGIN,
        calibration.mean(ALL_PROBES, "best") + LIBRARY_MARGIN,
    )
    return asked.best_score < bar


def model_rule(model: CoverageModel) -> Rule:
    def declined(asked: Asked, calibration: Calibration) -> bool:
        return model.probability(asked.features) < model.cutoff

    return declined


def declined_share(
    rows: Sequence[Asked], group: str, rule: Rule, calibration: Calibration
) -> float | None:
    members = [a for a in rows if a.group == group]
    if not members:
        return None
    return sum(rule(a, calibration) for a in members) / len(members)


# ----- the model: fit, cut-off, leave one library out ---------------------------------------------
TARGET_UNCOVERED = 0.75  # share of uncovered questions declined, at least
TARGET_COVERED = 0.05  # share of covered questions declined, at most
L2 = 1.0  # ridge penalty on standardised features (each question set weighs 1 per group)


def training_rows(measured: Sequence[Measured]) -> tuple[list[Asked], list[float]]:
    """Covered and uncovered questions of these libraries, each weighted 1 / the size of its
    group in its question set, so that every set counts alike, large or small."""
    rows: list[Asked] = []
    weights: list[float] = []
    for item in measured:
        for answers in item.answers.values():
            for group in (COVERED, UNCOVERED):
                members = [a for a in answers if a.group == group]
                rows += members
                weights += [1.0 / len(members)] * len(members) if members else []
    return rows, weights


def fit_model(measured: Sequence[Measured], cutoff: str = "covered") -> CoverageModel:
    """The logistic model fitted on these libraries, with its cut-off chosen on them.

    Args:
        cutoff: "covered", the highest cut-off that declines at most TARGET_COVERED of their
            covered questions (the product's choice); "sets", the cut-off with which most of
            their question sets meet both targets (the middle of the best range).
    """
    rows, weights = training_rows(measured)
    intercept, coefficients = fit_logistic(
        [a.features for a in rows], [a.group == COVERED for a in rows], weights, L2
    )
    model = CoverageModel(intercept, dict(zip(FEATURES, coefficients, strict=True)), 0.5)
    if cutoff == "sets":
        return CoverageModel(intercept, model.weights, _cutoff_for_most_sets(model, measured))
    covered = [model.probability(a.features) for a in rows if a.group == COVERED]
    return CoverageModel(intercept, model.weights, cutoff_declining(covered, TARGET_COVERED))


def _cutoff_for_most_sets(model: CoverageModel, measured: Sequence[Measured]) -> float:
    grid = [i / 200 for i in range(1, 200)]
    sets = [
        [(a.group, model.probability(a.features)) for a in answers]
        for item in measured
        for answers in item.answers.values()
    ]
    scores = []
    for cut in grid:
        met = 0
        for answers in sets:
            shares = {
                g: (sum(p < cut for group, p in answers if group == g) / n if n else None)
                for g in (COVERED, UNCOVERED)
                for n in [sum(group == g for group, _ in answers)]
            }
            met += _met({**shares, NEAR: None})
        scores.append(met)
    best = [cut for cut, met in zip(grid, scores, strict=True) if met == max(scores)]
    return best[len(best) // 2]


def leave_one_out(measured: Sequence[Measured], cutoff: str) -> dict[str, CoverageModel]:
    """For each library, the model fitted on all the others."""
    return {
        item.library.name: fit_model([m for m in measured if m is not item], cutoff)
        for item in measured
    }


# ----- report -----------------------------------------------------------------------------------
RULES = ("old", "margins", "model")
ALTERNATIVE = "model, cut-off for most sets"  # reported beside, not shipped


def library_rows(measured: Measured, rules: dict[str, Rule]) -> list[dict[str, Any]]:
    rows = []
    for label, answers in measured.answers.items():
        calibration = measured.calibration
        row: dict[str, Any] = {
            "library": measured.library.name,
            "asked": label,
            "n": {g: sum(a.group == g for a in answers) for g in (COVERED, UNCOVERED, NEAR)},
        }
        row["median_best_score"] = {
            g: round(statistics.median(a.best_score for a in answers if a.group == g), 4)
            for g in (COVERED, UNCOVERED, NEAR)
            if any(a.group == g for a in answers)
        }
        for name, rule in rules.items():
            row[name] = {
                g: declined_share(answers, g, rule, calibration) for g in (COVERED, UNCOVERED, NEAR)
            }
            row[name]["met"] = _met(row[name])
        rows.append(row)
    return rows


def _met(shares: dict[str, float | None]) -> bool:
    uncovered, covered = shares[UNCOVERED], shares[COVERED]
    return (uncovered is None or uncovered >= TARGET_UNCOVERED) and (
        covered is None or covered <= TARGET_COVERED
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _cells(row: dict[str, Any], group: str) -> str:
    if not row["n"][group]:
        return "–"
    old, margins, model = (_pct(row[r][group]) for r in RULES)
    return f"{old} / {margins} / **{model}**"


def _met_cell(row: dict[str, Any]) -> str:
    return " / ".join("yes" if row[r]["met"] else "no" for r in RULES)


def _median(row: dict[str, Any], group: str) -> str:
    value = row["median_best_score"].get(group)
    return "–" if value is None else f"{value:.3f}"


def _model_text(model: dict[str, Any]) -> str:
    weights = ", ".join(f"{name} {model['weights'][name]:+.3f}" for name in FEATURES)
    return f"intercept {model['intercept']:+.3f}; {weights}; cut-off {model['cutoff']:.3f}"


def markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    rows = results["rows"]
    met = {r: sum(row[r]["met"] for row in rows) for r in RULES}
    lines = [
        "## Abstention (`benchmarks/abstention.py`)",
        "",
        f"Run {info['date']} on {info['cores']} cores ({info['cpu']}), Python {info['python']};"
        f" {results['total_seconds'] / 60:.1f} min. Each library is a fresh product index"
        " (`Assistant.add_documents`) and every question goes through `Assistant.ask`. Shares of"
        f" questions declined by three rules: old (best cosine < {OLD_THRESHOLD}) / probe margins"
        f" (best cosine below the mean of the probes in the question's language + {LANGUAGE_MARGIN}"
        f" or of all probes + {LIBRARY_MARGIN}) / **model** (`qa_assistant.abstention`, leave one"
        " library out: each library is scored by a model fitted on the other libraries, its"
        f" cut-off declining ≤ {TARGET_COVERED:.0%} of their covered questions). Targets: ≥"
        f" {TARGET_UNCOVERED:.0%} of uncovered declined, ≤ {TARGET_COVERED:.0%} of covered"
        ' (`benchmarks/results/abstention.json`). "Near" questions (XQuAD: their paragraph was'
        " removed, the rest of its article kept) are information, not a target.",
        "",
        f"Question sets meeting both targets: old {met['old']}, probe margins {met['margins']},"
        f" model {met['model']}, of {len(rows)}.",
        "",
        "| library | asked | covered / uncovered / near | median best cosine, covered /"
        " uncovered | uncovered declined | covered declined | near declined | targets met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        n = row["n"]
        lines.append(
            f"| {row['library']} | {row['asked']} | {n[COVERED]} / {n[UNCOVERED]} / {n[NEAR]}"
            f" | {_median(row, COVERED)} / {_median(row, UNCOVERED)}"
            f" | {_cells(row, UNCOVERED)} | {_cells(row, COVERED)} | {_cells(row, NEAR)}"
            f" | {_met_cell(row)} |"
        )
    shipped = results["fitted"]
    alternative = results["alternative_cutoff"]
    met_alternative = sum(row[ALTERNATIVE]["met"] for row in rows)
    lines += [
        "",
        f"The model fitted on all libraries (what the product ships): {_model_text(shipped)}."
        " Beside it, on the same libraries: the shipped model (fitted on them, so not a test),"
        " and the other way to choose the cut-off, the one with which most training question"
        f" sets meet both targets (cut-off {alternative['fitted']:.3f} fitted on all; left one"
        f" library out it meets both targets on {met_alternative} of {len(rows)} sets).",
        "",
        "| library | asked | shipped model: uncovered / covered declined | cut-off for most"
        " sets, left out: uncovered / covered declined | targets met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['library']} | {row['asked']} | {_pct(row['shipped'][UNCOVERED])} /"
            f" {_pct(row['shipped'][COVERED])} | {_pct(row[ALTERNATIVE][UNCOVERED])} /"
            f" {_pct(row[ALTERNATIVE][COVERED])} | {'yes' if row['shipped']['met'] else 'no'} /"
            f" {'yes' if row[ALTERNATIVE]['met'] else 'no'} |"
        )
    lines += [
        "",
        "Models fitted without each library (leave one out):",
        "",
        "| library left out | " + " | ".join(FEATURES) + " | intercept | cut-off |",
        "|---|" + "---|" * (len(FEATURES) + 2),
    ]
    for name, model in results["left_out"].items():
        lines.append(
            f"| {name} | "
            + " | ".join(f"{model['weights'][f]:+.2f}" for f in FEATURES)
            + f" | {model['intercept']:+.2f} | {model['cutoff']:.3f} |"
        )
    lines += ["", "Libraries and calibrations (mean best cosine of the probe questions):", ""]
    lines.append("| library | documents | passages | en | fr | es | ar | all | seconds |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for item in results["libraries"]:
        m = item["probe_means"]
        lines.append(
            f"| {item['name']} ({item['note']}) | {item['documents']} | {item['passages']} | "
            + " | ".join(f"{m[k]['best']:.3f}" for k in ("en", "fr", "es", "ar", ALL_PROBES))
            + f" | {item['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _model_record(model: CoverageModel) -> dict[str, Any]:
    return {
        "intercept": round(model.intercept, 4),
        "weights": {k: round(v, 4) for k, v in model.weights.items()},
        "cutoff": round(model.cutoff, 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="Do not write results/docs.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("sentence_transformers", "transformers", "httpx", "qa_assistant", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    started = time.perf_counter()
    models = embedders(VectorCache(CACHE_DIR / "embeddings.sqlite"))
    languages = LanguageMemo(CACHE_DIR / "languages.json")
    languages.install()
    xquad = [xquad_library(language, n) for n, language in enumerate(XQUAD_ASKED)]
    qmsum = qmsum_libraries()
    scifact = scifact_library()
    demo = demo_library([*xquad, *qmsum, scifact])
    combined = combined_library([demo, scifact, qmsum[0]], xquad)
    measured = []
    for library in [demo, *xquad, *qmsum, scifact, combined]:
        logger.info("library %s", library.name)
        measured.append(measure(models, library))
        languages.save()
    left_out = leave_one_out(measured, "covered")
    left_out_sets = leave_one_out(measured, "sets")
    fitted = fit_model(measured)
    fitted_sets = fit_model(measured, "sets")
    product = COVERAGE_MODELS[models["e5"].name]
    if _model_record(fitted) != _model_record(product):
        logger.warning(
            "the model fitted on all libraries differs from the product's: paste into"
            " qa_assistant/abstention.py COVERAGE_MODELS:\n%s",
            json.dumps(_model_record(fitted), indent=1),
        )
    rows = []
    for item in measured:
        rules: dict[str, Rule] = {
            "old": old_rule,
            "margins": margins_rule,
            "model": model_rule(left_out[item.library.name]),
            "shipped": model_rule(product),
            ALTERNATIVE: model_rule(left_out_sets[item.library.name]),
            "alternative fitted on all": model_rule(fitted_sets),
        }
        rows += library_rows(item, rules)
    results: dict[str, Any] = {
        "machine": machine(),
        "old_threshold": OLD_THRESHOLD,
        "margins": {"language": LANGUAGE_MARGIN, "library": LIBRARY_MARGIN},
        "features": list(FEATURES),
        "l2": L2,
        "fitted": _model_record(fitted),
        "shipped": _model_record(product),
        "left_out": {name: _model_record(model) for name, model in left_out.items()},
        "alternative_cutoff": {
            "fitted": round(fitted_sets.cutoff, 4),
            "left_out": {name: round(model.cutoff, 4) for name, model in left_out_sets.items()},
        },
        "rows": rows,
        "libraries": [
            {
                "name": m.library.name,
                "note": m.library.note,
                "documents": len(m.library.documents),
                "passages": m.calibration.passages,
                "probe_means": {
                    k: {s: round(v, 4) for s, v in values.items()}
                    for k, values in m.calibration.means.items()
                },
                "seconds": round(m.seconds, 1),
            }
            for m in measured
        ],
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    for row in rows:
        logger.info(
            "%-26s %-24s uncovered %s  covered %s  met %s",
            row["library"],
            row["asked"],
            " / ".join(_pct(row[r][UNCOVERED]) for r in RULES),
            " / ".join(_pct(row[r][COVERED]) for r in RULES),
            _met_cell(row),
        )
    logger.info(
        "sets meeting both targets: %s of %d",
        ", ".join(f"{r} {sum(row[r]['met'] for row in rows)}" for r in (*RULES, ALTERNATIVE)),
        len(rows),
    )
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / "abstention.json"
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
        replace_section(DOCS_FILE, "abstention", markdown(results))
        logger.info("wrote %s and %s", out, DOCS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
