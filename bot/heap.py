"""The cyclic garbage collector of a serving process (measured with bench/bench_pipeline.py).

Under load the collector was about a fifth of the bot's CPU. Two causes, two settings:

* **Full passes walked the start-up heap.** ~500k objects (the matcher's index, routers,
  pydantic models, mappers) live as long as the process; :func:`gc.freeze` moves them out of
  the collector's sight once start-up is done (0.6 ms per message less, bench_pipeline).
* **Young passes ran every 700 allocations.** A hundred updates in flight keep their
  sessions, rows and aiogram objects alive across awaits, so each young pass walked the same
  live set again: 550 passes for 2,000 messages. At 10,000 allocations it is 17 passes and a
  quarter of the time (0.3 ms per message less); a pass is then ~10 ms, far below a reply's
  budget. Garbage is still freed at once by reference counting; only cycles wait longer.
"""

from __future__ import annotations

import gc

#: Allocations (net of frees) between two young-generation passes; CPython's default is 700.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Call once start-up is done, before serving: collect, freeze what lives on, and let the
    young generation grow before each pass (the older generations keep their defaults)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
