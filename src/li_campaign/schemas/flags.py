"""Flagged results: a calculation that was stopped as unphysical is stored as such, never as a result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.registry import FLAGGED_DOC_TYPE

if TYPE_CHECKING:
    from li_campaign.core.errors import MdInstabilityError


class FlaggedResultDoc(BaseModel):
    """A calculation stopped by a stability check (e.g. an MD run that exploded), with why and where.

    A Maker returns this instead of its result document; the job completes, so the rest of
    the campaign goes on, and ``li-campaign build`` reports how many results of each kind were
    excluded as flagged.
    """

    doc_type: Literal["flagged"] = FLAGGED_DOC_TYPE
    flagged: Literal[True] = True
    result_doc_type: str = Field(..., description="doc_type of the result this calculation would have made.")
    flag_kind: str = Field(..., description="Which check failed: see li_campaign.simulation.md_guard.KINDS.")
    flag_reason: str = Field(..., description="What was seen, with the value and the limit.")
    step: int = Field(..., description="MD step at which the check failed.")
    context: dict = Field(default_factory=dict, description="Where: e.g. temperature_K and the run's name.")
    last_good_structure: Structure | None = Field(None, description="The atoms at the last check that passed.")
    last_good_step: int | None = None
    provenance: Provenance

    @classmethod
    def from_instability(
        cls, result_doc_type: str, error: MdInstabilityError, provenance: Provenance, **context: object
    ) -> FlaggedResultDoc:
        """Return the flagged document of an :class:`~li_campaign.simulation.md_guard.MdInstabilityError`.

        Parameters
        ----------
        result_doc_type
            The ``doc_type`` of the result that was not made, e.g. ``"finite_temperature"``.
        error
            The guard's error (its reason and last good frame are stored).
        provenance
            Provenance of the calculation.
        **context
            Stored in :attr:`context` (JSON values).
        """
        # deferred: pymatgen.io.ase imports ase, which the schemas do not otherwise need
        from pymatgen.io.ase import AseAtomsAdaptor

        last = None if error.last_good is None else AseAtomsAdaptor.get_structure(error.last_good)
        return cls(
            result_doc_type=result_doc_type,
            flag_kind=error.kind,
            flag_reason=error.reason,
            step=error.step,
            context=dict(context),
            last_good_structure=last,
            last_good_step=error.last_good_step,
            provenance=provenance,
        )
