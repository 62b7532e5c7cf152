"""A "no" that a person reads: a staff phrase key and its values, not an English sentence.

Services raise ``Refused("faq.err_fields")`` (it is a ValueError, so callers that catch
ValueError keep working); the handler renders it in the reader's language with
``StaffWords.why(error)``. ``str()`` is the key and its values, for logs and tests.
"""

from __future__ import annotations


class Refused(ValueError):
    """Why a change was refused: staff phrase ``staff.<key>`` filled with ``values``."""

    def __init__(self, key: str, /, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values

    def __eq__(self, other: object) -> bool:  # the same reason, however often it is found
        return isinstance(other, Refused) and (self.key, self.values) == (other.key, other.values)

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return f"{self.key} {self.values}" if self.values else self.key
