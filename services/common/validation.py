"""JSON Schema validation on the hot path: compiled once, the same errors as before.

``jsonschema`` builds its checks as Python calls per keyword and value; for a form of
twenty fields that was about a quarter of the submissions service's time (``make bench``
profile). :class:`CompiledValidator` compiles the schema once more with ``jsonschema_rs``
(Rust, already pinned for the API fuzzing) and asks it first. Only when it says *invalid*
are the errors collected by ``jsonschema`` itself, so the error list — paths, keyword
codes, messages, order — is exactly the one the callers had before.

Formats are checked by the very functions of ``jsonschema``'s :class:`FormatChecker` (the
Rust built-ins differ in details, e.g. for e-mail addresses). Where the two engines could
still disagree, the Rust one is the stricter (its ``$`` does not match before a final
newline): then ``jsonschema`` finds no error and the input counts as valid, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError


def _format_functions(checker: FormatChecker) -> dict[str, Callable[[Any], bool]]:
    """Each format of the checker as a plain predicate for jsonschema_rs."""
    return {name: (lambda value, name=name: checker.conforms(value, name)) for name in checker.checkers}


class CompiledValidator:
    """A drop-in for ``Draft202012Validator(schema, format_checker=…)`` where ``is_valid``
    and ``iter_errors`` are what the callers use."""

    def __init__(self, schema: dict[str, Any], format_checker: FormatChecker | None = None):
        self.schema = schema
        self.slow = Draft202012Validator(schema, format_checker=format_checker)
        options: dict[str, Any] = {"validate_formats": False}
        if format_checker is not None:
            options = {"validate_formats": True, "formats": _format_functions(format_checker)}
        self.fast = jsonschema_rs.Draft202012Validator(schema, **options)

    def _fast_says_valid(self, instance: Any) -> bool:
        try:
            return self.fast.is_valid(instance)
        except ValueError:  # not a JSON value it can convert (a non-string key): ask jsonschema
            return False

    def is_valid(self, instance: Any) -> bool:
        return self._fast_says_valid(instance) or self.slow.is_valid(instance)

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        if self._fast_says_valid(instance):
            return iter(())
        return self.slow.iter_errors(instance)
