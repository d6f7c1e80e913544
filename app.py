"""Serve the question-answering UI: `python app.py` (settings from QA_* environment variables).

QA_INDEX_DIR, QA_CORPUS_DIR, QA_ADMIN_PASSWORD (organiser password; unset = read-only Library),
QA_HOST (default 127.0.0.1), QA_PORT (default 7860). See docs/ui.md.
"""

from __future__ import annotations

import logging
import sys

from qa_assistant.config import Settings
from qa_assistant.errors import QAError


def main() -> None:
    """Build Settings from the environment, create the Assistant once, launch the app."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa_assistant").setLevel(logging.INFO)
    from qa_assistant.ui import create_assistant, launch

    settings = Settings()
    try:
        launch(create_assistant(settings), settings)
    except QAError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
