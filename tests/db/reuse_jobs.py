"""A small real calculation that uses execution.reuse (in a module, so stored documents decode)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobflow import Maker, job
from pydantic import BaseModel

from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.execution.reuse import calculation_key, reuse_or_compute
from li_campaign.schemas.provenance import Provenance


class VolumeDoc(BaseModel):
    """Volume of the bcc cell of lattice constant ``a``."""

    doc_type: str = "volume"
    a: float
    volume_A3: float
    provenance: Provenance


@dataclass
class VolumeMaker(Maker):
    """Computes the cell volume; appends a line to ``counter`` each time it really computes."""

    name: str = "volume"
    counter: str = ""
    model_sha256: str = "m" * 64

    @job
    def make(self, a: float) -> VolumeDoc:
        """Return the volume document, reusing a stored identical calculation."""
        cell = bcc_li_conventional(a)
        digest = structure_hash(cell)
        provenance = Provenance(
            campaign="reuse",
            spec_hash="s" * 64,
            model_sha256=self.model_sha256,
            structure_hash=digest,
            calc_key=calculation_key("volume", digest, self.model_sha256, {"a": a}),
        )

        def compute() -> VolumeDoc:
            with Path(self.counter).open("a") as handle:
                handle.write(f"{a}\n")
            return VolumeDoc(a=a, volume_A3=cell.volume, provenance=provenance)

        return reuse_or_compute(provenance, compute)
