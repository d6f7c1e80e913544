"""The ONNX Runtime backend gives PyTorch's vectors (fp32) or nearly (int8), exported once.

Slow tests run the real packaged e5 model; its ONNX files live in the shared model cache
(`model_cache_dir`), so only the first run exports and quantises (about 30 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa_assistant import embedding, onnx_embedding, onnx_export
from qa_assistant.assistant import Assistant
from qa_assistant.config import DEFAULT_MODEL, Settings
from qa_assistant.embedding import (
    SentenceTransformerEmbedder,
    default_min_score,
    embedder_name,
    make_embedder,
)
from qa_assistant.errors import IndexMismatchError, ModelError
from qa_assistant.onnx_embedding import OnnxEmbedder, pool
from qa_assistant.onnx_export import read_layout
from tests.conftest import CORPUS, DATA, REPO, FakeEmbedder, fake_settings

FP32_MIN_COSINE = 0.9999  # measured: 1.0000 to 5 decimals on every text
INT8_MIN_COSINE = 0.99  # measured: 0.995 at worst here, 0.994 in benchmarks/embedding_speed.py
PASSAGE_CHARS = 700

ARABIC_PASSAGE = (
    "تأسست الإدارة الوطنية للضمان الاجتماعي في الأرجنتين (ANSES) في أوائل التسعينيات، وكانت"
    " مهمتها الأصلية محدودة: دفع المعاشات التقاعدية والمخصصات العائلية للعمال المسجلين في"
    " القطاع الرسمي. وكان ذلك منطقاً قائماً على الاشتراكات فقط، فمن كان لديه عمل رسمي كان"
    " مشمولاً بالحماية، ومن لم يكن كذلك بقي خارجها تقريباً. وفي بلد يعمل فيه جزء كبير من"
    " السكان في الاقتصاد غير الرسمي، مثل عاملات المنازل والعمال الزراعيين، كان هذا الوضع"
    " مشكلة كبيرة. ثم بدأت الأمور تتغير مع عدة قوانين: ففي عام 2008 عاد نظام المعاشات إلى"
    " القطاع العام وأصبحت الإدارة هي التي تديره، وفي عام 2009 أُنشئ المخصص الشامل لكل طفل"
    " ليصل إلى أسر العمال غير الرسميين والعاطلين عن العمل. واليوم تعد الإدارة أكبر مؤسسة"
    " للحماية الاجتماعية في البلاد، وتتبادل بياناتها مع مؤسسات أخرى لتعرف من يستحق الدعم."
)


def _questions() -> list[str]:
    """Two demo questions in each of en, fr, es and ar."""
    rows = [json.loads(line) for line in (DATA / "demo_questions.jsonl").open(encoding="utf-8")]
    questions: list[str] = []
    for language in ("en", "fr", "es", "ar"):
        questions += [row["question"] for row in rows if row["language"] == language][:2]
    return questions


def _passages() -> list[str]:
    """About 700 characters of the demo corpus in en, fr and es, and a written ar passage."""
    english = (CORPUS / "summary_en.md").read_text(encoding="utf-8")
    french = (CORPUS / "2022-11-23-sintys" / "resume_fr.md").read_text(encoding="utf-8")
    cues = (CORPUS / "2022-11-10-anses" / "transcripcion_es.vtt").read_text(encoding="utf-8")
    spanish = " ".join(line for line in cues.splitlines()[1:] if line.strip() and "-->" not in line)
    return [
        english[1000 : 1000 + PASSAGE_CHARS],
        french[800 : 800 + PASSAGE_CHARS],
        french[2000 : 2000 + PASSAGE_CHARS],
        spanish[:PASSAGE_CHARS],
        spanish[PASSAGE_CHARS : 2 * PASSAGE_CHARS],
        ARABIC_PASSAGE,
    ]


# ----- quick: configuration and wiring, no model -------------------------------------------
def test_layout_follows_the_sentence_transformers_folder(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    modules = [
        {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True})
    )
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}})
    )
    (folder / "config.json").write_text(json.dumps({"max_position_embeddings": 512}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    layout = read_layout(folder)
    assert (layout.pooling, layout.normalize, layout.dimension) == ("mean", True, 8)
    assert (layout.query_prompt, layout.document_prompt) == ("query: ", "passage: ")
    assert layout.max_seq_length == 256

    modules.insert(2, {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelError, match="QA_EMBEDDING_BACKEND=torch"):
        read_layout(folder)


def test_mean_pooling_ignores_padding() -> None:
    tokens = np.array([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]], dtype=np.int64)
    assert pool(tokens, mask, "mean").tolist() == [[2.0, 1.0]]
    assert pool(tokens, mask, "max").tolist() == [[3.0, 2.0]]
    assert pool(tokens, mask, "cls").tolist() == [[1.0, 0.0]]


def test_backend_setting_picks_the_embedder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: list[tuple[str, bool]] = []

    def fake_onnx(model: str, cache_dir: Path, **options: object) -> FakeEmbedder:
        made.append(("onnx", bool(options["quantized"])))
        return FakeEmbedder()

    def fake_torch(model: str, cache_dir: Path, **options: object) -> FakeEmbedder:
        made.append(("torch", False))
        return FakeEmbedder()

    monkeypatch.setattr(onnx_embedding, "OnnxEmbedder", fake_onnx)
    monkeypatch.setattr(embedding, "SentenceTransformerEmbedder", fake_torch)
    for backend in ("torch", "onnx", "onnx-int8"):
        make_embedder(Settings(cache_dir=tmp_path, embedding_backend=backend))
    assert made == [("torch", False), ("onnx", False), ("onnx", True)]
    monkeypatch.setenv("QA_EMBEDDING_BACKEND", "onnx-int8")
    settings = Settings()
    assert embedder_name(settings) == f"{DEFAULT_MODEL}@int8"
    assert default_min_score(embedder_name(settings)) == default_min_score(DEFAULT_MODEL)


def test_switching_to_int8_asks_for_a_rebuild(tmp_path: Path, corpus_copy: Path) -> None:
    Assistant(fake_settings(tmp_path, corpus_copy), embedder=FakeEmbedder()).add(
        [corpus_copy / "summary_en.md"]
    )
    int8 = Assistant(fake_settings(tmp_path, corpus_copy, embedding_backend="onnx-int8"))
    # Refused before any model loads: the index says fake-bow, the settings fake-bow@int8.
    with pytest.raises(IndexMismatchError, match=r"fake-bow@int8.*qa-assistant rebuild"):
        int8.warm_up()


# ----- slow: the real model ----------------------------------------------------------------
@pytest.fixture(scope="module")
def torch_embedder(model_cache_dir: Path) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(DEFAULT_MODEL, model_cache_dir)


@pytest.fixture(scope="module")
def fp32_embedder(model_cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(DEFAULT_MODEL, model_cache_dir)


@pytest.fixture(scope="module")
def int8_embedder(model_cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(DEFAULT_MODEL, model_cache_dir, quantized=True)


@pytest.fixture(scope="module")
def reference(torch_embedder: SentenceTransformerEmbedder) -> Iterator[dict[str, np.ndarray]]:
    yield {
        "query": torch_embedder.embed_queries(_questions()),
        "passage": torch_embedder.embed_passages(_passages()),
    }


def _cosines(embedder: OnnxEmbedder, reference: dict[str, np.ndarray]) -> np.ndarray:
    queries = embedder.embed_queries(_questions())
    passages = embedder.embed_passages(_passages())
    for vectors in (queries, passages):
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    return np.concatenate(
        [(queries * reference["query"]).sum(axis=1), (passages * reference["passage"]).sum(axis=1)]
    )


@pytest.mark.slow
def test_fp32_gives_the_pytorch_vectors(
    fp32_embedder: OnnxEmbedder, reference: dict[str, np.ndarray]
) -> None:
    cosines = _cosines(fp32_embedder, reference)
    assert cosines.min() >= FP32_MIN_COSINE, cosines
    assert fp32_embedder.name == DEFAULT_MODEL  # same vectors: same cache entries and index


@pytest.mark.slow
def test_int8_stays_close_to_the_pytorch_vectors(
    int8_embedder: OnnxEmbedder, reference: dict[str, np.ndarray]
) -> None:
    cosines = _cosines(int8_embedder, reference)
    assert cosines.min() >= INT8_MIN_COSINE, cosines
    assert int8_embedder.name == f"{DEFAULT_MODEL}@int8"


@pytest.mark.slow
def test_rows_keep_the_input_order_across_batches(fp32_embedder: OnnxEmbedder) -> None:
    passages = _passages()
    texts = [passages[0], "ANSES", passages[5], "Plan 1000 días", passages[3], "SINTyS", ""]
    together = fp32_embedder.embed_passages(texts * 3)  # batches of 16, sorted by length
    alone = np.vstack([fp32_embedder.embed_passages([text]) for text in texts])
    np.testing.assert_allclose(together, np.vstack([alone] * 3), atol=1e-5)
    assert fp32_embedder.embed_queries([]).shape == (0, fp32_embedder.dimension)


@pytest.mark.slow
def test_export_is_reused(
    model_cache_dir: Path,
    fp32_embedder: OnnxEmbedder,
    int8_embedder: OnnxEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graphs = [fp32_embedder._path, int8_embedder._path]
    files = [*graphs, *(path.with_name(path.name + ".data") for path in graphs)]
    times = [path.stat().st_mtime_ns for path in files]

    def forbidden(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "export_onnx", forbidden)
    monkeypatch.setattr(onnx_export, "quantize_onnx", forbidden)
    again = OnnxEmbedder(DEFAULT_MODEL, model_cache_dir, quantized=True)
    assert again._path == int8_embedder._path
    assert [path.stat().st_mtime_ns for path in files] == times
    assert graphs[0].parent.parent == model_cache_dir / "onnx"


@pytest.mark.slow
def test_a_warm_start_does_not_import_torch(
    model_cache_dir: Path, int8_embedder: OnnxEmbedder
) -> None:
    script = (
        "import sys; from pathlib import Path;"
        "from qa_assistant.onnx_embedding import OnnxEmbedder;"
        f"OnnxEmbedder({DEFAULT_MODEL!r}, Path({str(model_cache_dir)!r}), quantized=True)"
        ".embed_queries(['¿Qué es la ANSES?']);"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
