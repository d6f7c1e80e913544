"""Reading session materials: speech recognition, OCR and office/web readers, on real files.

Reads `../shared/samples/materials/` (its README gives sources and licences), never copies it.
In one run, for each kind of material, the product's reader and the baseline a peer would
write with the same library:

- speech (`speech/`): word and character error rates against each `.ref.txt`, real-time
  factor, detected language. Product: `transcribe_recording` (language detected among the
  library's languages, voice-activity filtering, beam 5, int8). Baseline: faster-whisper's
  plain `WhisperModel.transcribe(path)` with the same model (unrestricted detection, no VAD).
- OCR (`scanned/`): character error rate against `_reference/*.ref.txt`. Product:
  `read_image` (language packs from the file's language, grayscale, small images doubled).
  Baseline: `tesseract FILE stdout` with the English pack, as a first try would call it.
- PPTX, DOCX, HTML: pages (slides, or 3,000 characters of text) per second, and characters
  kept. Baselines: every shape's `.text` (python-pptx), every paragraph's `.text`
  (python-docx), `trafilatura.extract(html)`.

    .venv/bin/python benchmarks/materials.py

Writes benchmarks/results/materials.json and the materials section of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from support import DOCS_FILE, REPO, RESULTS_DIR, machine, replace_section

from qa_assistant.config import Settings
from qa_assistant.errors import IngestError
from qa_assistant.ingest.audio import MEDIA_SUFFIXES, decode_recording, shared_transcriber
from qa_assistant.ingest.base import ReadOptions
from qa_assistant.ingest.docx import read_docx
from qa_assistant.ingest.html import read_html
from qa_assistant.ingest.ocr import read_image
from qa_assistant.ingest.pdf import read_pdf
from qa_assistant.ingest.pptx import read_pptx
from qa_assistant.whisper_parts import ensure_whisper_model

logger = logging.getLogger("benchmarks")

MATERIALS = REPO.parent / "shared" / "samples" / "materials"
PAGE_CHARS = 3000  # a "page" of a DOCX or HTML file, which have none
LANGUAGES = {"en": "eng", "fr": "fra", "es": "spa", "ar": "ara"}
ROUNDS = 3  # reader timings are the best of this many runs
# Known text of a scan whose _reference is not usable (a German-pack reading of French).
KNOWN_TEXT = {
    "fr_pangram_francais.pdf": (
        "Portez ce vieux whisky au juge blond qui fume sur son île intérieure, à côté de "
        "l'alcôve ovoïde, où les bûches se consument dans l'âtre, ce qui lui permet de penser à "
        "la cænogénèse de l'être dont il est question dans la cause ambiguë entendue à Moÿ, "
        "dans un capharnaüm qui, pense-t-il, diminue çà et là la qualité de son œuvre."
    )
}


# ----- error rates ------------------------------------------------------------------------------
def normalise_words(text: str) -> list[str]:
    """NFC, casefold, Unicode punctuation to spaces; accents kept."""
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(" " if unicodedata.category(c).startswith("P") else c for c in text).split()


def error_rate(reference: list[str], hypothesis: list[str], truncated: bool = False) -> float:
    """Levenshtein distance over tokens / reference length.

    A reference that stops early (ends in "...") is compared with the best-matching prefix of
    the hypothesis, so words after the reference's end are not counted as insertions.
    """
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    distance = min(previous) if truncated else previous[-1]
    return distance / max(len(reference), 1)


def wer_cer(reference: str, hypothesis: str) -> tuple[float, float]:
    truncated = reference.rstrip().endswith(("...", "…"))
    ref_words, hyp_words = normalise_words(reference), normalise_words(hypothesis)
    wer = error_rate(ref_words, hyp_words, truncated)
    cer = error_rate(list(" ".join(ref_words)), list(" ".join(hyp_words)), truncated)
    return wer, cer


def ocr_cer(reference: str, hypothesis: str) -> float:
    """Character error rate with whitespace collapsed (line breaks are layout, not text)."""
    ref = " ".join(unicodedata.normalize("NFC", reference).split())
    hyp = " ".join(unicodedata.normalize("NFC", hypothesis).split())
    return error_rate(list(ref), list(hyp))


# ----- speech -----------------------------------------------------------------------------------
def speech_rows(cache_dir: Path) -> list[dict[str, Any]]:
    folder = MATERIALS / "speech"
    transcriber = shared_transcriber(cache_dir, 2)
    from faster_whisper import WhisperModel

    baseline_model = WhisperModel(
        str(ensure_whisper_model(cache_dir)), device="cpu", compute_type="int8", cpu_threads=2
    )
    rows = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in MEDIA_SUFFIXES:
            continue
        reference_file = path.with_suffix(".ref.txt")
        if not reference_file.exists():
            continue
        reference = reference_file.read_text(encoding="utf-8")
        language = path.name.split("_")[0]
        if language == "video":
            language = path.name.split("_")[1]
        duration = decode_recording(path, path.name).duration
        started = time.perf_counter()
        result = transcriber.transcribe(path, path.name, ReadOptions(cache_dir=cache_dir))
        product_seconds = time.perf_counter() - started
        wer, cer = wer_cer(reference, result.text)

        started = time.perf_counter()
        segments, info = baseline_model.transcribe(str(path))
        baseline_text = " ".join(segment.text for segment in segments)
        baseline_seconds = time.perf_counter() - started
        baseline_wer, baseline_cer = wer_cer(reference, baseline_text)
        rows.append(
            {
                "file": path.name,
                "language": language,
                "seconds": round(duration, 1),
                "detected": result.language,
                "wer": round(wer, 3),
                "cer": round(cer, 3),
                "rtf": round(product_seconds / duration, 3),
                "baseline_detected": info.language,
                "baseline_wer": round(baseline_wer, 3),
                "baseline_cer": round(baseline_cer, 3),
                "baseline_rtf": round(baseline_seconds / duration, 3),
            }
        )
        logger.info("%s", rows[-1])
    return rows


# ----- OCR --------------------------------------------------------------------------------------
def ocr_rows() -> list[dict[str, Any]]:
    folder = MATERIALS / "scanned"
    rows = []
    for reference_file in sorted((folder / "_reference").glob("*.ref.txt")):
        stem = reference_file.name.removesuffix(".ref.txt")
        matches = [p for p in folder.iterdir() if p.is_file() and p.stem == stem]
        if not matches:
            continue
        path = matches[0]
        prefix = stem.split("_")[0]
        options = ReadOptions(language=prefix if prefix in LANGUAGES else None)
        reference = reference_file.read_text(encoding="utf-8")
        started = time.perf_counter()
        result = read_image(path, path.name, options)
        product_seconds = time.perf_counter() - started
        started = time.perf_counter()
        done = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", "eng"], capture_output=True, check=False
        )
        baseline_seconds = time.perf_counter() - started
        baseline_text = done.stdout.decode("utf-8", "replace")
        rows.append(
            {
                "file": path.name,
                "language": prefix,
                "pages": len(result.segments),
                "cer": round(ocr_cer(reference, result.text), 4),
                "seconds_per_page": round(product_seconds / max(len(result.segments), 1), 2),
                "baseline_cer": round(ocr_cer(reference, baseline_text), 4),
                "baseline_seconds": round(baseline_seconds, 2),
            }
        )
        logger.info("%s", rows[-1])
    rows.extend(known_pdf_rows(folder))
    rows.extend(silver_pdf_rows(folder))
    return rows


def pypdf_text(path: Path) -> str:
    """The baseline for scanned PDFs: the text layer pypdf finds (none on a scan)."""
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def pdf_row(path: Path, reference: str, label: str) -> dict[str, Any]:
    """OCR of a scanned PDF by the product against `reference`; pypdf's text layer as baseline."""
    prefix = path.stem.split("_")[0]
    started = time.perf_counter()
    result = read_pdf(
        path, path.name, ReadOptions(language=prefix if prefix in LANGUAGES else None)
    )
    seconds = time.perf_counter() - started
    row = {
        "file": label,
        "language": prefix,
        "pages": len(result.segments),
        "cer": round(ocr_cer(reference, result.text), 4),
        "seconds_per_page": round(seconds / max(len(result.segments), 1), 2),
        "baseline_cer": round(ocr_cer(reference, pypdf_text(path)), 4),
        "baseline_seconds": float("nan"),
    }
    logger.info("%s", row)
    return row


def known_pdf_rows(folder: Path) -> list[dict[str, Any]]:
    """Scanned PDFs whose text is known exactly (KNOWN_TEXT)."""
    return [
        pdf_row(folder / file_name, reference, file_name)
        for file_name, reference in KNOWN_TEXT.items()
        if (folder / file_name).exists()
    ]


def silver_pdf_rows(folder: Path) -> list[dict[str, Any]]:
    """Scanned PDFs against another Tesseract run's output ("silver": not checked by a person);
    the German-pack reference of the French pangram is left out (not a useful reference)."""
    rows = []
    for reference_file in sorted((folder / "_reference").glob("*.silver_tesseract.txt")):
        path = folder / (reference_file.name.removesuffix(".silver_tesseract.txt") + ".pdf")
        if path.exists():
            reference = reference_file.read_text(encoding="utf-8")
            rows.append(pdf_row(path, reference, path.name + " (silver)"))
    return rows


# ----- office and web ---------------------------------------------------------------------------
def best_of(function: Callable[[], Any]) -> tuple[Any, float]:
    best, value = float("inf"), None
    for _ in range(ROUNDS):
        started = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - started)
    return value, best


def naive_pptx(path: Path) -> str:
    from pptx import Presentation

    deck = Presentation(str(path))
    return "\n".join(
        shape.text_frame.text
        for slide in deck.slides
        for shape in slide.shapes
        if shape.has_text_frame
    )


def naive_docx(path: Path) -> str:
    import docx

    return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)


def naive_html(path: Path) -> str:
    import trafilatura

    return trafilatura.extract(path.read_text(encoding="utf-8", errors="replace")) or ""


def reader_rows() -> list[dict[str, Any]]:
    rows = []
    kinds: list[tuple[str, Callable[[Path], Any], Callable[[Path], str]]] = [
        ("pptx", lambda p: read_pptx(p, p.name), naive_pptx),
        ("docx", lambda p: read_docx(p, p.name), naive_docx),
        ("html", lambda p: read_html(p.read_bytes(), p.name), naive_html),
    ]
    for kind, product, baseline in kinds:
        for path in sorted((MATERIALS / kind).glob(f"*.{kind}")):
            try:
                result, seconds = best_of(partial(product, path))
            except IngestError as exc:  # broken samples: the reader's message is the result
                rows.append({"format": kind, "file": path.name, "error": exc.reason[:90]})
                continue
            try:
                baseline_text, baseline_seconds = best_of(partial(baseline, path))
            except Exception as exc:  # a naive reader may crash where the product does not
                baseline_text, baseline_seconds = "", float("nan")
                logger.info("baseline failed on %s: %s", path.name, exc)
            chars = len(result.text)
            pages = result.page_count if kind == "pptx" else max(chars / PAGE_CHARS, 1 / PAGE_CHARS)
            rows.append(
                {
                    "format": kind,
                    "file": path.name,
                    "pages": round(pages, 2),
                    "chars": chars,
                    "seconds": round(seconds, 4),
                    "pages_per_second": round(pages / seconds, 1),
                    "baseline_chars": len(baseline_text),
                    "baseline_seconds": round(baseline_seconds, 4),
                }
            )
            logger.info("%s", rows[-1])
    return rows


# ----- report -----------------------------------------------------------------------------------
def mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 3) if values else float("nan")


def markdown(results: dict[str, Any]) -> str:
    speech, ocr, readers = results["speech"], results["ocr"], results["readers"]
    lines = [
        "## Session materials (`benchmarks/materials.py`)",
        "",
        f"Run {results['machine']['date']} on {results['machine']['cores']} cores "
        f"({results['machine']['cpu']}); {results['seconds']:.0f} s in all. Samples: "
        '`../shared/samples/materials/` (real third-party files; "silver" references are '
        "other models' output). Baselines are measured in the same run with the same library.",
        "",
        "### Speech: Whisper base multilingual, int8, 2 threads",
        "",
        "Product: language detected among en/fr/es/ar, voice-activity filtering, beam 5. "
        "Baseline: `WhisperModel.transcribe(path)` (unrestricted detection, no VAD). WER and CER "
        "after case folding and punctuation removal; RTF = processing seconds / audio seconds.",
        "",
        "| file | audio s | language (product / baseline) | WER | CER | RTF "
        "| baseline WER | baseline RTF |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in speech:
        lines.append(
            f"| {row['file']} | {row['seconds']} | {row['detected']} / {row['baseline_detected']} "
            f"| {row['wer']:.2f} | {row['cer']:.2f} | {row['rtf']:.2f} | {row['baseline_wer']:.2f} "
            f"| {row['baseline_rtf']:.2f} |"
        )
    lines += [
        "",
        "| language | files | mean WER | mean CER | baseline mean WER |",
        "|---|---|---|---|---|",
    ]
    for language in sorted({row["language"] for row in speech}):
        group = [row for row in speech if row["language"] == language]
        wer, cer = mean([r["wer"] for r in group]), mean([r["cer"] for r in group])
        baseline = mean([r["baseline_wer"] for r in group])
        lines.append(f"| {language} | {len(group)} | {wer:.2f} | {cer:.2f} | {baseline:.2f} |")
    total_audio = sum(row["seconds"] for row in speech)
    total_rtf = sum(row["rtf"] * row["seconds"] for row in speech) / max(total_audio, 1e-9)
    baseline_rtf = sum(row["baseline_rtf"] * row["seconds"] for row in speech) / max(
        total_audio, 1e-9
    )
    long_files = [row for row in speech if row["seconds"] >= 60]
    lines += [
        "",
        f"Real-time factor over all {total_audio:.0f} s of audio: **{total_rtf:.2f}** "
        f"(baseline {baseline_rtf:.2f}; ratio {total_rtf / baseline_rtf:.2f}×). On the recordings "
        f"of a minute or more: {mean([r['rtf'] for r in long_files]):.2f}. Short clips pay a fixed "
        "cost of about 1.5 s (voice detection and language detection) that a session-length "
        "recording does not notice.",
        "",
        "### OCR: Tesseract 5 (Debian)",
        "",
        "Baseline: `tesseract FILE stdout -l eng` for images; for PDFs, the text layer pypdf "
        "finds. Rows marked silver compare with another Tesseract run, not checked by a person.",
        "",
        "| file | pages | CER | s / page | baseline CER | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for row in ocr:
        baseline = row["baseline_cer"]
        shown = "–" if baseline != baseline else f"{baseline:.3f}"  # NaN: no baseline run
        ratio = f"{row['cer'] / baseline:.2f}×" if baseline and baseline == baseline else "–"
        lines.append(
            f"| {row['file']} | {row['pages']} | {row['cer']:.3f} | {row['seconds_per_page']} "
            f"| {shown} | {ratio} |"
        )
    lines += [
        "",
        "### Office files and web pages",
        "",
        "Pages: slides for PPTX, 3,000 characters of extracted text for DOCX and HTML. Best of "
        f"{ROUNDS} runs. Characters: text kept by the product and by the baseline.",
        "",
        "| format | file | pages | pages/s | chars | baseline chars | time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in readers:
        if "error" in row:
            lines.append(
                f"| {row['format']} | {row['file']} | – | – | refused: {row['error']} | | |"
            )
            continue
        ratio = (
            row["seconds"] / row["baseline_seconds"] if row["baseline_seconds"] else float("nan")
        )
        lines.append(
            f"| {row['format']} | {row['file']} | {row['pages']} | {row['pages_per_second']} "
            f"| {row['chars']} | {row['baseline_chars']} | {ratio:.2f}× |"
        )
    return "\n".join(lines)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not MATERIALS.is_dir():
        sys.exit(f"{MATERIALS} not found: the benchmark reads ../shared/samples/materials/")
    started = time.perf_counter()
    cache_dir = Settings().cache_dir
    results: dict[str, Any] = {
        "machine": machine(),
        "speech": speech_rows(cache_dir),
        "ocr": ocr_rows(),
        "readers": reader_rows(),
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "materials.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    replace_section(DOCS_FILE, "materials", markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
