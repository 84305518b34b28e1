"""The labelled captions shipped in `datasets/`: the generator draws from them, the model is measured on them."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from riskstream.core import paths


@dataclass(frozen=True)
class LabelledCaption:
    text: str
    labels: tuple[str, ...]

    @property
    def unsafe(self) -> bool:
        return bool(self.labels)


def load(path: Path = paths.LABELLED_CAPTIONS) -> list[LabelledCaption]:
    with Path(path).open(newline="") as fh:
        return [LabelledCaption(row["text"], tuple(t for t in row["labels"].split("|") if t))
                for row in csv.DictReader(fh)]
