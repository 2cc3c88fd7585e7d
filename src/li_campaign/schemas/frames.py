"""Training frames: one DFT-labelled structure each."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from li_campaign.schemas.provenance import Provenance

FrameOrigin = Literal[
    "bulk_strain",
    "bulk_rattle",
    "vacancy",
    "slab",
    "adatom",
    "active_learning",
    "bulk_eos",
    "divacancy",
    "aimd",
    "liquid",
    "step",
    "validation",
    "isolated_atom",
]


class TrainingFrameDoc(BaseModel):
    """A DFT-labelled structure, the unit of the training set."""

    doc_type: Literal["training_frame"] = "training_frame"
    frame_id: str = Field(..., description="Stable id: <campaign>:<origin>:<index>.")
    origin: FrameOrigin = Field(..., description="What kind of configuration this is.")
    label: str = Field(..., description="Human-readable description, e.g. 'slab 110 + adatom'.")
    structure: Structure = Field(..., description="The labelled structure.")
    n_atoms: int
    energy_eV: float = Field(..., description="Total energy (eV).")
    energy_per_atom_eV: float
    forces_eV_A: list[list[float]] = Field(..., description="Forces, n_atoms x 3 (eV/Å).")
    stress_eV_A3: list[float] | None = Field(
        ...,
        description="Stress in ASE's convention and Voigt order xx yy zz yz xz xy (eV/Å^3); None for a slab "
        "labelled without it (a cell with vacuum, whose stress is never trained on).",
    )
    engine: str = Field(..., description="Labelling engine: gpaw or an analytic potential.")
    wall_time_s: float
    provenance: Provenance


class TrainingFrameBatchDoc(BaseModel):
    """The frames of one multi-step calculation (relaxation or MD), every ``stride``-th step."""

    doc_type: Literal["training_frames"] = "training_frames"
    frame_ids: list[str] = Field(..., description="Ids of the frames, in step order.")
    origin: FrameOrigin
    label: str = Field(..., description="The calculation, e.g. 'aimd 600 K'.")
    steps: list[int] = Field(..., description="Ionic step (0-based) of each frame.")
    n_steps: int = Field(..., description="Ionic steps the calculation made.")
    frames: list[TrainingFrameDoc]
    engine: str
    wall_time_s: float
    provenance: Provenance


class TrainingSetDoc(BaseModel):
    """The frames a campaign labelled (output of the collect job)."""

    doc_type: Literal["training_set"] = "training_set"
    campaign: str
    frame_ids: list[str]
    n_frames: int
    counts_by_origin: dict[str, int]
    provenance: Provenance
