"""Benchmark harness for issue #7: ``python -m bench``.

Scenario A pits our pipeline against a naive sequential baseline and dlt's ``rest_api``
source on a slow, rate-limited, faulty simulated API. Scenario B measures scale: end to
end at up to a million customers, the transform alone against an orjson parse floor, and
how time and peak RSS per record grow with N.

Every contender and the simulator run in their own processes. The harness prints a
markdown table and writes it, with the machine it ran on, to ``bench/results.md``.
"""

from __future__ import annotations

__all__: list[str] = []
