"""Recordings (audio or video) → timed transcripts with Whisper base (faster-whisper, CPU, int8).

A transcribed recording is laid out exactly like a caption file read by `transcript.py`: one
Segment per recognised stretch of speech (Whisper's segment, a "cue"), texts joined by the same
separator, kind "transcript". The chunker cannot tell the two apart.

Decoding goes through PyAV (bundled FFmpeg libraries, no system ffmpeg). Silero voice-activity
detection (bundled with faster-whisper) skips silence and music, which is where Whisper
otherwise invents text. The language is chosen among the library's languages only: Whisper's
own pick over 99 languages called a 4-second Spanish clip Greek.

faster-whisper and PyAV load lazily so that `import qa_assistant` stays fast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_assistant.errors import IngestError, ModelError
from qa_assistant.ingest.base import ReadOptions, ReadProgress, ReadResult, no_read_progress
from qa_assistant.ingest.transcript import Cue, layout_cues
from qa_assistant.whisper_parts import WEIGHTS_SHA256, ensure_whisper_model

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Samples = npt.NDArray[np.float32]

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov")
MEDIA_SUFFIXES = (
    ".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".flac", ".aiff", ".aif", *VIDEO_SUFFIXES,
)  # fmt: skip
SAMPLING_RATE = 16_000  # Whisper's input rate
WINDOW_SECONDS = 30  # Whisper reads audio in 30-second windows
# Language detection averages Whisper's language probabilities over this many 30-s windows of
# speech: one window can be a jingle, a greeting or a quotation in another language.
LANGUAGE_WINDOWS = 3
# Measured on the 9 recordings of ../shared/samples/materials/speech (2 busy cores): greedy
# decoding (beam 1) was 30–45% faster on the two long ones but lost words (mean WER 0.28
# against 0.25; the Spanish sentence 0.33 against 0.08), so Whisper's default beam of 5 stays.
BEAM_SIZE = 5
# Without the previous window's text as a prompt Whisper cannot carry a repetition loop or a
# wrong language from one window into the next (faster-whisper's advice); measured no worse.
CONDITION_ON_PREVIOUS_TEXT = False
# Silero VAD's default threshold (0.5) dropped speech over music in the radio sample (64 s of
# 120 kept, WER 0.31); 0.35 kept 67 s (WER 0.21) and still heard no speech in hiss or a tone.
VAD_THRESHOLD = 0.35
# What a cached transcript depends on: the weights and the decoding settings.
TRANSCRIBER_ID = f"wb{WEIGHTS_SHA256[:6]}b{BEAM_SIZE}v{int(VAD_THRESHOLD * 100)}"
MIN_AUDIO_SECONDS = 0.5  # less than this decoded from a file means it is damaged
TRUNCATION_TOLERANCE_SECONDS = 2.0  # headers' durations are estimates (MP3 without an index)
# Settings' default cache folder, for callers that leave ReadOptions.cache_dir unset.
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "qa-assistant"


@dataclass(frozen=True)
class DecodedAudio:
    """A recording's first audio track as 16 kHz mono float32 samples."""

    samples: Samples
    audio_tracks: int
    announced_seconds: float | None = None  # the track's length as its header states it

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return float(self.samples.shape[0]) / SAMPLING_RATE

    def truncation_warning(self) -> str | None:
        """A warning when much less audio decoded than the header announces (a cut upload)."""
        if self.announced_seconds is None:
            return None
        missing = self.announced_seconds - self.duration
        if missing <= max(TRUNCATION_TOLERANCE_SECONDS, 0.02 * self.announced_seconds):
            return None
        return (
            f"only {format_clock(self.duration)} of the {format_clock(self.announced_seconds)}"
            " the file announces could be decoded: it may be truncated; upload it again"
        )


@dataclass(frozen=True)
class LanguageChoice:
    """The language a recording is transcribed in, and how it was chosen.

    `probability` is Whisper's probability for `language` renormalised over `candidates`
    (1.0 when the language was set, not detected).
    """

    language: str
    probability: float
    candidates: tuple[str, ...]
    detected: bool

    def note(self) -> str:
        """'language: es (detected among en, fr, es, ar; p=0.93)'."""
        if not self.detected:
            return f"language: {self.language} (set for this file)"
        if len(self.candidates) == 1:
            return f"language: {self.language} (the library's only language)"
        among = ", ".join(self.candidates) if len(self.candidates) <= 10 else "all it knows"
        return f"language: {self.language} (detected among {among}; p={self.probability:.2f})"


@dataclass(frozen=True)
class TimedText:
    """One recognised stretch of speech: times in seconds from the start of the recording."""

    start: float
    end: float
    text: str


def format_clock(seconds: float) -> str:
    """Seconds → '02:58', or '1:02:58' from an hour on."""
    total = max(int(seconds), 0)
    hours, minutes, secs = total // 3600, total % 3600 // 60, total % 60
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_time_left(seconds: float) -> str:
    """'almost done', 'about 40 s left' under a minute and a half, else 'about 3 min left'."""
    if seconds < 5:
        return "almost done"
    return f"about {seconds:.0f} s left" if seconds < 90 else f"about {seconds / 60:.0f} min left"


def normalise_language(code: str) -> str:
    """'EN', 'es-AR', 'fr_FR' → 'en', 'es', 'fr' (Whisper's codes are ISO 639-1)."""
    return code.strip().lower().replace("_", "-").split("-")[0]


def choose_language(
    probabilities: Mapping[str, float], candidates: Iterable[str]
) -> LanguageChoice:
    """The most probable language among `candidates`, with its probability renormalised over
    them; ties go to the earlier candidate. Languages Whisper does not know are left out.

    Raises:
        ValueError: no candidate is a language Whisper knows.
    """
    known = tuple(dict.fromkeys(c for c in candidates if c in probabilities))
    if not known:
        raise ValueError("no candidate language is known to Whisper")
    total = sum(probabilities[c] for c in known)
    best = max(known, key=lambda c: (probabilities[c], -known.index(c)))
    share = probabilities[best] / total if total > 0 else 1.0 / len(known)
    return LanguageChoice(best, share, known, detected=True)


def transcript_result(
    cues: Iterable[TimedText],
    doc_format: str,
    language: str | None = None,
    notes: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
) -> ReadResult:
    """Lay cues out as `transcript.read_transcript` does for a caption file without speakers
    (`transcript.layout_cues`). Empty cues are skipped."""
    timed = [
        Cue(start=cue.start, end=cue.end, text=text, speaker=None, line=number)
        for number, cue in enumerate(cues, start=1)
        if (text := " ".join(cue.text.split()))
    ]
    text, segments = layout_cues(timed)
    return ReadResult(
        text=text,
        segments=segments,
        kind="transcript",
        doc_format=doc_format,
        cue_count=len(segments),
        warnings=warnings,
        notes=notes,
        language=language,
    )


def _av_reason(exc: BaseException) -> str:
    """PyAV's message without the errno and the repeated path."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return str(reason).strip() or type(exc).__name__


def decode_recording(path: Path, name: str) -> DecodedAudio:
    """Decode the first audio track of `path` to 16 kHz mono.

    Zoom records one audio track per interpretation language; the first is the floor.

    Raises:
        IngestError: the file is not audio or video PyAV can read, or has no audio track.
    """
    import av
    from faster_whisper import decode_audio

    unreadable = (
        f"{name}: cannot decode it as audio or video ({{reason}}); check that the file is "
        "complete and plays in a media player, or convert it to .wav or .mp3"
    )
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            audio_tracks = len(container.streams.audio)
            first = container.streams.audio[0] if audio_tracks else None
            announced = (
                float(first.duration * first.time_base)
                if first is not None and first.duration and first.time_base
                else None
            )
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise IngestError(unreadable.format(reason=_av_reason(exc))) from exc
    if audio_tracks == 0:
        raise IngestError(
            f"{name}: the file has no audio track; add a recording with sound, "
            "or the session's captions (.vtt or .srt)"
        )
    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLING_RATE)
    except (av.FFmpegError, OSError, ValueError, MemoryError) as exc:
        raise IngestError(unreadable.format(reason=_av_reason(exc))) from exc
    decoded_seconds = samples.shape[0] / SAMPLING_RATE
    if decoded_seconds < MIN_AUDIO_SECONDS:
        # Damaged files often yield a stray frame or two of noise rather than a decoding error.
        reason = f"only {decoded_seconds:.1f} s of audio decoded"
        raise IngestError(unreadable.format(reason=reason))
    return DecodedAudio(samples, audio_tracks, announced)


def _speech_only(samples: Samples) -> Samples:
    """The samples Silero VAD hears as speech, joined (empty when there is none)."""
    import numpy as np
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    chunks = get_speech_timestamps(samples, VadOptions(threshold=VAD_THRESHOLD))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    pieces, _ = collect_chunks(samples, chunks)
    joined: Samples = np.concatenate(pieces).astype(np.float32, copy=False)
    return joined


class Transcriber:
    """Whisper loaded once; transcribes recordings one at a time (CPU-bound, so no overlap)."""

    def __init__(
        self,
        model_dir: Path,
        threads: int = 2,
        beam_size: int = BEAM_SIZE,
        condition_on_previous_text: bool = CONDITION_ON_PREVIOUS_TEXT,
    ):
        """Load the model in `model_dir` (from `ensure_whisper_model`).

        Raises:
            ModelError: faster-whisper is missing or the folder does not hold a loadable model.
        """
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ModelError(
                f"transcribing recordings needs faster-whisper ({exc}); "
                "install it: pip install faster-whisper"
            ) from exc
        try:
            self.model: Any = WhisperModel(
                str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
            )
        except (RuntimeError, OSError, ValueError) as exc:
            raise ModelError(
                f"cannot load the Whisper model in {model_dir} ({exc}); delete that folder so "
                "that it is joined again from the packages"
            ) from exc
        self.model_dir = model_dir
        self.threads = threads
        self.beam_size = beam_size
        self.condition_on_previous_text = condition_on_previous_text
        self._lock = threading.Lock()

    @property
    def languages(self) -> tuple[str, ...]:
        """The language codes Whisper knows."""
        return tuple(self.model.supported_languages)

    def language_probabilities(self, speech: Samples) -> dict[str, float]:
        """Whisper's probability of each language, averaged over the first LANGUAGE_WINDOWS
        30-s windows of `speech` (weighted by how much speech each window holds)."""
        from faster_whisper.audio import pad_or_trim

        window = WINDOW_SECONDS * SAMPLING_RATE
        totals: dict[str, float] = {}
        weights = 0.0
        for start in range(0, min(speech.shape[0], LANGUAGE_WINDOWS * window), window):
            piece = speech[start : start + window]
            features = self.model.feature_extractor(piece)
            encoded = self.model.encode(pad_or_trim(features))
            weight = piece.shape[0] / window
            for token, probability in self.model.model.detect_language(encoded)[0]:
                language = token[2:-2]  # '<|es|>' → 'es'
                totals[language] = totals.get(language, 0.0) + weight * probability
            weights += weight
        return {language: total / weights for language, total in totals.items()}

    def choose_language(
        self, speech: Samples, options: ReadOptions, warnings: list[str]
    ) -> LanguageChoice:
        """The file's own language when set and known to Whisper, else the most probable of
        the library's languages."""
        known = set(self.languages)
        if options.language:
            language = normalise_language(options.language)
            if language in known:
                return LanguageChoice(language, 1.0, (language,), detected=False)
            warnings.append(
                f"Whisper does not know the language {options.language!r} set for this file; "
                "detected it instead"
            )
        candidates = tuple(
            dict.fromkeys(normalise_language(c) for c in options.languages if c.strip())
        )
        usable = tuple(c for c in candidates if c in known)
        if len(usable) < len(candidates):
            unknown = ", ".join(c for c in candidates if c not in known)
            warnings.append(f"Whisper does not know the library language(s) {unknown}")
        if len(usable) == 1:
            return LanguageChoice(usable[0], 1.0, usable, detected=True)
        probabilities = self.language_probabilities(speech)
        return choose_language(probabilities, usable or self.languages)

    def transcribe(
        self,
        path: Path,
        name: str,
        options: ReadOptions,
        progress: ReadProgress = no_read_progress,
    ) -> ReadResult:
        """Transcribe the first audio track of `path` into timed cues.

        Raises:
            IngestError: undecodable file, no audio track, no speech, or over
                `options.timeout_seconds`; the message names the file and what to do.
        """
        with self._lock:
            started = time.monotonic()
            progress(0.0, "decoding audio")
            recording = decode_recording(path, name)
            duration = recording.duration
            warnings: list[str] = []
            notes: list[str] = []
            truncated = recording.truncation_warning()
            if truncated:
                warnings.append(truncated)
            if recording.audio_tracks > 1:
                notes.append(
                    f"the file has {recording.audio_tracks} audio tracks: transcribed the first, "
                    "ignored the others (e.g. interpretation channels)"
                )
            progress(0.0, "finding speech")
            speech = _speech_only(recording.samples)
            if speech.size == 0:
                raise _no_speech(name, duration)
            self._check_time(name, started, options, 0.0, duration)
            progress(0.0, "detecting the language")
            choice = self.choose_language(speech, options, warnings)
            del speech
            notes.insert(0, choice.note())
            cues = self._cues(recording, choice.language, name, options, progress, started)
            if not any(cue.text.strip() for cue in cues):
                raise _no_speech(name, duration)
            elapsed = time.monotonic() - started
            notes.append(
                f"transcribed {format_clock(duration)} of audio in {elapsed:.0f} s "
                f"(real-time factor {elapsed / duration:.2f})"
            )
            progress(1.0, f"transcribed {format_clock(duration)}")
            return transcript_result(
                cues,
                doc_format=path.suffix.lower().lstrip("."),
                language=choice.language,
                notes=tuple(notes),
                warnings=tuple(warnings),
            )

    def _cues(
        self,
        recording: DecodedAudio,
        language: str,
        name: str,
        options: ReadOptions,
        progress: ReadProgress,
        started: float,
    ) -> list[TimedText]:
        duration = recording.duration
        segments, _info = self.model.transcribe(
            recording.samples,
            language=language,
            task="transcribe",
            beam_size=self.beam_size,
            condition_on_previous_text=self.condition_on_previous_text,
            vad_filter=True,
            vad_parameters={"threshold": VAD_THRESHOLD},
        )
        cues: list[TimedText] = []
        decoding_started = time.monotonic()
        for segment in segments:  # a generator: decoding happens as it is consumed
            end = min(float(segment.end), duration)
            start = min(max(float(segment.start), 0.0), end)
            cues.append(TimedText(start, end, segment.text.strip()))
            share = min(end / duration, 1.0)
            spent = time.monotonic() - decoding_started
            left = spent * (1.0 - share) / share if share > 0 else 0.0
            progress(
                share,
                f"transcribing {format_clock(end)} of {format_clock(duration)}, "
                f"{format_time_left(left)}",
            )
            self._check_time(name, started, options, end, duration)
        return cues

    @staticmethod
    def _check_time(
        name: str, started: float, options: ReadOptions, done: float, duration: float
    ) -> None:
        elapsed = time.monotonic() - started
        if elapsed <= options.timeout_seconds:
            return
        raise IngestError(
            f"{name}: transcription stopped after {elapsed:.0f} s at {format_clock(done)} of "
            f"{format_clock(duration)}, over the {options.timeout_seconds:.0f} s limit per "
            "file; raise QA_READ_TIMEOUT_S or split the recording"
        )


def _no_speech(name: str, duration: float) -> IngestError:
    return IngestError(
        f"{name}: no speech found in {format_clock(duration)} of audio; check that the "
        "recording has sound (or, for a video, that its first audio track is the speech)"
    )


_TRANSCRIBERS: dict[tuple[Path, int], Transcriber] = {}
_TRANSCRIBERS_LOCK = threading.Lock()


def shared_transcriber(cache_dir: Path, threads: int) -> Transcriber:
    """The process's Transcriber for this model folder and thread count, loaded on first use.

    Loading takes seconds and ~200 MB, so every recording of a process shares one model.

    Raises:
        ModelError: the model packages are missing or damaged.
    """
    folder = ensure_whisper_model(cache_dir).resolve()
    key = (folder, threads)
    with _TRANSCRIBERS_LOCK:
        if key not in _TRANSCRIBERS:
            logger.info("loading Whisper from %s (%d threads)", folder, threads)
            _TRANSCRIBERS[key] = Transcriber(folder, threads)
        return _TRANSCRIBERS[key]


def transcribe_recording(
    path: Path,
    name: str,
    options: ReadOptions,
    progress: ReadProgress = no_read_progress,
) -> ReadResult:
    """Transcribe a recording (audio or video) into a timed transcript.

    Args:
        name: how the file is named in messages.
        options: `language` (None = detect among `languages`), `cache_dir` for the joined
            model, `threads`, `timeout_seconds`.
        progress: told (share done, message) as speech is transcribed.

    Raises:
        IngestError: the file cannot be transcribed; a missing or damaged model is reported
            the same way (with the fix), so that a batch goes on with the other files.
    """
    try:
        transcriber = shared_transcriber(options.cache_dir or DEFAULT_CACHE_DIR, options.threads)
    except ModelError as exc:
        raise IngestError(f"{name}: {exc}", reason=str(exc)) from exc
    return transcriber.transcribe(path, name, options, progress)
