"""What every filter is: it sees the run's segments, then judges each (source, output, language)."""

from __future__ import annotations

from typing import Any

from ...languages import Language


class Filter:
    name = "filter"

    def prepare(self, segments: list[tuple[str, str, Language]], groups: dict[str, str] | None = None) -> None:
        """See every (source, output, language) of the run before the first ``passes``: for filters that score in batches.

        ``groups`` maps each English source to its passage, for filters that compare within one.
        """

    def passes(self, source: str, output: str, language: Language) -> bool:
        raise NotImplementedError

    def report(self) -> dict[str, Any] | None:
        """What the filter measured, for the manifest (None: nothing beyond the failure counts)."""
        return None
