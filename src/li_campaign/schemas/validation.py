"""Teacher spot checks of a deployed model's fan-out results (:mod:`li_campaign.validation`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import RelaxSpec

ORIGIN = "validation"
"""Origin of the teacher's spot-check frames in the training store (not part of any fitted set)."""

Quantity = Literal[
    "adsorption_energy", "relaxed_adsorption_energy", "barrier", "surface_energy", "lattice_constant", "bulk_modulus"
]
"""What a spot check compares."""

UNITS: dict[str, str] = {
    "adsorption_energy": "eV",
    "relaxed_adsorption_energy": "eV",
    "barrier": "eV",
    "surface_energy": "J/m2",
    "lattice_constant": "A",
    "bulk_modulus": "GPa",
}
"""Unit of each quantity's values, errors and thresholds."""


class LabelRequest(BaseModel):
    """One structure the teacher labels for the spot checks."""

    name: str = Field(..., description="Key of the frame within the plan, e.g. '110:site:hollow-0'.")
    structure: Structure
    slab: bool = Field(..., description="Slab cell (one k-point along the normal).")
    label: str = Field(..., description="Human-readable description, stored on the frame.")
    relax: bool = Field(
        False, description="Relaxed from this geometry (teacher and model alike); the final energy counts."
    )


class PlannedCheck(BaseModel):
    """A spot check before the teacher's labels exist: which frames it needs and how they combine.

    ``frames`` by quantity: adsorption_energy and relaxed_adsorption_energy ``[slab + adatom,
    clean slab]`` (the latter's frames are relaxation requests); barrier the band's
    images in order; surface_energy ``[slab]``. Every energy uses the bulk frame ``"bulk"``
    (the 2-atom cube at the model's lattice constant) as ε_bulk, for model and teacher alike.
    """

    quantity: Quantity
    facet: str | None = None
    item: str = Field(..., description="Site label, hop path label, 'slab' or 'bcc'.")
    geometry: str = Field(..., description="Where the geometry comes from (the model's relaxed structures).")
    frames: list[str] = Field(default_factory=list)
    model_reported: float | None = Field(None, description="The value in the fan-out document (eV, J/m², Å or GPa).")
    area_A2: float | None = Field(None, description="Surface energy: the slab's area (Å²).")
    n_atoms: int | None = Field(None, description="Atoms of the largest cell the check labels.")
    skip_reason: str | None = Field(None, description="Set when the check cannot be run (listed as skipped).")


class SpotCheckPlan(BaseModel):
    """Every planned check of one model and the frames they need."""

    checks: list[PlannedCheck]
    requests: list[LabelRequest]
    notes: list[str] = Field(default_factory=list)
    relax: RelaxSpec | None = Field(None, description="Settings of the relaxation requests (validation.relax).")


class TeacherEnergy(BaseModel):
    """The teacher's total energy of one planned frame."""

    energy_eV: float
    n_atoms: int
    frame_id: str


class SpotCheck(BaseModel):
    """One quantity recomputed by the teacher at the model's geometry."""

    quantity: Quantity
    facet: str | None = None
    item: str
    unit: str
    geometry: str
    model: float | None = Field(None, description="The model's value at the checked geometry (same frames as dft).")
    model_reported: float | None = Field(None, description="The value in the fan-out document.")
    dft: float | None = Field(None, description="The teacher's value at the same geometry.")
    error: float | None = Field(None, description="model − dft.")
    threshold: float = Field(..., description="Largest |error| that passes (spec section validation).")
    status: Literal["pass", "fail", "refused", "skipped"]
    reason: str | None = Field(None, description="Why the check failed, was refused or was skipped.")
    frame_ids: list[str] = Field(default_factory=list, description="The teacher's frames of this check.")
    n_atoms: int | None = None


class ValidationDoc(BaseModel):
    """The teacher spot checks of one deployed model (collection ``validation``)."""

    doc_type: Literal["validation"] = "validation"
    campaign: str
    model_sha256: str
    engine: str = Field(..., description="The teacher: the campaign's DFT engine (labels' settings).")
    checks: list[SpotCheck]
    passed: bool = Field(
        ..., description="At least one check, and every check passed (none failed, refused or skipped)."
    )
    n_checks: int
    n_passed: int
    n_failed: int
    n_refused: int
    n_skipped: int
    thresholds: dict[str, float] = Field(..., description="Quantity -> tolerance, from the spec.")
    frame_ids: list[str] = Field(
        default_factory=list, description="Teacher frames (origin 'validation') offered for training; refused ones not."
    )
    refused_frames: dict[str, str] = Field(default_factory=dict, description="Frame id -> why it was refused.")
    notes: list[str] = Field(default_factory=list)
    plan: SpotCheckPlan | None = Field(
        None, description="The planned checks and their structures (large-data store), to check other models on them."
    )
    teacher_energies: dict[str, TeacherEnergy] = Field(
        default_factory=dict, description="Plan frame name -> the teacher's label of it (every labelled frame)."
    )
    provenance: Provenance
