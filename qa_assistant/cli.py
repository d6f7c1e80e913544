"""Command line: `qa-assistant add | remove | list | transcript | rebuild | ask | questions |
serve | eval`.

Each command reads options into Settings, calls one Assistant method and prints the result.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qa_assistant.errors import QAError

if TYPE_CHECKING:
    from qa_assistant.types import Coverage

HIGHLIGHT_START, HIGHLIGHT_END = "»", "«"


def _settings(ctx: click.Context, **overrides: Any) -> Any:
    from qa_assistant.config import Settings

    values = {k: v for k, v in {**ctx.obj, **overrides}.items() if v is not None}
    return Settings(**values)


def _assistant(ctx: click.Context, **overrides: Any) -> Any:
    from qa_assistant.assistant import Assistant

    return Assistant(_settings(ctx, **overrides))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--index-dir",
    type=click.Path(path_type=Path),
    envvar="QA_INDEX_DIR",
    help="Index folder [env QA_INDEX_DIR; default ./index].",
)
@click.option(
    "--corpus-dir",
    type=click.Path(path_type=Path),
    envvar="QA_CORPUS_DIR",
    help="Corpus folder; files inside it are stored by relative path [default ./corpus].",
)
@click.option(
    "--store",
    envvar="QA_STORE",
    help="Where the index lives: empty for --index-dir (SQLite + FAISS), "
    "milvus-lite:///path/index.db, or http://host:19530 for a Milvus server (token from "
    "QA_MILVUS_TOKEN) [env QA_STORE].",
)
@click.option("--model", envvar="QA_MODEL", help="Embedding model [env QA_MODEL].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="qa-assistant")
@click.pass_context
def cli(
    ctx: click.Context,
    index_dir: Path | None,
    corpus_dir: Path | None,
    store: str | None,
    model: str | None,
    verbose: int,
) -> None:
    """Ask questions of the webinar series' materials; get cited passages back.

    \b
    Example:
      qa-assistant add corpus/
      qa-assistant ask "What is the 1,000 Days Plan?"
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # pypdf logs every font quirk of every page; the per-file report says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR if verbose < 2 else logging.DEBUG)
    ctx.obj = {"index_dir": index_dir, "corpus_dir": corpus_dir, "store": store, "model": model}


def _count(number: int, noun: str) -> str:
    """ "1 passage", "2 passages"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _fail(exc: QAError) -> click.ClickException:
    return click.ClickException(str(exc))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--session", "session_id", help="Session id the files belong to.")
@click.option("--session-title", help="Title of that session.")
@click.option("--session-date", help="Date of that session (YYYY-MM-DD).")
@click.option("--title", help="Document title (for a single file).")
@click.option(
    "--recording-url",
    "--url",
    "recording_url",
    help="Online address: a recording's (citations open it at the moment) or a web page's.",
)
@click.option("--language", help="Language code (en, fr, es, ar…); detected when absent.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.pass_context
def add(
    ctx: click.Context,
    paths: tuple[Path, ...],
    session_id: str | None,
    session_title: str | None,
    session_date: str | None,
    title: str | None,
    recording_url: str | None,
    language: str | None,
    as_json: bool,
) -> None:
    """Index files or folders (recursive). Unchanged files are skipped, changed ones replaced.

    Reads PDF (scanned pages by OCR), PPTX, DOCX, HTML, scan images (PNG, JPG, TIFF), WebVTT,
    SRT, Markdown and text, and recordings (WAV, MP3, M4A, OGG, FLAC, MP4, WEBM, MKV…), which
    are transcribed, with a progress bar.

    Metadata comes from a sessions.toml next to the files (see README) and from these flags,
    which win.

    \b
    Example:
      qa-assistant add corpus/ ~/Downloads/report.pdf --session 2022-11-10-anses
    """
    from qa_assistant.records import file_report_record
    from qa_assistant.types import DocumentMeta, Session

    session = None
    if session_id:
        session = Session(session_id, session_title or "", session_date or "")
    meta = DocumentMeta(
        title=title, session=session, language=language, recording_url=recording_url
    )
    bar = ProgressBar()
    try:
        report = _assistant(ctx).add(list(paths), meta, bar.update)
    except QAError as exc:
        raise _fail(exc) from exc
    finally:
        bar.close()
    for item in report.files:
        if as_json:
            click.echo(json.dumps(file_report_record(item), ensure_ascii=False))
            continue
        detail = ""
        if item.status in ("indexed", "replaced", "unchanged"):
            unit = "slide" if item.doc_format == "pptx" else "page"
            extent = f", {_count(item.pages, unit)}" if item.pages else ""
            extent += f", {item.cues} cues" if item.cues else ""
            detail = f"{_count(item.passages, 'passage')}{extent}"
        click.echo(f"{item.status:<9} {item.path}  {detail}{item.error or ''}")
        for note in item.notes:
            click.echo(f"          {note}")
        for warning in item.warnings:
            click.echo(f"          warning: {warning}")
    counts = ", ".join(
        f"{report.count(s)} {s}"
        for s in ("indexed", "replaced", "unchanged", "skipped", "failed")
        if report.count(s)
    )
    summary = f"{counts or 'no files'}; {report.passages} passages in {report.seconds:.1f} s"
    click.echo(summary, err=as_json)
    done = report.count("indexed") + report.count("replaced") + report.count("unchanged")
    if report.files and done == 0 and report.count("failed"):
        sys.exit(1)


@cli.command()
@click.argument("document")
@click.pass_context
def remove(ctx: click.Context, document: str) -> None:
    """Remove a document (by id or path) from the index.

    \b
    Example:
      qa-assistant remove 2022-11-10-anses/report_anses.pdf
    """
    try:
        removed = _assistant(ctx).remove(document)
    except QAError as exc:
        raise _fail(exc) from exc
    click.echo(f"removed {removed.source} ({_count(removed.passages, 'passage')})")


class ProgressBar:
    """Progress of long work on stderr: a bar redrawn in place on a terminal, else a line
    whenever the message or a tenth of the work changes (logs stay short)."""

    WIDTH = 24

    def __init__(self) -> None:
        self.interactive = sys.stderr.isatty()
        self.shown = False
        self.last: tuple[str, int] = ("", -1)

    def update(self, done: float, total: int, message: str) -> None:
        """Show `done` of `total` (fractions within a file) and what is happening."""
        if total <= 0 or message == "done":
            return
        share = min(max(done / total, 0.0), 1.0)
        if self.interactive:
            filled = round(share * self.WIDTH)
            line = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {share:4.0%}  {message}"
            click.echo(f"\r{line[:110]:<110}", err=True, nl=False)
            self.shown = True
            return
        step = int(share * 10)
        topic = message.split(" ", 2)[:2]
        key = (" ".join(topic), step)
        if key != self.last:
            self.last = key
            click.echo(f"[{share:4.0%}] {message}", err=True)

    def close(self) -> None:
        """End the bar's line."""
        if self.shown:
            click.echo("", err=True)
            self.shown = False


@cli.command()
@click.argument("document")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.pass_context
def transcript(ctx: click.Context, document: str, output: Path | None) -> None:
    """Print a transcript (a transcribed recording or a caption file) as WebVTT.

    \b
    Example:
      qa-assistant transcript 2022-11-10-anses/recording.ogg -o recording.vtt
    """
    try:
        info, text = _assistant(ctx).transcript_webvtt(document)
    except QAError as exc:
        raise _fail(exc) from exc
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output} ({info.title})", err=True)


@cli.command()
@click.option("--session", help="Only questions about this session.")
@click.option(
    "--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Write CSV here."
)
@click.option(
    "--eval",
    "eval_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write participants' 👍 as a file for `qa-assistant eval questions`.",
)
@click.pass_context
def questions(
    ctx: click.Context, session: str | None, csv_file: Path | None, eval_file: Path | None
) -> None:
    """What participants asked: unanswered and 👎 questions first, then the most asked.

    \b
    Example:
      qa-assistant questions --csv questions.csv --eval judged.jsonl
    """
    from qa_assistant.feedback import judged_jsonl, questions_csv

    assistant = _assistant(ctx)
    summaries = assistant.question_summaries(session)
    if csv_file is not None:
        csv_file.write_text(questions_csv(summaries), encoding="utf-8")
        click.echo(f"wrote {csv_file} ({_count(len(summaries), 'question')})", err=True)
    if eval_file is not None:
        rows = assistant.judged_questions()
        eval_file.write_text(judged_jsonl(rows), encoding="utf-8")
        click.echo(f"wrote {eval_file} ({_count(len(rows), 'judged question')})", err=True)
    if csv_file is None and eval_file is None:
        for s in summaries:
            click.echo(
                f"{s.asked:>3}× {s.unanswered:>2} unanswered  +{s.helpful} -{s.unhelpful}  "
                f"{s.question}"
            )
        click.echo(f"{_count(len(summaries), 'question')}")


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per document.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List indexed documents.

    \b
    Example:
      qa-assistant list --json
    """
    from qa_assistant.records import document_record

    try:
        documents = _assistant(ctx).list_documents()
    except QAError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps([document_record(d) for d in documents], ensure_ascii=False))
        return
    for doc in documents:
        session = doc.session.session_id if doc.session else "-"
        click.echo(
            f"{doc.doc_id}  {doc.kind:<10} {doc.language:<3} {doc.passages:>4} passages  "
            f"{session:<20} {doc.source}"
        )
    click.echo(f"{len(documents)} documents")


@cli.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Re-embed every document with the configured model and chunk settings.

    The old index keeps answering until the new one is complete, then they swap.

    \b
    Example:
      QA_MODEL=all-MiniLM-L6-v2 qa-assistant rebuild
    """
    bar = ProgressBar()
    try:
        report = _assistant(ctx).rebuild(bar.update)
    except QAError as exc:
        raise _fail(exc) from exc
    finally:
        bar.close()
    click.echo(
        f"rebuilt {report.documents} documents, {report.passages} passages with {report.model} "
        f"({report.embedded} embedded, {report.reused} from cache) in {report.seconds:.1f} s"
    )


@cli.command()
@click.argument("question", required=False)
@click.option(
    "-f",
    "--file",
    "questions_file",
    type=click.File("r", encoding="utf-8"),
    help="Ask every line of this file (one question per line).",
)
@click.option("-k", "--top-k", type=click.IntRange(1, 50), help="Passages per question.")
@click.option("--session", "sessions", multiple=True, help="Only this session (repeatable).")
@click.option("--speaker", "speakers", multiple=True, help="Only this speaker (repeatable).")
@click.option("--language", "languages", multiple=True, help="Only passages in this language.")
@click.option("--doc", "doc_ids", multiple=True, help="Only this document id.")
@click.option(
    "--type",
    "kinds",
    multiple=True,
    type=click.Choice(["report", "transcript"]),
    help="Only this document type.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str | None,
    questions_file: Any,
    top_k: int | None,
    sessions: tuple[str, ...],
    speakers: tuple[str, ...],
    languages: tuple[str, ...],
    doc_ids: tuple[str, ...],
    kinds: tuple[str, ...],
    as_json: bool,
) -> None:
    """Ask a question (or a file of questions); print the best passages with citations.

    \b
    Example:
      qa-assistant ask "¿Qué es el Plan 1000 Días?" -k 3 --json
      qa-assistant ask -f questions.txt
    """
    from qa_assistant.records import answer_record
    from qa_assistant.types import SearchFilters

    questions = [question] if question else []
    if questions_file is not None:
        lines = (line.strip() for line in questions_file)
        questions += [line for line in lines if line and not line.startswith("#")]
    if not questions:
        raise click.UsageError("give a QUESTION or -f FILE")
    filters = SearchFilters(
        sessions=sessions, doc_ids=doc_ids, speakers=speakers, languages=languages, kinds=kinds
    )
    assistant = _assistant(ctx)
    for text in questions:
        try:
            answer = assistant.ask(text, top_k, filters)
        except QAError as exc:
            raise _fail(exc) from exc
        if as_json:
            click.echo(json.dumps(answer_record(answer), ensure_ascii=False))
        else:
            _print_answer(answer)


def _print_answer(answer: Any) -> None:
    click.secho(f"Q: {answer.question}", bold=True)
    if not answer.answerable:
        click.echo("Not covered in the session materials.")
        if answer.coverage is not None:
            click.echo(f"({_coverage_text(answer.coverage)})")
        if answer.suggestions:
            names = "; ".join(f"{s.title or s.session_id} ({s.date})" for s in answer.suggestions)
            click.echo(f"Closest sessions: {names}")
        click.echo()
        return
    for hit in answer.hits:
        click.echo(f"[{hit.rank}] {hit.score:.2f}  {hit.citation.label}")
        if hit.citation.link:
            click.echo(f"    {hit.citation.link}")
        text = hit.passage.text
        for start, end in sorted(hit.highlights, reverse=True):
            text = f"{text[:start]}{HIGHLIGHT_START}{text[start:end]}{HIGHLIGHT_END}{text[end:]}"
        body = " ".join(text.split())
        click.echo(textwrap.indent(textwrap.fill(body, width=96), "    "))
        click.echo()


def _coverage_text(coverage: Coverage) -> str:
    """Why an answer was declined, in one line."""
    if coverage.probability is None:
        return f"best score {coverage.best_score:.3f}, threshold {coverage.bar:.3f}"
    return (
        f"best score {coverage.best_score:.3f}; probability that the materials cover it"
        f" {coverage.probability:.2f}, needed {coverage.bar:.2f}"
    )


# ----- eval -------------------------------------------------------------------------------------
METRIC_KEYS = ("ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10")


def _metrics_record(metrics: Any) -> dict[str, Any]:
    values = [metrics.ndcg_at_10, metrics.recall_at_1, metrics.recall_at_5]
    values += [metrics.recall_at_10, metrics.mrr_at_10]
    record: dict[str, Any] = {k: round(v, 4) for k, v in zip(METRIC_KEYS, values, strict=True)}
    record["n_queries"] = metrics.n_queries
    return record


def _print_eval(result: Any, as_json: bool) -> None:
    if as_json:
        record = _metrics_record(result)
        record["by_language"] = {k: _metrics_record(v) for k, v in result.by_language.items()}
        click.echo(json.dumps(record))
        return
    click.echo(f"{'':<8}{'queries':>8}" + "".join(f"{k:>11}" for k in METRIC_KEYS))
    rows = [("all", result), *((f"  {k}", v) for k, v in result.by_language.items())]
    for name, metrics in rows:
        record = _metrics_record(metrics)
        cells = "".join(f"{record[k]:>11.3f}" for k in METRIC_KEYS)
        click.echo(f"{name:<8}{metrics.n_queries:>8}{cells}")
    if result.n_unanswerable:
        click.echo(
            f"unanswerable questions: {result.n_unanswerable}, declined "
            f"{result.abstention_rate or 0:.0%}; answerable questions declined "
            f"{result.false_abstention_rate or 0:.0%}"
        )


def _eval_progress(done: float, total: int, message: str) -> None:
    if total and (done == total or done % max(1, total // 10) == 0):
        logging.getLogger("qa_assistant.cli").info("[%d/%d] %s", done, total, message)


def _eval_options(command: Any) -> Any:
    options = (
        click.option("--json", "as_json", is_flag=True, help="One JSON object with the metrics."),
        click.option("--limit", type=click.IntRange(1), help="Evaluate only the first N queries."),
        click.option(
            "-k",
            "--top-k",
            type=click.IntRange(10, 200),
            default=30,
            show_default=True,
            help="Passages retrieved per query (metrics use the first 10 distinct targets).",
        ),
        click.option("--model", help="Embedding model (overrides the global --model)."),
    )
    for option in options:
        command = option(command)
    return command


@cli.group(name="eval")
def eval_group() -> None:
    """Measure retrieval quality on a judged set, indexed into a temporary folder.

    \b
    Example:
      qa-assistant eval questions tests/data/demo_questions.jsonl --docs corpus
    """


@eval_group.command(name="beir")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--queries", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--qrels", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--corpus-language", help="Language of the corpus (detected per document if unset).")
@click.option("--query-language", help="Language of the queries (detected per query if unset).")
@_eval_options
@click.pass_context
def eval_beir(
    ctx: click.Context,
    corpus: Path,
    queries: Path,
    qrels: Path,
    corpus_language: str | None,
    query_language: str | None,
    model: str | None,
    top_k: int,
    limit: int | None,
    as_json: bool,
) -> None:
    """A BEIR-style set: corpus.jsonl, queries.jsonl (any language) and qrels.tsv.

    \b
    Example:
      qa-assistant eval beir --corpus scifact/corpus.jsonl --queries scifact/queries.jsonl \\
          --qrels scifact/qrels.tsv --limit 50
    """
    from qa_assistant.eval_data import load_beir
    from qa_assistant.eval_runner import evaluate_beir

    try:
        data = load_beir(corpus, queries, qrels, query_language)
        result = evaluate_beir(
            data, _settings(ctx, model=model), None, top_k, limit, corpus_language, _eval_progress
        )
    except QAError as exc:
        raise _fail(exc) from exc
    _print_eval(result, as_json)


@eval_group.command(name="spans")
@click.option("--targets", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--docs", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--split", help="Only targets of this split (and its transcript subfolder).")
@_eval_options
@click.pass_context
def eval_spans(
    ctx: click.Context,
    targets: Path,
    docs: Path,
    split: str | None,
    model: str | None,
    top_k: int,
    limit: int | None,
    as_json: bool,
) -> None:
    """Span targets over `Speaker: text` transcripts (QMSum layout).

    Every indexed passage that overlaps a gold span is relevant.

    \b
    Example:
      qa-assistant eval spans --targets qmsum/span_targets.jsonl \\
          --docs qmsum/transcripts --split val
    """
    from qa_assistant.eval_data import load_spans
    from qa_assistant.eval_runner import evaluate_spans

    try:
        data = load_spans(targets, docs, split)
        result = evaluate_spans(
            data, _settings(ctx, model=model), None, top_k, limit, _eval_progress
        )
    except QAError as exc:
        raise _fail(exc) from exc
    _print_eval(result, as_json)


@eval_group.command(name="questions")
@click.argument("questions", type=click.Path(exists=True, path_type=Path))
@click.option("--docs", type=click.Path(exists=True, path_type=Path), required=True)
@_eval_options
@click.pass_context
def eval_questions(
    ctx: click.Context,
    questions: Path,
    docs: Path,
    model: str | None,
    top_k: int,
    limit: int | None,
    as_json: bool,
) -> None:
    """Organiser questions (doc + pages or time range); also reports abstention rates.

    \b
    Example:
      qa-assistant eval questions tests/data/demo_questions.jsonl --docs corpus --json
    """
    from qa_assistant.eval_data import load_questions
    from qa_assistant.eval_runner import evaluate_questions

    try:
        data = load_questions(questions, docs)
        result = evaluate_questions(
            data, _settings(ctx, model=model), None, top_k, limit, _eval_progress
        )
    except QAError as exc:
        raise _fail(exc) from exc
    _print_eval(result, as_json)


@cli.command()
@click.option("--host", help="Address to bind [env QA_HOST; default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [env QA_PORT; default 7860].")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the web UI: Ask and Library tabs, and the /ask API.

    Organiser actions in the Library tab need QA_ADMIN_PASSWORD; without it the tab is
    read-only. See docs/ui.md.

    \b
    Example:
      QA_ADMIN_PASSWORD=change-me qa-assistant serve --port 7860
    """
    try:
        from qa_assistant.ui.app import create_assistant, launch
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("gradio", "fastapi", "starlette"):
            raise
        raise click.ClickException(
            f"the web UI needs {exc.name}, which is not installed: pip install 'qa-assistant[ui]'"
        ) from exc
    settings = _settings(ctx, host=host, port=port)
    try:
        launch(create_assistant(settings), settings)
    except QAError as exc:
        raise _fail(exc) from exc


def main() -> None:
    """Console entry point."""
    cli()


if __name__ == "__main__":
    main()
