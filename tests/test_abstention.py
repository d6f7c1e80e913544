"""Abstention: the model's features and decision (pure), its fit, the word evidence of the
search, the calibration stored with the index, and the real model declining an off-topic
question while answering covered ones."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qa_assistant import abstention
from qa_assistant.abstention import (
    ALL_PROBES,
    FEATURES,
    PROBE_LANGUAGES,
    Calibration,
    CoverageModel,
    Probe,
    calibrate,
    cutoff_declining,
    features,
    fit_logistic,
    judge,
    judge_fixed,
    language_reference,
    load_probes,
    model_for,
    probes_digest,
    word_share,
)
from qa_assistant.assistant import Assistant
from qa_assistant.calibration import Calibrator
from qa_assistant.config import Settings
from qa_assistant.index_store import CALIBRATION_KEY, STORE_FILE, IndexStore, read_current
from qa_assistant.keyword_index import question_names
from qa_assistant.types import Document, Evidence, Segment

from .conftest import FakeEmbedder, fake_settings

COOKING = "How long should I cook spaghetti so that it stays al dente?"
COVERED = "What did ANSES agree to share with the Tunisian team after the first session?"
COVERED_ES = "¿Qué es el Plan 1000 Días y hasta qué edad del niño se paga?"
# One unit per feature: a question one cosine point closer than the probes gains 1 (pure tests).
UNIT = CoverageModel(0.0, dict.fromkeys(FEATURES, 1.0), 0.5)


def _calibration(means: dict[str, dict[str, float]], generation: int = 3) -> Calibration:
    return Calibration(generation, "model", "probes", 10, means)


def _means(best: float, sentence: float | None = None) -> dict[str, float]:
    return {"best": best, "sentence": best if sentence is None else sentence}


# ----- the probe questions ----------------------------------------------------------------------
def test_probes_are_about_200_everyday_questions_in_four_languages() -> None:
    probes = load_probes()
    assert 180 <= len(probes) <= 240
    counts = {language: sum(p.language == language for p in probes) for language in PROBE_LANGUAGES}
    assert min(counts.values()) >= 40, counts
    assert len({p.text for p in probes}) == len(probes)  # no duplicates
    topical = ("pension", "social", "protection", "allowance", "webinar", "anses", "sintys")
    assert not [p.text for p in probes if any(word in p.text.lower() for word in topical)]


def test_the_probe_digest_changes_with_the_probes() -> None:
    probes = [Probe("en", "Why is the sky blue?"), Probe("fr", "Pourquoi la mer est-elle salée ?")]
    assert probes_digest(probes) == probes_digest(list(probes))
    assert probes_digest(probes) != probes_digest(probes[:1])


# ----- calibration and features -----------------------------------------------------------------
def test_calibrate_averages_each_signal_per_language_and_overall() -> None:
    probes = [Probe("en", "a"), Probe("en", "b"), Probe("ar", "c"), Probe("fr", "d")]
    measured = [
        Evidence(0.80, 0.82),
        Evidence(0.70, 0.74),
        Evidence(0.60, 0.66),
        Evidence(0.90, 0.9),
    ]
    calibration = calibrate(probes, measured, 7, "model", 42)
    assert calibration.mean("en", "best") == pytest.approx(0.75)
    assert calibration.mean("en", "sentence") == pytest.approx(0.78)
    assert calibration.mean("ar", "best") == pytest.approx(0.60)
    assert calibration.mean(ALL_PROBES, "best") == pytest.approx(0.75)
    assert calibration.mean("de", "best") == 0.0  # unknown: no probes
    assert (calibration.generation, calibration.passages) == (7, 42)
    with pytest.raises(ValueError, match="2 probes but 1 measurements"):
        calibrate(probes[:2], measured[:1], 7, "model", 42)


def test_a_question_in_a_language_without_probes_meets_the_strictest_language() -> None:
    calibration = _calibration({"en": _means(0.80), "fr": _means(0.78), ALL_PROBES: _means(0.75)})
    assert language_reference(calibration, "fr") == "fr"
    assert language_reference(calibration, "de") == "en"
    assert language_reference(calibration, None) == "en"
    assert language_reference(calibration, ALL_PROBES) == "en"
    assert language_reference(_calibration({ALL_PROBES: _means(0.7)}), "en") == ALL_PROBES


def test_features_measure_the_question_from_the_probes_of_its_language_and_of_all() -> None:
    calibration = _calibration(
        {"en": _means(0.80, 0.82), "ar": _means(0.70, 0.71), ALL_PROBES: _means(0.76, 0.78)}
    )
    evidence = Evidence(0.85, 0.88, word_share=0.6, unknown_name=True)
    values = dict(zip(FEATURES, features(evidence, calibration, "en"), strict=True))
    assert values["best_vs_language"] == pytest.approx(0.05)
    assert values["best_vs_all"] == pytest.approx(0.09)
    assert values["sentence_vs_language"] == pytest.approx(0.06)
    assert (values["word_share"], values["unknown_name"], values["across_languages"]) == (
        0.6,
        1.0,
        0.0,
    )
    arabic = dict(zip(FEATURES, features(Evidence(0.78, 0.79), calibration, "ar"), strict=True))
    assert arabic["best_vs_language"] == pytest.approx(0.08)
    # Across languages there are no words to compare: an indicator says so.
    assert (arabic["word_share"], arabic["unknown_name"], arabic["across_languages"]) == (
        0.0,
        0.0,
        1.0,
    )


def test_the_probability_is_a_logistic_of_the_weighted_features() -> None:
    model = CoverageModel(-1.0, {**dict.fromkeys(FEATURES, 0.0), "best_vs_language": 20.0}, 0.5)
    assert model.probability([0.05, 0, 0, 0, 0, 0]) == pytest.approx(1 / (1 + math.exp(0.0)))
    assert model.probability([0.10, 0, 0, 0, 0, 0]) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert model.probability([10.0, 0, 0, 0, 0, 0]) == pytest.approx(1.0)  # no overflow
    assert model.probability([-10.0, 0, 0, 0, 0, 0]) == pytest.approx(0.0)


def test_judge_answers_at_the_cutoff_and_declines_below_it_or_without_hits() -> None:
    # Values exact in binary: 0.875 - 0.75 = 0.125, and -2.5 + 20 * 0.125 = 0.
    calibration = _calibration({"en": _means(0.75), ALL_PROBES: _means(0.75)})
    model = CoverageModel(-2.5, {**dict.fromkeys(FEATURES, 0.0), "best_vs_language": 20.0}, 0.5)
    at = judge(Evidence(0.875, 0.875), True, "en", calibration, model)
    assert at.covered and at.rule == "model" and at.reference == "en"
    assert at.probability == 0.5 and at.bar == 0.5
    assert at.floor == 0.75  # the relevance scale starts at the probes' mean
    assert len(at.features) == len(FEATURES)
    assert not judge(Evidence(0.874, 0.875), True, "en", calibration, model).covered
    assert not judge(Evidence(0.95, 0.95), False, "en", calibration, model).covered


def test_a_question_is_declined_where_off_topic_questions_score_higher() -> None:
    small = _calibration({"en": _means(0.77), ALL_PROBES: _means(0.76)})
    large = _calibration({"en": _means(0.81), ALL_PROBES: _means(0.80)})
    model = CoverageModel(-1.0, {**dict.fromkeys(FEATURES, 0.0), "best_vs_language": 40.0}, 0.5)
    evidence = Evidence(0.815, 0.815, word_share=0.5, unknown_name=False)
    assert judge(evidence, True, "en", small, model).covered
    assert not judge(evidence, True, "en", large, model).covered


def test_a_missing_name_or_missing_words_lower_the_probability() -> None:
    calibration = _calibration({"en": _means(0.80), ALL_PROBES: _means(0.80)})
    model = model_for("multilingual-e5-small")
    assert model is not None
    found = Evidence(0.86, 0.87, word_share=0.9, unknown_name=False)
    unknown = Evidence(0.86, 0.87, word_share=0.9, unknown_name=True)
    fewer = Evidence(0.86, 0.87, word_share=0.3, unknown_name=False)
    p = [judge(e, True, "en", calibration, model).probability for e in (found, unknown, fewer)]
    assert p[0] is not None and p[1] is not None and p[2] is not None
    assert p[1] < p[0] and p[2] < p[0]


def test_a_fixed_threshold_ignores_the_calibration() -> None:
    coverage = judge_fixed(0.6, True, 0.5)
    assert coverage.covered and coverage.rule == "fixed" and coverage.bar == 0.5
    assert coverage.probability is None and coverage.floor == 0.5
    assert not judge_fixed(0.4, True, 0.5).covered
    assert not judge_fixed(0.9, False, 0.5).covered


def test_only_models_with_a_fitted_coverage_model_are_calibrated() -> None:
    model = model_for("multilingual-e5-small")
    assert model is not None and set(model.weights) == set(FEATURES)
    assert 0.0 < model.cutoff < 1.0
    assert model_for("multilingual-e5-small@int8") == model
    assert model_for("all-MiniLM-L6-v2") is None


def test_a_calibration_survives_json_and_refuses_what_it_cannot_read() -> None:
    calibration = _calibration({"en": _means(0.8, 0.81), ALL_PROBES: _means(0.75)})
    again = Calibration.from_json(calibration.to_json())
    assert again == calibration
    assert again is not None and again.describes(3, "model", "probes")
    assert not again.describes(4, "model", "probes")
    assert not again.describes(3, "other-model", "probes")
    assert Calibration.from_json("not json") is None
    assert Calibration.from_json('{"format": 99}') is None
    assert Calibration.from_json('{"format": 2, "generation": 1}') is None
    old = '{"format": 1, "generation": 1, "model": "m", "probes": "p", "passages": 1, "means": {}}'
    assert Calibration.from_json(old) is None  # the first format held best cosines only


def test_the_relevance_scale_starts_where_off_topic_questions_reach_in_this_library() -> None:
    from qa_assistant.types import Answer, Coverage
    from qa_assistant.ui.render import render_answer

    from .test_ui_render import make_hit

    hit = make_hit("Text.", score=0.84)
    model = Coverage(True, "model", 0.84, 0.24, probability=0.9, reference="en", floor=0.75)
    fixed = Coverage(True, "fixed", 0.84, 0.82, floor=0.82)
    # (0.84 - 0.75) / (1 - 0.75) = 0.36 of the way to 1: strong; from 0.82 only 0.11: weak.
    assert "strong match" in render_answer(Answer("q", True, (hit,), coverage=model), 0.82)
    assert "weak match" in render_answer(Answer("q", True, (hit,), coverage=fixed), 0.5)
    assert "weak match" in render_answer(Answer("q", True, (hit,)), 0.82)  # no coverage


# ----- words ------------------------------------------------------------------------------------
def test_word_share_weighs_rare_words_more_than_common_ones() -> None:
    passages = 1000
    # (passages containing the word, nearest passages containing it)
    rare_missing = word_share([(900, 3), (2, 0)], passages)
    common_missing = word_share([(900, 0), (2, 1)], passages)
    assert rare_missing < 0.1 < 0.9 < common_missing
    assert word_share([(5, 1), (7, 2)], passages) == pytest.approx(1.0)
    assert word_share([(0, 0)], passages) == 0.0  # a word in no passage at all
    assert word_share([], passages) == 1.0


def test_question_names_are_words_capitalised_inside_the_question() -> None:
    assert question_names("What changes did Brazil's 1998 pension reform introduce?") == ["brazil"]
    assert question_names("Why does SINTyS report to the Presidency?") == ["sintys", "presidency"]
    assert question_names("Quel est le rôle du Réseau fédéral ?") == ["réseau"]
    assert question_names("ما هي خطة الألف يوم؟") == []


# ----- fitting ----------------------------------------------------------------------------------
def test_fit_logistic_reaches_the_penalised_optimum() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)) * [0.02, 1.0, 5.0]  # scales as unlike as the features'
    truth = np.array([100.0, -1.0, 0.0])
    y = rng.random(400) < 1 / (1 + np.exp(-(x @ truth + 0.5)))
    weights = np.where(y, 1.0, 2.0)
    intercept, coefficients = fit_logistic(x.tolist(), y.tolist(), weights.tolist(), l2=1.0)
    # The gradient of the penalised likelihood (on standardised features) is zero there.
    centre, scale = x.mean(axis=0), x.std(axis=0)
    z = (x - centre) / scale
    beta = np.array(coefficients) * scale
    b0 = intercept + float((np.array(coefficients) * centre).sum())
    p = 1 / (1 + np.exp(-(b0 + z @ beta)))
    assert abs(float((weights * (p - y)).sum())) < 1e-6
    assert np.allclose(z.T @ (weights * (p - y)) + 1.0 * beta, 0.0, atol=1e-6)
    assert coefficients[0] > 0 > coefficients[1]


def test_the_cutoff_declines_at_most_the_share_asked() -> None:
    probabilities = [0.05 * i for i in range(1, 21)]  # 20 covered questions
    cutoff = cutoff_declining(probabilities, 0.05)
    assert sum(p < cutoff for p in probabilities) == 1
    assert sum(p < cutoff_declining(probabilities, 0.0) for p in probabilities) == 0


# ----- stored with the index (fake model) -------------------------------------------------------
def _document(name: str, text: str) -> Document:
    return Document(
        doc_id=name,
        source=f"{name}.txt",
        sha256=name,
        title=name,
        kind="report",
        doc_format="txt",
        language="en",
        text=text,
        segments=(Segment(char_start=0, char_end=len(text)),),
    )


DOCUMENTS = [
    _document("anses", "ANSES pays the Universal Child Allowance to informal workers."),
    _document("sintys", "SINTyS links the databases of the provinces without copying them."),
]


@pytest.fixture
def calibrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    """A fake-model assistant whose model counts as calibrated, with no fixed threshold."""
    monkeypatch.setitem(abstention.COVERAGE_MODELS, FakeEmbedder.name, UNIT)
    settings = fake_settings(tmp_path, min_score=None)
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assistant.add_documents(DOCUMENTS)
    return assistant


def _stored(index_dir: Path) -> Calibration | None:
    store = IndexStore.open_current(index_dir)
    try:
        text = store.calibration()
        return Calibration.from_json(text) if text else None
    finally:
        store.close()


def test_writers_store_the_calibration_of_each_generation(calibrated: Assistant) -> None:
    index_dir = calibrated.settings.index_dir
    first = _stored(index_dir)
    assert first is not None and first.passages == 2
    assert first.model == FakeEmbedder.name and first.probes == probes_digest(load_probes())
    calibrated.remove("sintys")
    second = _stored(index_dir)
    assert second is not None and second.passages == 1
    assert second.generation > first.generation
    calibrated.rebuild()
    rebuilt = _stored(index_dir)
    assert rebuilt is not None and rebuilt.passages == 1
    assert calibrated.calibration() == rebuilt


def test_a_reopened_index_reads_its_calibration_instead_of_computing_it(
    calibrated: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _stored(calibrated.settings.index_dir)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the stored calibration should have been read")

    monkeypatch.setattr(Calibrator, "_compute", refuse)
    reopened = Assistant(calibrated.settings, embedder=FakeEmbedder())
    assert reopened.calibration() == stored
    answer = reopened.ask("Which allowance does ANSES pay?")
    assert answer.coverage is not None and answer.coverage.rule == "model"


def test_an_index_without_a_calibration_gets_one_computed_on_the_first_question(
    calibrated: Assistant,
) -> None:
    index_dir = calibrated.settings.index_dir
    folder = read_current(index_dir)
    assert folder is not None
    with sqlite3.connect(folder / STORE_FILE) as db:
        db.execute("DELETE FROM state WHERE key = ?", (CALIBRATION_KEY,))
    reader = Assistant(calibrated.settings, embedder=FakeEmbedder())
    answer = reader.ask("Which allowance does ANSES pay?")
    assert answer.coverage is not None and answer.coverage.rule == "model"
    assert reader.calibration() is not None  # kept in memory
    assert _stored(index_dir) is None  # readers do not write the index


def test_the_probe_vectors_are_embedded_once_then_read_from_the_cache(
    calibrated: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(texts: list[str]) -> None:
        raise AssertionError(f"embedded {len(texts)} probe questions again")

    embedder = FakeEmbedder()
    monkeypatch.setattr(embedder, "embed_queries", refuse)
    writer = Assistant(calibrated.settings, embedder=embedder)
    writer.add_documents([_document("third", "The 1,000 Days Plan supports mothers.")])
    assert writer.calibration() is not None


def test_search_reads_the_words_of_a_question_in_the_library_language(
    calibrated: Assistant,
) -> None:
    covered = calibrated.ask("Which allowance does ANSES pay to informal workers?")
    assert covered.coverage is not None
    values = dict(zip(FEATURES, covered.coverage.features, strict=True))
    assert values["word_share"] > 0.5 and values["unknown_name"] == 0.0
    assert values["across_languages"] == 0.0
    # "Brazil" is in no passage: a name the materials do not know.
    brazil = calibrated.ask("Which allowance does Brazil pay to informal workers?")
    assert brazil.coverage is not None
    values = dict(zip(FEATURES, brazil.coverage.features, strict=True))
    assert values["unknown_name"] == 1.0
    # A question in a language the library does not hold has no word evidence.
    arabic = calibrated.ask("ما هي الإعانة التي تدفعها الوكالة للعمال غير الرسميين؟")
    assert arabic.coverage is not None
    values = dict(zip(FEATURES, arabic.coverage.features, strict=True))
    assert (values["word_share"], values["across_languages"]) == (0.0, 1.0)


def test_removing_a_document_does_not_load_the_model_for_the_calibration(
    calibrated: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Assistant(calibrated.settings)  # no embedder given: it would load the real model

    def refuse(self: Assistant) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Assistant, "embedder", property(refuse))
    monkeypatch.setattr(Assistant, "model_name", property(lambda self: FakeEmbedder.name))
    writer.remove("sintys")
    stored = _stored(calibrated.settings.index_dir)
    assert stored is not None and stored.passages == 1


def test_ask_json_shows_how_coverage_was_decided(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from qa_assistant import embedding
    from qa_assistant.cli import cli

    def fake(model: str, cache_dir: Path, threads: int = 2, batch_size: int = 16) -> FakeEmbedder:
        return FakeEmbedder()

    monkeypatch.setattr(embedding, "SentenceTransformerEmbedder", fake)
    monkeypatch.setenv("QA_EMBEDDING_BACKEND", "torch")  # the class patched above
    monkeypatch.setitem(abstention.COVERAGE_MODELS, FakeEmbedder.name, UNIT)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_CORPUS_DIR", str(corpus_copy))
    monkeypatch.setenv("QA_MODEL", FakeEmbedder.name)
    monkeypatch.delenv("QA_MIN_SCORE", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["add", str(corpus_copy / "summary_en.md")]).exit_code == 0
    asked = runner.invoke(cli, ["ask", "What does SINTyS share with ANSES?", "--json"])
    coverage = json.loads(asked.stdout)["coverage"]
    assert coverage["rule"] == "model" and set(coverage["features"]) == set(FEATURES)
    assert coverage["covered"] == (coverage["probability"] >= coverage["bar"] == UNIT.cutoff)
    assert 0 < coverage["best_score"] <= 1
    monkeypatch.setenv("QA_MIN_SCORE", "0.99")
    fixed = runner.invoke(cli, ["ask", "What does SINTyS share with ANSES?", "--json"])
    coverage = json.loads(fixed.stdout)["coverage"]
    assert (coverage["rule"], coverage["bar"], coverage["covered"]) == ("fixed", 0.99, False)
    assert coverage["probability"] is None and coverage["features"] == {}
    text = runner.invoke(cli, ["ask", "What does SINTyS share with ANSES?"]).output
    assert "Not covered in the session materials." in text and "threshold 0.990" in text


# ----- the real model ---------------------------------------------------------------------------
@pytest.mark.slow
def test_real_model_declines_a_cooking_question_and_answers_covered_ones(
    real_assistant: Assistant,
) -> None:
    cooking = real_assistant.ask(COOKING)
    assert not cooking.answerable and not cooking.hits, cooking.coverage
    assert cooking.coverage is not None and cooking.coverage.rule == "model"
    assert cooking.coverage.probability is not None
    assert cooking.coverage.probability < cooking.coverage.bar
    for question in (COVERED, COVERED_ES):
        covered = real_assistant.ask(question)
        assert covered.answerable and covered.hits, covered.coverage
        assert covered.coverage is not None and covered.coverage.probability is not None
        assert covered.coverage.probability >= covered.coverage.bar == cooking.coverage.bar


@pytest.mark.slow
def test_real_calibration_is_stored_with_the_index_and_survives_reopening(
    real_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _stored(real_assistant.settings.index_dir)
    assert stored is not None and stored.model == real_assistant.model_name
    assert set(PROBE_LANGUAGES) | {ALL_PROBES} == set(stored.means)
    assert real_assistant.calibration() == stored

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the stored calibration should have been read")

    monkeypatch.setattr(Calibrator, "_compute", refuse)
    reopened = Assistant(real_assistant.settings, embedder=real_assistant.embedder)
    assert reopened.calibration() == stored
    assert not reopened.ask(COOKING).answerable


@pytest.mark.slow
def test_qa_min_score_still_forces_a_fixed_threshold(
    real_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_MIN_SCORE", "0.5")
    settings = Settings(
        index_dir=real_assistant.settings.index_dir,
        corpus_dir=real_assistant.settings.corpus_dir,
        cache_dir=real_assistant.settings.cache_dir,
    )
    assert settings.min_score == 0.5
    lenient = Assistant(settings, embedder=real_assistant.embedder)
    answer = lenient.ask(COOKING)
    assert answer.answerable and answer.coverage is not None
    assert (answer.coverage.rule, answer.coverage.bar) == ("fixed", 0.5)
    strict = Assistant(settings.model_copy(update={"min_score": 0.99}), embedder=lenient.embedder)
    assert not strict.ask(COVERED).answerable
