"""The Gradio front end. The only package that imports gradio, and only when used.

`from qa_assistant.ui import build_app` loads gradio; `qa_assistant.ui.render` and
`qa_assistant.ui.files` do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["build_app", "create_assistant", "launch", "render_answer", "respond"]

if TYPE_CHECKING:
    from qa_assistant.ui.app import build_app, create_assistant, launch, respond
    from qa_assistant.ui.render import render_answer


def __getattr__(name: str) -> Any:
    if name == "render_answer":
        from qa_assistant.ui.render import render_answer

        return render_answer
    if name in __all__:
        from qa_assistant.ui import app

        return getattr(app, name)
    raise AttributeError(name)
