"""Model registry documents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from li_campaign.schemas.provenance import Provenance


class HoldoutErrors(BaseModel):
    """Errors of the deployed model on frames it never saw in training or validation."""

    n_frames: int
    energy_mae_meV_atom: float
    energy_rmse_meV_atom: float
    force_mae_meV_A: float
    force_rmse_meV_A: float
    stress_mae_meV_A3: float | None = None


class ParityData(BaseModel):
    """DFT vs MLIP values for the parity plot (holdout frames; forces subsampled)."""

    dft_energy_per_atom_eV: list[float]
    mlip_energy_per_atom_eV: list[float]
    dft_force_components_eV_A: list[float]
    mlip_force_components_eV_A: list[float]


class ModelDoc(BaseModel):
    """A trained, packaged and (optionally) compiled model in the registry."""

    doc_type: Literal["model"] = "model"
    campaign: str
    architecture: str
    sha256: str = Field(..., description="sha256 of the deployed file (what the fan-out loads).")
    deployed_path: str = Field(..., description="Absolute path of the deployed file.")
    deploy_mode: Literal["aotinductor", "eager"]
    compile_target: str | None = Field(None, description="nequip-compile target, e.g. 'ase'; None for eager.")
    compile_device: str = "cpu"
    package_path: str
    package_sha256: str
    n_parameters: int | None = None
    split: dict[str, list[str]] = Field(..., description="frame_ids of the train, val and test sets.")
    hyperparameters: dict
    holdout: HoldoutErrors
    parity: ParityData
    training_wall_time_s: float
    deploy_wall_time_s: float
    provenance: Provenance
