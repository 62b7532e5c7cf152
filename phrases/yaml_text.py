"""YAML parsing for every data file the bot reads (FAQ, phrases, lexicons, the shop file).

libyaml's C loader when PyYAML was built with it (4x faster on the demo FAQ: every start and
every test reads these files), else the pure-Python one; both accept the same safe subset.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(stream: str | bytes | IO[str]) -> Any:
    """Like ``yaml.safe_load``: plain data only, never Python objects."""
    return yaml.load(stream, Loader=_Loader)
