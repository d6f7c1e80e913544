"""OCR with the Tesseract command line: scan images and image-only PDF pages → text.

Tesseract is a Debian package, not a Python one, so it is run as a program and may be absent:
`find_tesseract` says whether it is there and `TESSERACT_INSTALL` is the command to add it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import (
    LIBRARY_LANGUAGES,
    ReadOptions,
    ReadProgress,
    ReadResult,
    no_read_progress,
)
from qa_assistant.ingest.pdf import clean_page_text, page_list
from qa_assistant.types import Segment

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

TESSERACT_INSTALL = (
    "apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra "
    "tesseract-ocr-spa tesseract-ocr-ara"
)
# ISO 639-1 → Tesseract's traineddata names (ISO 639-2/T, with script variants).
TESSERACT_CODES = {
    "en": "eng", "fr": "fra", "es": "spa", "ar": "ara", "de": "deu", "it": "ita",
    "pt": "por", "nl": "nld", "ru": "rus", "uk": "ukr", "pl": "pol", "tr": "tur",
    "fa": "fas", "he": "heb", "hi": "hin", "zh": "chi_sim", "ja": "jpn", "ko": "kor",
}  # fmt: skip
PAGE_SEGMENTATION = "3"  # Tesseract --psm 3: fully automatic page segmentation, no OSD
# Measured on ../shared/samples/materials/scanned (tests/test_ingest_ocr.py): doubling images
# narrower than 1000 px never cost accuracy and cut the CER of the same scans shrunk to
# 276-414 px from 37 % to 5 % (Arabic) and from 1.1 % to 0 % (English); 3× was no better.
UPSCALE_BELOW_WIDTH = 1000
UPSCALE_FACTOR = 2
# One thread per Tesseract process, pages in parallel instead (as OCRmyPDF does): with
# OMP_THREAD_LIMIT=2 on a 2-core machine shared with other work, a form page took 31-43 s
# against 15 s single-threaded, and never less.
TESSERACT_THREADS = 1
ARABIC_SCRIPT_PACKS = frozenset(("ara", "fas", "urd", "pus", "snd", "uig"))
ARABIC_RERUN_SHARE = 0.9  # below this a page is bilingual: the mixed reading keeps both
LIST_LANGUAGES_TIMEOUT = 30.0  # seconds for `tesseract --list-langs`
_PAGE_SEPARATOR = "\n\n"
_DIRECTION_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class OcrError(Exception):
    """Tesseract failed on one image; `reason` says why, for a warning or an IngestError."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OcrTimeoutError(OcrError):
    """Tesseract did not finish within the time left for the file."""


def find_tesseract() -> str | None:
    """The path of the `tesseract` program, or None when it is not installed."""
    return shutil.which("tesseract")


@functools.cache
def installed_tesseract_languages(executable: str) -> frozenset[str]:
    """Language packs Tesseract can load (`tesseract --list-langs`), read once per program."""
    try:
        listing = subprocess.run(
            [executable, "--list-langs"],
            capture_output=True,
            timeout=LIST_LANGUAGES_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("cannot list Tesseract's languages: %s", exc)
        return frozenset()
    # The first line is a header ("List of available languages in ... (5):").
    lines = listing.stdout.decode("utf-8", "replace").splitlines()[1:]
    return frozenset(line.strip() for line in lines if line.strip() and line.strip() != "osd")


def _wanted_codes(options: ReadOptions) -> list[str]:
    """Tesseract codes for the file's language, else for every candidate language."""
    languages = [options.language] if options.language else list(options.languages)
    codes: list[str] = []
    for language in languages:
        key = language.strip().lower()
        # "fr", "fr-CA" and "fra" all mean Tesseract's "fra"; unknown two-letter codes are skipped.
        code = TESSERACT_CODES.get(key.replace("_", "-").split("-")[0])
        if code is None and len(key) > 2 and "-" not in key:
            code = key
        if code and code not in codes:
            codes.append(code)
    return codes


def tesseract_languages(options: ReadOptions) -> str:
    """Tesseract's `-l` value: "fra" for a French file, else every installed library language.

    Packs that are not installed are left out; when none of the wanted ones is, the installed
    library languages (then any installed pack) are used, so that a scan is still read.
    """
    wanted = _wanted_codes(options)
    executable = find_tesseract()
    installed = installed_tesseract_languages(executable) if executable else frozenset()
    if not installed:  # cannot tell: let Tesseract report a missing pack itself
        return "+".join(wanted or ["eng"])
    usable = [code for code in wanted if code in installed]
    if not usable:
        library = [TESSERACT_CODES[language] for language in LIBRARY_LANGUAGES]
        usable = [code for code in library if code in installed] or sorted(installed)
    return "+".join(usable)


def missing_language_packs(options: ReadOptions) -> tuple[str, ...]:
    """Tesseract codes wanted for the file whose packs are not installed (empty if unknown)."""
    executable = find_tesseract()
    installed = installed_tesseract_languages(executable) if executable else frozenset()
    if not installed:
        return ()
    return tuple(code for code in _wanted_codes(options) if code not in installed)


def missing_packs_warning(options: ReadOptions) -> str | None:
    """A warning naming the command that adds the missing language packs, if any are."""
    missing = missing_language_packs(options)
    if not missing:
        return None
    packages = " ".join(f"tesseract-ocr-{code.replace('_', '-')}" for code in missing)
    return (
        f"Tesseract has no language pack for {', '.join(missing)}: OCR used "
        f"{tesseract_languages(options)} instead; to add them: apt-get install {packages}"
    )


def prepare_image(image: Image.Image) -> Image.Image:
    """Grayscale on white, upright, and doubled when small (see UPSCALE_BELOW_WIDTH)."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        # 16-bit scans: scale to 8 bits (a plain convert("L") clips everything above 255).
        image = image.convert("I").point(lambda value: value * (1 / 256))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels are often black: text on them would vanish when flattened as is.
        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = PILImage.alpha_composite(background, rgba)
    gray = image.convert("L")
    if 0 < gray.width < UPSCALE_BELOW_WIDTH:
        size = (gray.width * UPSCALE_FACTOR, gray.height * UPSCALE_FACTOR)
        gray = gray.resize(size, PILImage.Resampling.LANCZOS)
    return gray


def ocr_image(image: Image.Image, languages: str, timeout: float, threads: int) -> str:
    """Text read by Tesseract from one image, tidied like a PDF page's text.

    Args:
        languages: Tesseract's `-l` value, e.g. "eng+fra" (see `tesseract_languages`).
        timeout: seconds Tesseract may run before OcrTimeoutError is raised.
        threads: CPU threads Tesseract may use (OMP_THREAD_LIMIT).

    Raises:
        OcrError: Tesseract is missing, failed, or (OcrTimeoutError) ran out of time.
    """
    executable = find_tesseract()
    if executable is None:
        raise OcrError(f"Tesseract is not installed; install it: {TESSERACT_INSTALL}")
    if timeout <= 0:
        raise OcrTimeoutError("no time left")
    prepared = prepare_image(image)
    # Tesseract's own environment (PATH, TESSDATA_PREFIX) is passed on; only threads change.
    environment = {**os.environ, "OMP_THREAD_LIMIT": str(max(1, threads))}
    with tempfile.TemporaryDirectory(prefix="qa-ocr-") as folder:
        source = Path(folder) / "in.png"
        prepared.save(source, format="PNG", compress_level=1)  # written once, read once
        command = [executable, str(source), "stdout", "-l", languages]
        try:
            done = subprocess.run(
                [*command, "--psm", PAGE_SEGMENTATION],
                capture_output=True,
                timeout=timeout,
                env=environment,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:  # subprocess.run has killed Tesseract
            raise OcrTimeoutError(f"Tesseract took longer than {timeout:.0f} s") from exc
        except OSError as exc:
            raise OcrError(f"cannot run Tesseract ({exc})") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {done.returncode}"
        raise OcrError(f"Tesseract failed: {detail}")
    text = done.stdout.decode("utf-8", "replace").replace("\f", "\n")
    # Tesseract wraps Latin runs in right-to-left lines with direction marks: invisible, but
    # they would glue themselves to words in the keyword index.
    return clean_page_text(_DIRECTION_MARKS.sub("", text))


def read_image(
    path: Path,
    name: str,
    options: ReadOptions,
    progress: ReadProgress = no_read_progress,
) -> ReadResult:
    """Read a scan image (PNG, JPEG, TIFF; each TIFF frame a page) with Tesseract.

    The content decides the format, not the suffix: a PNG named .jpg reads.

    Raises:
        IngestError: OCR is off or Tesseract is missing (with the install command), the
            image cannot be opened, or no text was found.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if not options.ocr:
        raise IngestError(
            f"{name}: a scan image is read by OCR, which is turned off; "
            "set QA_OCR=true to read it with Tesseract"
        )
    if find_tesseract() is None:
        raise IngestError(
            f"{name}: a scan image needs Tesseract (OCR), which is not installed; "
            f"install it ({TESSERACT_INSTALL}) and add the file again"
        )
    languages = tesseract_languages(options)
    started = time.monotonic()
    try:
        with PILImage.open(path) as image:
            count = getattr(image, "n_frames", 1)

            def frame(number: int) -> Image.Image:
                image.seek(number - 1)
                return image.copy()

            numbers = list(range(1, count + 1))
            pages = ocr_pages(numbers, frame, languages, options, started, progress)
    except PILImage.DecompressionBombError as exc:
        raise IngestError(
            f"{name}: the image is too large to read safely ({exc}); "
            "scan it again at 300 dpi or split it"
        ) from exc
    except UnidentifiedImageError as exc:
        raise IngestError(
            f"{name}: not a readable image (PNG, JPEG or TIFF expected); check the file"
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # PIL on damaged files
        raise IngestError(f"{name}: the image is damaged ({exc}); check the file") from exc
    seconds = time.monotonic() - started

    warnings = pages.warnings(options)
    if not pages.texts:
        reason = "; ".join(warnings) or (
            "OCR found no text; check that the image is a scan of text, at 200 dpi or more"
        )
        raise IngestError(f"{name}: {reason}")
    if pages.empty:
        warnings.append(f"OCR found no text on pages {page_list(list(pages.empty))}")
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for number, text in pages.texts:
        if parts:
            offset += len(_PAGE_SEPARATOR)
        segments.append(
            Segment(char_start=offset, char_end=offset + len(text), page=number, ocr=True)
        )
        parts.append(text)
        offset += len(text)
    return ReadResult(
        text=_PAGE_SEPARATOR.join(parts),
        segments=tuple(segments),
        kind="report",
        doc_format="image",
        title=None,
        page_count=count,
        warnings=tuple(warnings),
        notes=(pages.note(seconds),),
    )


@dataclass(frozen=True)
class OcrPages:
    """What OCR made of a file's pages: (page, text) read, and the pages it could not read."""

    languages: str
    texts: tuple[tuple[int, str], ...]
    empty: tuple[int, ...] = ()  # read, but no text found
    failed: tuple[tuple[int, str], ...] = ()  # (page, reason)
    unread: tuple[int, ...] = ()  # not reached before the time limit

    def note(self, seconds: float) -> str:
        """The fact to show the organiser: pages read, languages, time."""
        pages = "1 page" if len(self.texts) == 1 else f"{len(self.texts)} pages"
        return f"OCR: {pages} read with Tesseract ({self.languages}) in {seconds:.0f} s"

    def warnings(self, options: ReadOptions) -> list[str]:
        """Problems for the organiser: missing packs, failed pages, pages past the limit."""
        messages: list[str] = []
        pack_warning = missing_packs_warning(options)
        if pack_warning:
            messages.append(pack_warning)
        if self.failed:
            reasons = "; ".join(f"page {page}: {reason}" for page, reason in self.failed)
            messages.append(f"OCR failed on {reasons}; those pages are not searchable")
        if self.unread:
            messages.append(
                f"OCR stopped at the {options.timeout_seconds:.0f} s time limit per file: "
                f"pages {page_list(list(self.unread))} not read; raise QA_READ_TIMEOUT_S "
                "or split the file"
            )
        return messages


def ocr_pages(
    numbers: list[int],
    render: Callable[[int], Image.Image],
    languages: str,
    options: ReadOptions,
    started: float,
    progress: ReadProgress = no_read_progress,
) -> OcrPages:
    """OCR the pages `numbers`, `options.threads` at a time, within `options.timeout_seconds`.

    Args:
        render: the image of a page, by number; called in this thread, one page at a time,
            just before the page's OCR (so at most `threads` page images are in memory).
        started: `time.monotonic()` when reading the file began: the limit is per file.
    """
    deadline = started + options.timeout_seconds
    texts: dict[int, str] = {}
    failed: dict[int, str] = {}
    unread: list[int] = []
    queue = list(reversed(numbers))
    workers = max(1, min(options.threads, len(numbers)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
        running: dict[Future[str], int] = {}

        def start_next() -> None:
            while queue and len(running) < workers:
                number = queue.pop()
                if time.monotonic() >= deadline:
                    unread.append(number)
                    continue
                try:
                    image = render(number)
                except OcrError as exc:
                    failed[number] = exc.reason
                    continue
                running[pool.submit(read_page, image, languages, deadline)] = number

        start_next()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                number = running.pop(future)
                try:
                    texts[number] = future.result()
                except OcrTimeoutError:
                    unread.append(number)
                except OcrError as exc:
                    failed[number] = exc.reason
                done = len(texts) + len(failed) + len(unread)
                progress(done / len(numbers), f"OCR: page {done} of {len(numbers)}")
            start_next()
    return OcrPages(
        languages=languages,
        texts=tuple((number, texts[number]) for number in sorted(texts) if texts[number]),
        empty=tuple(number for number in sorted(texts) if not texts[number]),
        failed=tuple(sorted(failed.items())),
        unread=tuple(sorted(unread)),
    )


def read_page(image: Image.Image, languages: str, deadline: float) -> str:
    """One page's text with a single-threaded Tesseract; Arabic pages read again with Arabic.

    Tesseract's first language leads: with "eng+fra+spa+ara" an Arabic page comes out with
    Latin debris (6.5 % CER on ar_printed_capr12.png against 0 % with "ara" alone), so a page
    that is almost all Arabic script is read again with the Arabic-script packs only.
    """
    text = ocr_image(image, languages, deadline - time.monotonic(), TESSERACT_THREADS)
    arabic = "+".join(code for code in languages.split("+") if code in ARABIC_SCRIPT_PACKS)
    if not arabic or arabic == languages or arabic_share(text) < ARABIC_RERUN_SHARE:
        return text
    try:
        return ocr_image(image, arabic, deadline - time.monotonic(), TESSERACT_THREADS)
    except OcrError as exc:  # the first reading is still good
        logger.info("Arabic-only OCR pass failed (%s); keeping the mixed reading", exc.reason)
        return text


def arabic_share(text: str) -> float:
    """Share of the letters of `text` that are in the Arabic script (0 when no letters)."""
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for char in letters if _is_arabic(char)) / len(letters)


def _is_arabic(char: str) -> bool:
    code = ord(char)
    return 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF
