"""Recordings → timed transcripts: layout and language choice alone, then real recordings.

The real recordings live in ../shared/samples/materials/speech (never copied into the repo).
Each is transcribed once per test module; all the Whisper tests together take ~30 s on 2 cores.
"""

from __future__ import annotations

import unicodedata
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa_assistant.errors import IngestError
from qa_assistant.ingest.audio import (
    MEDIA_SUFFIXES,
    VIDEO_SUFFIXES,
    DecodedAudio,
    TimedText,
    choose_language,
    decode_recording,
    format_clock,
    format_time_left,
    transcribe_recording,
    transcript_result,
)
from qa_assistant.ingest.base import ReadOptions, ReadResult
from qa_assistant.ingest.transcript import read_transcript

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SPEECH = SHARED / "samples" / "materials" / "speech"
needs_samples = pytest.mark.skipif(
    not SPEECH.is_dir(), reason="../shared/samples/materials not present"
)


def fold(text: str) -> str:
    """Lowercase without accents (and without Arabic hamza marks) for word checks."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


# --- without the model -------------------------------------------------------------------------


def test_media_suffixes() -> None:
    assert set(VIDEO_SUFFIXES) <= set(MEDIA_SUFFIXES)
    assert {".wav", ".mp3", ".m4a", ".mp4", ".webm", ".aiff"} <= set(MEDIA_SUFFIXES)


def test_clock_and_time_left() -> None:
    assert format_clock(178.4) == "02:58"
    assert format_clock(3723) == "1:02:03"
    assert format_time_left(40.2) == "about 40 s left"
    assert format_time_left(200) == "about 3 min left"
    assert format_time_left(3) == "almost done"


def test_a_transcript_is_laid_out_like_a_caption_file() -> None:
    cues = [
        TimedText(0.0, 2.5, " Welcome to the webinar. "),
        TimedText(2.5, 3.0, "  "),  # Whisper sometimes returns an empty segment
        TimedText(3.0, 7.25, "Today: water rights."),
    ]
    vtt = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nWelcome to the webinar.\n\n"
        "00:00:03.000 --> 00:00:07.250\nToday: water rights.\n"
    )
    transcribed = transcript_result(cues, "mp4", language="en")
    captions = read_transcript(vtt, "webinar.vtt", "vtt")
    assert transcribed.text == captions.text
    assert transcribed.segments == captions.segments
    assert (transcribed.kind, transcribed.cue_count) == ("transcript", 2)
    assert (transcribed.doc_format, transcribed.language, transcribed.title) == ("mp4", "en", None)


def test_language_is_chosen_among_the_library_languages() -> None:
    # Whisper's own pick was Greek for a 4-second Spanish clip.
    probabilities = {"el": 0.55, "es": 0.30, "pt": 0.10, "en": 0.03, "fr": 0.01, "ar": 0.01}
    choice = choose_language(probabilities, ("en", "fr", "es", "ar"))
    assert choice.language == "es"
    assert choice.probability == pytest.approx(0.30 / 0.35)
    assert choice.note() == "language: es (detected among en, fr, es, ar; p=0.86)"
    # Codes Whisper does not know are left out.
    assert choose_language(probabilities, ("xx", "fr", "ar")).candidates == ("fr", "ar")
    with pytest.raises(ValueError):
        choose_language(probabilities, ("xx",))


def test_an_undecodable_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "session 3 recording.mp3"
    broken.write_bytes(np.random.default_rng(0).bytes(50_000))
    with pytest.raises(IngestError, match=r"session 3 recording\.mp3: cannot decode") as caught:
        decode_recording(broken, broken.name)
    assert "convert it to .wav or .mp3" in str(caught.value)


def test_a_video_without_sound_is_named(tmp_path: Path) -> None:
    import av

    silent_video = tmp_path / "slides only.mkv"
    with av.open(str(silent_video), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        black = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), format="rgb24")
        for _ in range(5):
            for packet in stream.encode(black):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(IngestError, match=r"slides only\.mkv: the file has no audio track"):
        decode_recording(silent_video, silent_video.name)


def test_a_wav_decodes_to_16k_mono(tmp_path: Path) -> None:
    tone = np.sin(np.linspace(0, 2 * np.pi * 440 * 2, 44_100 * 2)) * 0.3
    decoded = decode_recording(write_wav(tmp_path / "tone.wav", tone, 44_100), "tone.wav")
    assert isinstance(decoded, DecodedAudio)
    assert decoded.duration == pytest.approx(2.0, abs=0.01)
    assert decoded.audio_tracks == 1


def test_a_cut_upload_is_reported(tmp_path: Path) -> None:
    """An MP4 whose index comes first (web "faststart") announces its length before the data."""
    import av

    whole = tmp_path / "whole.m4a"
    with av.open(str(whole), "w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("aac", rate=16_000, layout="mono")
        tone = 0.3 * np.sin(np.arange(16_000 * 10) / 16_000 * 2 * np.pi * 300)
        frame = av.AudioFrame.from_ndarray(
            tone.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = 16_000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    assert decode_recording(whole, "whole.m4a").truncation_warning() is None
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    warning = decode_recording(cut, "cut.m4a").truncation_warning()
    assert warning is not None
    assert warning.startswith("only 00:0") and "of the 00:10 the file announces" in warning


# --- with Whisper base -------------------------------------------------------------------------

# (file, language, distinctive words of its .ref.txt, compared without case and accents)
RECORDINGS = [
    ("en_jfk_16k.wav", "en", ("fellow americans", "your country")),
    ("es_leopard_arenas.wav", "es", ("arenas", "grano medio")),
    ("fr_leopard_consulat.wav", "fr", ("consulat", "conservateur", "forets")),
    ("ar_egyptian_klaam_demo.wav", "ar", ("مميز", "يوم", "ناخد")),
]

Transcribe = Callable[[str], tuple[ReadResult, list[tuple[float, str]]]]


@pytest.fixture(scope="module")
def model_options(tmp_path_factory: pytest.TempPathFactory) -> ReadOptions:
    """Options whose model cache is a temporary folder (the model is joined into it once)."""
    return ReadOptions(cache_dir=tmp_path_factory.mktemp("whisper-cache"), threads=2)


@pytest.fixture(scope="module")
def transcribed(model_options: ReadOptions) -> Transcribe:
    """Transcribe a sample recording once per module, without giving its language."""
    done: dict[str, tuple[ReadResult, list[tuple[float, str]]]] = {}

    def get(file_name: str) -> tuple[ReadResult, list[tuple[float, str]]]:
        if file_name not in done:
            calls: list[tuple[float, str]] = []
            result = transcribe_recording(
                SPEECH / file_name,
                file_name,
                model_options,
                lambda share, message: calls.append((share, message)),
            )
            done[file_name] = (result, calls)
        return done[file_name]

    return get


@pytest.mark.slow
@needs_samples
@pytest.mark.parametrize(("file_name", "language", "words"), RECORDINGS)
def test_recordings_are_transcribed_in_their_language(
    transcribed: Transcribe, file_name: str, language: str, words: tuple[str, ...]
) -> None:
    result, _ = transcribed(file_name)
    assert result.language == language
    assert f"language: {language} (detected among en, fr, es, ar; p=" in result.notes[0]
    assert result.kind == "transcript"
    assert result.doc_format == "wav"
    assert result.cue_count == len(result.segments) > 0
    duration = decode_recording(SPEECH / file_name, file_name).duration
    text = fold(result.text)
    for word in words:
        assert fold(word) in text, f"{word!r} not in {result.text!r}"
        # The first word of the key phrase is in a cue whose times lie within the recording.
        holding = [
            s
            for s in result.segments
            if fold(word.split()[0]) in fold(result.text[s.char_start : s.char_end])
        ]
        assert holding, f"no cue holds {word!r}"
        cue = holding[0]
        assert cue.start_seconds is not None and cue.end_seconds is not None
        assert 0.0 <= cue.start_seconds < cue.end_seconds <= duration + 0.01
    assert any("real-time factor" in note for note in result.notes)


@pytest.mark.slow
@needs_samples
def test_progress_reports_position_and_time_left(transcribed: Transcribe) -> None:
    _, calls = transcribed("en_jfk_16k.wav")
    shares = [share for share, _ in calls]
    assert shares == sorted(shares)
    assert shares[-1] == 1.0
    # A 11-s clip takes a couple of seconds: "almost done" rather than a count of seconds.
    assert any(
        message.startswith("transcribing 00:") and message.endswith("of 00:11, almost done")
        for _, message in calls
    )


@pytest.mark.slow
@needs_samples
def test_a_video_is_transcribed(transcribed: Transcribe) -> None:
    result, _ = transcribed("video_en_xatax.mp4")
    assert result.language == "en"
    assert result.doc_format == "mp4"
    assert "wanderlust" in fold(result.text)
    last = result.segments[-1]
    assert last.end_seconds is not None and 60 < last.end_seconds <= 81.5


@pytest.mark.slow
@needs_samples
def test_only_the_first_audio_track_is_transcribed(
    tmp_path: Path, model_options: ReadOptions
) -> None:
    """Zoom records one audio track per interpretation language; the first is the floor."""
    import av

    english = decode_recording(SPEECH / "en_jfk_16k.wav", "jfk").samples
    spanish = decode_recording(SPEECH / "es_leopard_arenas.wav", "arenas").samples
    recording = tmp_path / "zoom.mkv"
    with av.open(str(recording), "w") as out:
        # Every stream is declared before the first packet is written.
        streams = [out.add_stream("pcm_s16le", rate=16_000, layout="mono") for _ in range(2)]
        for stream, samples in zip(streams, (english, spanish), strict=True):
            pcm = (samples * 32767).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = 16_000
            for packet in [*stream.encode(frame), *stream.encode()]:
                out.mux(packet)
    result = transcribe_recording(recording, "zoom.mkv", model_options)
    assert result.language == "en"
    assert "fellow americans" in fold(result.text)
    assert "arenas" not in fold(result.text)
    assert any("2 audio tracks" in note and "ignored" in note for note in result.notes)


@pytest.mark.slow
@needs_samples
def test_the_language_set_for_a_file_is_used(model_options: ReadOptions) -> None:
    result = transcribe_recording(
        SPEECH / "fr_leopard_consulat.wav",
        "consulat.wav",
        ReadOptions(language="fr", cache_dir=model_options.cache_dir),
    )
    assert result.language == "fr"
    assert result.notes[0] == "language: fr (set for this file)"


@pytest.mark.slow
def test_a_corrupt_recording_is_named(tmp_path: Path, model_options: ReadOptions) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(np.random.default_rng(1).bytes(80_000))
    with pytest.raises(IngestError, match=r"^broken\.mp3: cannot decode"):
        transcribe_recording(broken, "broken.mp3", model_options)


@pytest.mark.slow
def test_silence_is_no_speech(tmp_path: Path, model_options: ReadOptions) -> None:
    hiss = np.random.default_rng(2).normal(0, 0.001, 16_000 * 5)
    silent = write_wav(tmp_path / "silent.wav", hiss)
    with pytest.raises(IngestError, match=r"^silent\.wav: no speech found"):
        transcribe_recording(silent, "silent.wav", model_options)


@pytest.mark.slow
@needs_samples
def test_the_time_limit_names_the_setting(model_options: ReadOptions) -> None:
    options = ReadOptions(cache_dir=model_options.cache_dir, timeout_seconds=0.0)
    with pytest.raises(IngestError, match="raise QA_READ_TIMEOUT_S") as caught:
        transcribe_recording(SPEECH / "en_jfk_16k.wav", "jfk.wav", options)
    assert str(caught.value).startswith("jfk.wav: transcription stopped after")
