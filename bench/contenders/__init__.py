"""The contenders of Scenario A: ours, the naive baseline, and dlt's ``rest_api`` source."""

from __future__ import annotations

from .base import Contender, FetchResult, Target
from .dlt_rest import DltRestApi, dlt_python, setup_dlt_venv
from .naive import NaiveBaseline
from .ours import OurPipeline, pipeline_missing

__all__ = [
    "Contender",
    "DltRestApi",
    "FetchResult",
    "NaiveBaseline",
    "OurPipeline",
    "Target",
    "dlt_python",
    "pipeline_missing",
    "setup_dlt_venv",
]
