"""Exceptions raised by the classifier package: one family, each with a code."""

from __future__ import annotations


class ClassifierError(Exception):
    """Base class; `code` is a stable identifier a caller can act on."""

    code = "classifier_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TaxonomyError(ClassifierError):
    """taxonomy.yaml is missing or invalid; the message names file, key and reason."""

    code = "taxonomy_invalid"


class ArtefactError(ClassifierError):
    """A classifier artefact is missing, incomplete or does not match its manifest."""

    code = "artefact_invalid"


class RequestError(ClassifierError, ValueError):
    """A request to classify has no usable text (no prompt, no user turn)."""

    code = "request_invalid"
