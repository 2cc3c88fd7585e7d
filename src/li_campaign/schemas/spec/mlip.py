"""Spec sections of the MLIP fit: model size, training schedule, loss, split, Allegro (``mlip``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SerializerFunctionWrapHandler, ValidationInfo, field_validator, model_serializer, model_validator

from li_campaign.schemas.spec.base import SpecSection


class SplitSpec(SpecSection):
    """Fractions of frames for training, validation and the holdout test."""

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)
    stratify_min_frames: int = Field(
        5,
        ge=3,
        description=(
            "The split is stratified by frame origin: each origin with at least this many frames is split on its "
            "own in the proportions above (at least one frame in val and in test), so every such origin is in "
            "train, val and test; smaller origins are pooled and the pool split the same way (all in train if "
            "it has fewer than 3 frames)."
        ),
    )

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitSpec:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {self.train + self.val + self.test:.3f}")
        return self


_Nonlinearity = Literal["silu", "mish", "gelu"] | None


class AllegroSpec(SpecSection):
    """Allegro-only hyperparameters (``mlip.architecture: allegro``), the arguments of ``allegro.model.AllegroModel``.

    Allegro (nequip-allegro 0.8.3) is strictly local: every atom's energy is a sum over its
    edges within ``mlip.r_max_A``, so its receptive field is r_max whatever the number of layers
    and it scales to very large cells (no message passing between GPUs' domains). What it shares
    with NequIP comes from :class:`MlipSpec`: ``r_max_A`` (``r_max``), ``num_layers``, ``l_max``,
    ``parity``, ``seed``, ``precision`` (``model_dtype``), and the data statistics and energy
    reference set the same way for both (``avg_num_neighbors`` = the training frames' mean
    neighbour count, ``per_type_energy_scales`` = their force RMS, ``per_type_energy_shifts`` =
    ``mlip.energy_shift``, neither trainable; the ZBL pair term). Allegro's
    ``weight_individual_irreps`` and ``forward_normalize`` (weight initialisation) stay at
    allegro's defaults, True and True (of the former its model builder says "best to use
    defaults").

    The defaults give a model of the NequIP defaults' size (9.1k parameters against NequIP's 8.7k;
    2 layers, l_max 1, parity off, 32 scalar and 8 tensor features) for the same small training
    sets; they are not yet tuned by measurement (issue 20's side-by-side benchmark is to do that).
    """

    num_scalar_features: int = Field(
        32,
        ge=4,
        le=1024,
        description="AllegroModel num_scalar_features: multiplicity of the scalar (invariant) edge features of the "
        "Allegro layers, also the output width of the two-body radial-chemical embedding (allegro's default 64).",
    )
    num_tensor_features: int = Field(
        8,
        ge=1,
        le=256,
        description="AllegroModel num_tensor_features: multiplicity of the tensor (equivariant, up to l_max) edge "
        "features of the Allegro layers (allegro's default 16).",
    )
    num_bessels: int = Field(
        8,
        ge=2,
        le=32,
        description="radial_chemical_embed (allegro.nn.TwoBodyBesselScalarEmbed) num_bessels: Bessel functions "
        "encoding each edge length (allegro's default 8; NequIP's radial basis has 8 as well).",
    )
    bessel_trainable: bool = Field(
        False, description="TwoBodyBesselScalarEmbed bessel_trainable: train the Bessel roots (allegro's default False)."
    )
    polynomial_cutoff_p: int = Field(
        6,
        ge=2,
        le=12,
        description="TwoBodyBesselScalarEmbed polynomial_cutoff_p: exponent of the polynomial envelope that takes "
        "each edge to 0 at r_max (smaller p decays faster; 6 as in allegro and in NequIP).",
    )
    radial_chemical_embed_dim: int | None = Field(
        None,
        ge=4,
        le=1024,
        description="AllegroModel radial_chemical_embed_dim: output width of the radial-chemical embedding "
        "(None: num_scalar_features, allegro's default).",
    )
    two_body_mlp_depth: int = Field(
        1,
        ge=1,
        le=4,
        description="AllegroModel scalar_embed_mlp_hidden_layers_depth: hidden layers of the two-body MLP applied "
        "to the radial-chemical embedding (allegro's default 1).",
    )
    two_body_mlp_width: int = Field(
        32,
        ge=4,
        le=1024,
        description="AllegroModel scalar_embed_mlp_hidden_layers_width: width of those hidden layers (allegro's default 64).",
    )
    two_body_mlp_nonlinearity: _Nonlinearity = Field(
        "silu", description="AllegroModel scalar_embed_mlp_nonlinearity: silu, mish, gelu or None (linear)."
    )
    allegro_mlp_depth: int = Field(
        1,
        ge=1,
        le=4,
        description="AllegroModel allegro_mlp_hidden_layers_depth: hidden layers of each Allegro layer's scalar "
        "MLP (allegro's default 1).",
    )
    allegro_mlp_width: int = Field(
        16,
        ge=4,
        le=1024,
        description="AllegroModel allegro_mlp_hidden_layers_width: width of those hidden layers (allegro suggests "
        "num_scalar_features; 16 keeps the default model at the NequIP default's size).",
    )
    allegro_mlp_nonlinearity: _Nonlinearity = Field(
        "silu", description="AllegroModel allegro_mlp_nonlinearity: silu, mish, gelu or None (linear)."
    )
    tp_path_channel_coupling: bool = Field(
        True,
        description="AllegroModel tp_path_channel_coupling: tensor-product weights couple paths and channels "
        "(allegro's default; expected to be more expressive than False).",
    )
    readout_mlp_depth: int = Field(
        1,
        ge=1,
        le=4,
        description="AllegroModel readout_mlp_hidden_layers_depth: hidden layers of the MLP that reads each edge's "
        "energy out of its scalar features (allegro's default 1).",
    )
    readout_mlp_width: int = Field(
        16,
        ge=4,
        le=1024,
        description="AllegroModel readout_mlp_hidden_layers_width: width of those hidden layers (allegro's default 32).",
    )
    readout_mlp_nonlinearity: _Nonlinearity = Field(
        "silu", description="AllegroModel readout_mlp_nonlinearity: silu, mish, gelu or None (linear)."
    )


class MlipSpec(SpecSection):
    """Model (NequIP or Allegro), training and deployment settings."""

    architecture: Literal["nequip", "allegro"] = Field(
        "nequip",
        description=(
            "nequip: NequIPGNNModel (message passing: each layer widens the receptive field by r_max). allegro: "
            "allegro.model.AllegroModel (nequip-allegro), strictly local (receptive field r_max), which scales to "
            "very large cells; its own hyperparameters are the allegro section. Both are fitted, packaged, "
            "compiled and loaded by the same nequip tools, on the same frames, loss and split."
        ),
    )
    allegro: AllegroSpec | None = Field(
        None,
        description="Allegro-only hyperparameters (AllegroSpec); only with architecture allegro, where it defaults to "
        "AllegroSpec() when left out.",
    )
    r_max_A: float = Field(
        6.0,
        gt=2.0,
        le=10.0,
        description=(
            "Cutoff radius (Å). NequIP multiplies every edge by a polynomial envelope (p = 6) that is already "
            "~0 near r_max: with 5.0 Å bcc Li's third shell (4.86 Å, 12 neighbours) had weight 0.001, i.e. the "
            "model saw only the first two shells; 6.0 Å gives it weight 0.18 (fourth and fifth shells 0.006 "
            "and 0.000) at 58 instead of 26 neighbours per atom (benchmarks/rmax_shells.py, "
            "benchmarks/results/rmax_shells_2026-12-03.txt). Adatom images should be at least r_max apart."
        ),
    )
    num_layers: int = Field(
        2,
        ge=1,
        le=6,
        description=(
            "Interaction layers (NequIP and Allegro num_layers; Allegro's layers do not widen its receptive field "
            "beyond r_max). NequIP: 2 layers x 6 Å see 12 Å, several layers of a slab; with l_max 1, 16 features and "
            "parity off the model has about 9k parameters and trains at 1.5-2.3 s per epoch of 120 frames on 2 CPU "
            "cores (shared/notes/stack_science.md), small enough for a 44-frame demo set not to be over-fitted "
            "by size alone; the tutorial size (4 layers, 32 features, parity on, 417k parameters) is 4x slower."
        ),
    )
    l_max: int = Field(
        1, ge=0, le=3, description="Highest rotation order of the equivariant features (NequIP and Allegro l_max)."
    )
    num_features: int = Field(
        16,
        ge=4,
        le=256,
        description="NequIP only: features per irrep (Allegro: allegro.num_scalar_features and num_tensor_features).",
    )
    parity: bool = Field(False, description="Keep features of both mirror parities (NequIP and Allegro parity).")
    radial_mlp_depth: int = Field(1, ge=1, le=4, description="NequIP only: hidden layers of the radial MLP.")
    radial_mlp_width: int = Field(32, ge=8, le=256, description="NequIP only: width of the radial MLP.")
    max_epochs: int = Field(
        1000,
        ge=1,
        description=(
            "Upper limit of epochs; training normally ends earlier by early stopping (early_stopping_patience). "
            "The former fixed 200 epochs of batch 4 (1.8 k steps at a constant learning rate) stopped while the "
            "validation loss was still falling."
        ),
    )
    batch_size: int = Field(4, ge=1)
    learning_rate: float = Field(0.005, gt=0, description="Initial Adam learning rate (reduced on plateaus).")
    lr_plateau_factor: float = Field(
        0.5, gt=0, lt=1, description="ReduceLROnPlateau: multiply the learning rate by this when the validation loss stalls."
    )
    lr_plateau_patience: int = Field(
        20, ge=1, description="ReduceLROnPlateau: epochs without a better validation loss before the learning rate is cut."
    )
    min_learning_rate: float = Field(1e-5, gt=0, description="ReduceLROnPlateau: the learning rate is not cut below this.")
    early_stopping_patience: int | None = Field(
        60,
        ge=1,
        description=(
            "Stop when the validation loss (val0_epoch/weighted_sum) has not improved for this many epochs, i.e. "
            "after about three learning-rate cuts without progress (None: always run max_epochs). The best "
            "checkpoint by that loss is the one deployed."
        ),
    )
    loss_coeffs: dict[Literal["total_energy", "forces", "stress"], float] | None = Field(
        None,
        description=(
            "Explicit weights of the per-atom energy, force and stress MSE terms (nequip normalises them to sum "
            "1). None (default): balanced from the training labels, coefficient = loss_balance / scale^2 with "
            "scale the spread of the label (std of the energy per atom, RMS force and RMS stress component, "
            "li_campaign.mlip.dataset.label_scales): at the start of training each term's MSE is about its "
            "scale^2, so each contributes its loss_balance share and none dominates. The former fixed 10/1/1000 "
            "gave stress 98.9 % of the weight (on the demo data stress weight 1 had given a0 = 3.335 Å: the "
            "stress term must not be negligible either, which the balance also ensures)."
        ),
    )
    loss_balance: dict[Literal["total_energy", "forces", "stress"], float] = Field(
        default_factory=lambda: {"total_energy": 1.0, "forces": 1.0, "stress": 1.0},
        description="Relative share of each loss term at the start of training (used when loss_coeffs is None).",
    )

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        """The fields, less ``allegro`` when it is None (a NequIP spec).

        The fit's reuse key hashes the spec's ``str`` (jsanitize of a pydantic model); leaving
        the absent Allegro section out keeps the keys of NequIP fits stored before it existed.
        """
        return [(name, value) for name, value in super().__repr_args__() if name != "allegro" or value is not None]

    @model_serializer(mode="wrap")
    def _without_absent_allegro(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """The dump, less ``allegro`` when it is None: NequIP specs keep the ``spec_hash`` they had before it."""
        dump = handler(self)
        if dump.get("allegro", 0) is None:
            dump.pop("allegro")
        return dump

    @model_validator(mode="before")
    @classmethod
    def _allegro_defaults(cls, data: object) -> object:
        """With architecture allegro and no allegro section, the section's defaults."""
        if isinstance(data, dict) and data.get("architecture") == "allegro" and data.get("allegro") is None:
            return {**data, "allegro": {}}
        return data

    @field_validator("allegro")
    @classmethod
    def _allegro_only_with_allegro(cls, value: AllegroSpec | None, info: ValidationInfo) -> AllegroSpec | None:
        architecture = info.data.get("architecture")
        if value is not None and architecture != "allegro":
            raise ValueError(
                f"Allegro hyperparameters are only used with mlip.architecture: allegro (it is {architecture!r}); "
                "set architecture: allegro or remove the allegro section"
            )
        return value

    @model_validator(mode="after")
    def _loss_terms(self) -> MlipSpec:
        for name in ("loss_coeffs", "loss_balance"):
            value = getattr(self, name)
            missing = sorted({"total_energy", "forces", "stress"} - set(value or {"total_energy", "forces", "stress"}))
            if missing:
                raise ValueError(f"{name} needs a weight for each of total_energy, forces, stress; missing {missing}")
            if value and any(v < 0 for v in value.values()):
                raise ValueError(f"{name}: weights must not be negative, got {value}")
        return self
    energy_shift: Literal["isolated_atom", "mean"] = Field(
        "isolated_atom",
        description=(
            "Per-atom energy shift of the model (nequip per_type_energy_shifts), i.e. the energy of an atom "
            "with no neighbour. isolated_atom: the teacher's isolated-atom frame (training_set.isolated_atom_box_A), "
            "so the model's binding comes from its neighbours and an under-coordinated atom (an adatom) starts "
            "high. mean: the mean per-atom energy of the training frames (nequip's default), which makes an "
            "atom with few neighbours bulk-like: on the demo's own GPAW adatom frames that model's adsorption "
            "energies were flat at 0.0-0.25 eV where the labels rise from 0.1 to 1.3 eV with height "
            "(benchmarks/results/fit_adatom_eads_2026-12-04.txt)."
        ),
    )
    max_train_energy_mae_meV_atom: float | None = Field(
        20.0,
        gt=0,
        description=(
            "A fit whose training-set energy MAE on any frame origin is above this (meV/atom) fails, naming the "
            "origin and its errors (None: no check). 20 meV/atom is about the spread of adsorption energies "
            "between sites that the fan-out must resolve; the 2026-12 demo fit had 26 meV/atom on its adatom "
            "frames (issue 17) while bulk frames were at 2-4."
        ),
    )
    max_train_force_mae_meV_A: float | None = Field(
        None,
        gt=0,
        description="The same check on the training-set force MAE per origin (meV/Å); None: no check.",
    )
    seed: int = 456
    split: SplitSpec = SplitSpec()
    deploy: Literal["aotinductor", "eager"] = Field(
        "aotinductor", description="aotinductor: nequip-compile a .nequip.pt2; eager: load the packaged .nequip.zip."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description=(
            "Where to train and compile: auto = the worker's GPU when it has one (the model is then compiled "
            "for that GPU type), else the CPU."
        ),
    )
    precision: Literal["float32", "float64"] = Field("float32", description="Model dtype (nequip model_dtype).")
    gpu_batch_size: int | None = Field(
        None, ge=1, description="Training batch size when training on a GPU (None: batch_size, as on the CPU)."
    )
    n_gpus: int = Field(
        1,
        ge=1,
        description=(
            "GPUs to train on. Above 1: data-parallel training (DDP, nequip's SimpleDDPStrategy) with one "
            "process per GPU on one node; the batch size is per GPU, so the global batch is n_gpus times it. "
            "The fit job asks the runner for that many GPUs and refuses to start with fewer visible."
        ),
    )
