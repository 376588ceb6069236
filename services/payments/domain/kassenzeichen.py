"""Kassenzeichen: the number the municipal cash office books a receivable by, unique per
tenant, from a pattern each tenant may configure.

Why this shape: numbers come from one sequence aggregate per tenant (and year, when the
pattern shows the year), saved with the receivable it numbers, so two receivables can never
get the same number (the second save conflicts and is retried). A rejected save may leave
a gap, as paper registers do.
"""

from __future__ import annotations

import re
import string
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError, text
from services.payments.domain.payment import PAYMENT_NAMESPACE

#: CLP-K2026-000017: the tenant code, K for Kasse (unlike the case's CLP-2026-000017), the year, a number.
DEFAULT_PATTERN = "{code}-K{year}-{seq:06d}"
FIELDS = frozenset({"code", "ags", "year", "yy", "seq"})
YEARLY = frozenset({"year", "yy"})
#: Short enough that "KZ <Kassenzeichen>" fits a 27-character remittance line.
LIMIT = 24
CHARACTERS = re.compile(r"[A-Za-z0-9./-]+")


def pattern_fields(pattern: str) -> set[str]:
    """The placeholders of a pattern; ``invalid_parameter`` unless it is one we can fill."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError:
        names = {""}
    if not names <= FIELDS or "seq" not in names:
        raise DomainError("invalid_parameter", name="kassenzeichen_pattern", detail=text("one_of", choices=", ".join(sorted(FIELDS))))
    return names


def scope(pattern: str, year: int) -> int:
    """Which sequence numbers a pattern: one per year if it shows the year, else one for ever (0)."""
    return year if pattern_fields(pattern) & YEARLY else 0


def format_kassenzeichen(pattern: str, *, ags: str, code: str, year: int, seq: int) -> str:
    pattern_fields(pattern)
    value = pattern.format(code=code, ags=ags, year=year, yy=f"{year % 100:02d}", seq=seq)
    if not (0 < len(value) <= LIMIT and CHARACTERS.fullmatch(value)):
        raise DomainError("invalid_parameter", name="kassenzeichen_pattern", detail=text("text_max", limit=LIMIT))
    return value


class KassenzeichenSequence(Aggregate):
    """Hands out the numbers of one tenant (per year, or for ever: ``scope`` 0)."""

    @staticmethod
    def create_id(tenant: str, scope: int) -> UUID:
        return uuid5(PAYMENT_NAMESPACE, f"kassenzeichen|{tenant}|{scope}")

    @event("Started")
    def __init__(self, tenant: str, scope: int) -> None:
        self.tenant = tenant
        self.scope = scope
        self.last = 0

    def next_number(self) -> int:
        self._allocated(self.last + 1)
        return self.last

    @event("Allocated")
    def _allocated(self, number: int) -> None:
        self.last = number
