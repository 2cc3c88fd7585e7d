"""Shared pieces of the campaign spec: the base of every section, the facet-list check, the relaxation and
MD-guard sections that several stages use, and lithium's melting point.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from li_campaign.core.miller import MillerIndex, facet_label, parse_miller


class SpecSection(BaseModel):
    """Base of all spec sections: strict fields, immutable, MSON-serializable.

    ``as_dict``/``from_dict`` let Makers that hold spec sections pass through jobflow and
    FireWorks serialization (both call ``as_dict`` on nested objects).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_dict(self) -> dict:
        """MSONable dict of the validated settings."""
        return {"@module": type(self).__module__, "@class": type(self).__name__, **self.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, data: dict):
        """Rebuild (and re-validate) from :meth:`as_dict` output."""
        return cls.model_validate({k: v for k, v in data.items() if not k.startswith("@")})


def facet_list(value: object) -> list[MillerIndex]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"must be a list of Miller indices such as [[1, 0, 0], '110'], got {value!r}")
    facets = [parse_miller(v) for v in value]
    labels = [facet_label(f) for f in facets]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise ValueError(f"facets {dupes} are listed twice (symmetry-equivalent indices count as one)")
    return facets


class RelaxSpec(SpecSection):
    """Geometry optimisation settings (ASE FIRE/BFGS)."""

    fmax_eV_A: float = Field(0.02, gt=0, le=1.0)
    max_steps: int = Field(400, ge=1)
    optimizer: Literal["BFGS", "FIRE", "LBFGS"] = "BFGS"


class MdGuardSpec(SpecSection):
    """Stability limits of an MD run (:class:`li_campaign.simulation.md_guard.MdGuard`).

    A run that crosses one stops; its job stores a flagged document (reason, last good
    frame) instead of a result, and the builders leave it out and count it.
    """

    min_distance_fraction: float = Field(
        0.5, gt=0, lt=1, description="Stop when two atoms are closer than this fraction of the bulk nearest-neighbour distance."
    )
    max_temperature_factor: float = Field(
        3.0, gt=1, description="Stop when the kinetic temperature exceeds this multiple of the target temperature."
    )
    max_energy_drift_eV_atom: float = Field(
        0.5, gt=0, description="Stop when (E_pot + E_kin)/N moves further than this from its start (eV/atom)."
    )
    max_force_eV_A: float = Field(10.0, gt=0, description="Stop when the force on one atom exceeds this (eV/Å): extrapolation.")
    check_every: int = Field(10, ge=1, description="MD steps between checks.")


LI_MELTING_POINT_K = 453.7
"""Melting point of bcc Li at ambient pressure (K, experiment: 180.5 °C, CRC Handbook of Chemistry and Physics)."""
MD_MAX_MELTING_FRACTION = 0.9
"""Adatom MD refuses temperatures at or above this fraction of :data:`LI_MELTING_POINT_K` (408.3 K): closer to
melting the surface itself disorders (premelting, vacancy–adatom pairs), so the tagged adatom's MSD no longer
measures adatom hopping on an ordered facet."""
