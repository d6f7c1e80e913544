"""Errors raised by qa_assistant. Each message says what happened and what to do."""

from __future__ import annotations


class QAError(Exception):
    """Base class for every error the front ends show to the user as a message."""


class IngestError(QAError):
    """A file could not be read; the message names the file and the reason."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        # The reason alone, for reports that already show the file name.
        self.reason = reason or message.split(": ", 1)[-1]


class IndexMismatchError(QAError):
    """The index on disk was built with other settings than the configured ones."""


class IndexMissingError(QAError):
    """No index exists at the configured location."""


class ModelError(QAError):
    """An embedding model could not be found, converted or loaded."""


class DocumentNotFoundError(QAError):
    """A document id or path given by the user is not in the index."""


class PermissionDeniedError(QAError):
    """An organiser action was attempted without the organiser credential."""
