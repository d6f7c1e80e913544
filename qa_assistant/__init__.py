"""qa_assistant: ask questions of a webinar series' materials and get cited passages back.

The public API is imported lazily so that `import qa_assistant` stays fast (no torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Assistant",
    "Document",
    "DocumentMeta",
    "Hit",
    "Passage",
    "SearchFilters",
    "Session",
    "Settings",
]

if TYPE_CHECKING:
    from qa_assistant.assistant import Assistant
    from qa_assistant.config import Settings
    from qa_assistant.types import (
        Answer,
        Document,
        DocumentMeta,
        Hit,
        Passage,
        SearchFilters,
        Session,
    )


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from qa_assistant.assistant import Assistant

        return Assistant
    if name == "Settings":
        from qa_assistant.config import Settings

        return Settings
    if name in __all__:
        from qa_assistant import types

        return getattr(types, name)
    raise AttributeError(name)
