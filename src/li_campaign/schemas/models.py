"""Model registry documents."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from li_campaign.schemas.provenance import Provenance


class OriginErrors(BaseModel):
    """Errors of the model on the frames of one origin (bulk_strain, slab, aimd, …)."""

    n_frames: int
    energy_mae_meV_atom: float
    energy_rmse_meV_atom: float
    force_mae_meV_A: float
    force_rmse_meV_A: float


class HoldoutErrors(BaseModel):
    """Errors of the deployed model on frames it never saw in training or validation."""

    n_frames: int
    energy_mae_meV_atom: float
    energy_rmse_meV_atom: float
    force_mae_meV_A: float
    force_rmse_meV_A: float
    stress_mae_meV_A3: float | None = None
    by_origin: dict[str, OriginErrors] = Field(
        default_factory=dict, description="The same errors per frame origin (frames tagged by the training-set generator)."
    )


class EpochLoss(BaseModel):
    """One epoch of the learning curve, from nequip-train's Lightning metrics.csv."""

    epoch: int
    train_loss: float | None = Field(None, description="train_loss_epoch/weighted_sum (the balanced training loss).")
    val_loss: float | None = Field(None, description="val0_epoch/weighted_sum (the monitored validation loss).")
    learning_rate: float | None = Field(None, description="Adam learning rate during the epoch.")


class AdsorptionLabelError(BaseModel):
    """The model's error on the adsorption energy of one adatom training cell, against its clean slab.

    The teacher's value is E(cell) − n E(slab) − E_bulk with the labels of the cell, of the clean
    slab it was built from (n copies in-plane) and of the unstrained bulk cell (per atom); the
    model's is the same difference of its energies. The cell is rattled and its adatom sits at a
    scan height, so the value is not a relaxed adsorption energy; the error is what an adsorption
    energy of that environment sees, which a per-atom energy error hides.
    """

    frame_id: str = Field(..., description="The adatom cell.")
    slab_frame_id: str = Field(..., description="Its clean slab (one in-plane cell).")
    facet: str
    site: str = Field(..., description="Adsorption site as the fan-out labels it, e.g. hollow-0.")
    height_offset_A: float | None = Field(None, description="Offset of the adatom from the start height of the scan (Å).")
    repeats: int = Field(..., description="Copies n of the clean slab in the cell.")
    part: str = Field(..., description="The fit's split part of the adatom cell: train, val or test.")
    dft_eV: float = Field(..., description="The teacher's E(cell) − n E(slab) − E_bulk (eV).")
    error_eV: float = Field(..., description="Model minus teacher (eV).")


class ParityData(BaseModel):
    """DFT vs MLIP values for the parity plot (holdout frames; forces subsampled)."""

    dft_energy_per_atom_eV: list[float]
    mlip_energy_per_atom_eV: list[float]
    dft_force_components_eV_A: list[float]
    mlip_force_components_eV_A: list[float]


class TrainingDevices(BaseModel):
    """How a model was trained: on which devices, with which data-parallel strategy."""

    n_gpus: int = Field(..., description="GPUs trained on (mlip.n_gpus); 1 also on a CPU-only worker.")
    accelerator: str = Field(..., description="Lightning accelerator: 'gpu' or 'cpu'.")
    strategy: str = Field(..., description="Lightning strategy: 'single_device', or 'ddp' (nequip's SimpleDDPStrategy).")
    world_size: int = Field(..., description="Training processes (one per GPU with DDP).")
    per_device_batch_size: int = Field(..., description="Frames per batch on each device; the global batch is world_size times it.")
    device_names: list[str] = Field(default_factory=list, description="Names of the GPUs used (torch), empty on CPU.")
    cuda_visible_devices: str | None = Field(None, description="CUDA_VISIBLE_DEVICES of the training job (its pinned GPUs).")


class ModelDoc(BaseModel):
    """A trained, packaged and (optionally) compiled model in the registry."""

    doc_type: Literal["model"] = "model"
    campaign: str
    architecture: str = Field(..., description="nequip or allegro (mlip.architecture).")
    sha256: str = Field(..., description="sha256 of the deployed file (what the fan-out loads).")
    deployed_path: str = Field(..., description="Absolute path of the deployed file.")
    deploy_mode: Literal["aotinductor", "eager"]
    compile_target: str | None = Field(None, description="nequip-compile target, e.g. 'ase'; None for eager.")
    compile_device: str = "cpu"
    compile_gpu: str | None = Field(None, description="GPU the AOTInductor build was compiled on (None: CPU build or eager).")
    compile_torch: str | None = Field(None, description="torch version of the AOTInductor build (None: eager).")
    package_path: str
    package_sha256: str
    n_parameters: int | None = None
    split: dict[str, list[str]] = Field(..., description="frame_ids of the train, val and test sets.")
    energy_shift_eV: float | None = Field(
        None,
        description="Per-atom energy shift of the model: the teacher's isolated-atom energy (mlip.energy_shift "
        "isolated_atom), or None for nequip's mean per-atom energy of the training frames.",
    )
    hyperparameters: dict
    holdout: HoldoutErrors
    split_errors: dict[str, HoldoutErrors] = Field(
        default_factory=dict,
        description=(
            "Errors of the trained model (eager package) on its train, val and test frames, each with by_origin; "
            "the train errors per origin are checked against mlip.max_train_energy_mae_meV_atom."
        ),
    )
    adsorption_label_errors: list[AdsorptionLabelError] = Field(
        default_factory=list,
        description=(
            "The model's error on the adsorption energy of each adatom training cell against its clean slab "
            "(li_campaign.mlip.evaluate.adsorption_label_errors); empty without adatom cells."
        ),
    )
    learning_curve: list[EpochLoss] = Field(default_factory=list, description="Per-epoch train/val loss and learning rate.")
    epochs_trained: int | None = Field(None, description="Epochs run (early stopping may end before mlip.max_epochs).")
    loss_coeffs: dict[str, float] = Field(
        default_factory=dict, description="Coefficients of the energy, force and stress MSE terms used (before nequip's normalisation)."
    )
    stress_masked: list[str] = Field(
        default_factory=list, description="frame_ids whose stress was not trained on (cells with vacuum)."
    )
    parity: ParityData
    training_wall_time_s: float
    deploy_wall_time_s: float
    training_devices: TrainingDevices | None = Field(None, description="Devices and DDP setup of the training run.")
    provenance: Provenance
