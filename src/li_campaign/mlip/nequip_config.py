"""The nequip-train (Hydra) config built from :class:`~li_campaign.schemas.spec.MlipSpec`."""

from __future__ import annotations

import math
from pathlib import Path

from ase.io import read

from li_campaign.mlip.dataset import label_scales
from li_campaign.mlip.ddp import trainer_devices
from li_campaign.mlip.device import resolve_device
from li_campaign.schemas.spec import MlipSpec


MONITOR = "val0_epoch/weighted_sum"
"""The validation loss: checkpointing, the learning-rate schedule and early stopping watch it."""

_METRICS = "li_campaign.mlip.nequip_metrics"

ZBL = {"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal", "chemical_species": ["Li"]}
"""The ZBL pair term that both architectures add (the repulsion of atoms pushed close together); the
training config takes its species from the config's type names."""


def architecture_config(mlip: MlipSpec) -> dict:
    """The model builder of ``mlip.architecture`` and its hyperparameters (no data statistics, species or cutoff).

    ``nequip``: ``nequip.model.NequIPGNNModel``; ``allegro``: ``allegro.model.AllegroModel``
    (nequip-allegro) with its two-body radial-chemical embedding
    ``allegro.nn.TwoBodyBesselScalarEmbed``, every argument from ``mlip.allegro``
    (:class:`~li_campaign.schemas.spec.AllegroSpec`). Both take ``seed``, ``model_dtype``,
    ``num_layers``, ``l_max`` and ``parity`` from ``mlip``.

    Parameters
    ----------
    mlip
        Model settings.

    Returns
    -------
    dict
        ``_target_`` and keyword arguments of the builder; the caller adds ``type_names``, ``r_max``,
        ``avg_num_neighbors``, ``per_type_energy_scales``, ``per_type_energy_shifts`` and ``pair_potential``.
    """
    common = {
        "seed": mlip.seed,
        "model_dtype": mlip.precision,
        "num_layers": mlip.num_layers,
        "l_max": mlip.l_max,
        "parity": mlip.parity,
    }
    if mlip.architecture == "nequip":
        return {
            "_target_": "nequip.model.NequIPGNNModel",
            **common,
            "num_features": mlip.num_features,
            "radial_mlp_depth": mlip.radial_mlp_depth,
            "radial_mlp_width": mlip.radial_mlp_width,
        }
    allegro = mlip.allegro
    return {
        "_target_": "allegro.model.AllegroModel",
        **common,
        "radial_chemical_embed": {
            "_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
            "num_bessels": allegro.num_bessels,
            "bessel_trainable": allegro.bessel_trainable,
            "polynomial_cutoff_p": allegro.polynomial_cutoff_p,
        },
        "radial_chemical_embed_dim": allegro.radial_chemical_embed_dim,
        "scalar_embed_mlp_hidden_layers_depth": allegro.two_body_mlp_depth,
        "scalar_embed_mlp_hidden_layers_width": allegro.two_body_mlp_width,
        "scalar_embed_mlp_nonlinearity": allegro.two_body_mlp_nonlinearity,
        "num_scalar_features": allegro.num_scalar_features,
        "num_tensor_features": allegro.num_tensor_features,
        "allegro_mlp_hidden_layers_depth": allegro.allegro_mlp_depth,
        "allegro_mlp_hidden_layers_width": allegro.allegro_mlp_width,
        "allegro_mlp_nonlinearity": allegro.allegro_mlp_nonlinearity,
        "tp_path_channel_coupling": allegro.tp_path_channel_coupling,
        "readout_mlp_hidden_layers_depth": allegro.readout_mlp_depth,
        "readout_mlp_hidden_layers_width": allegro.readout_mlp_width,
        "readout_mlp_nonlinearity": allegro.readout_mlp_nonlinearity,
    }


def read_scales(files: dict[str, Path]) -> dict[str, dict[str, float | None]]:
    """:func:`~li_campaign.mlip.dataset.label_scales` of each extxyz file (NaN stress = masked)."""
    scales = {}
    for part, path in files.items():
        frames = read(path, index=":", format="extxyz")
        for atoms in frames:
            atoms.info["stress_masked"] = bool(not math.isfinite(float(atoms.get_stress(voigt=True)[0])))
        scales[part] = label_scales(frames)
    return scales


def loss_coefficients(mlip: MlipSpec, scales: dict[str, float | None]) -> dict[str, float]:
    """Coefficients of the energy, force and stress MSE terms.

    ``mlip.loss_coeffs`` if set, else ``loss_balance[term] / scale[term]**2`` (a term whose label
    is absent from the training set, i.e. no stress, gets 0).
    """
    if mlip.loss_coeffs is not None:
        return dict(mlip.loss_coeffs)
    return {
        term: (mlip.loss_balance[term] / scales[term] ** 2 if scales[term] else 0.0)
        for term in ("total_energy", "forces", "stress")
    }


def _loss(coeffs: dict[str, float]) -> dict:
    """nequip MetricsManager of the training loss: MSEs, stress NaN-masked (cells with vacuum)."""
    return {
        "_target_": "nequip.train.MetricsManager",
        "metrics": [
            {
                "name": "per_atom_energy_mse",
                "field": {"_target_": "nequip.data.PerAtomModifier", "field": "total_energy"},
                "coeff": coeffs["total_energy"],
                "metric": {"_target_": "nequip.train.MeanSquaredError"},
            },
            {"name": "forces_mse", "field": "forces", "coeff": coeffs["forces"], "metric": {"_target_": "nequip.train.MeanSquaredError"}},
            {
                "name": "stress_mse",
                "field": "stress",
                "coeff": coeffs["stress"],
                "metric": {"_target_": f"{_METRICS}.MaskedMeanSquaredError"},
                "ignore_nan": True,
            },
        ],
    }


def _metrics(scales: dict[str, float | None], balance: dict[str, float], with_stress: bool) -> dict:
    """Validation/test metrics: MAEs and RMSEs; the weighted sum (the monitored validation loss) is
    the MAEs in units of each label's spread, weighted like the loss, so no term dominates it."""
    terms = [("per_atom_energy", {"_target_": "nequip.data.PerAtomModifier", "field": "total_energy"}, "total_energy"),
             ("forces", "forces", "forces")]
    if with_stress:
        terms.append(("stress", "stress", "stress"))
    metrics = []
    for name, field, term in terms:
        masked = term == "stress"
        coeff = balance[term] / scales[term] if scales.get(term) else None
        for kind, coeff_of_kind in (("mae", coeff), ("rmse", None)):
            target = (f"{_METRICS}.MaskedMeanAbsoluteError" if kind == "mae" else "nequip.train.RootMeanSquaredError") \
                if masked else f"nequip.train.{'MeanAbsoluteError' if kind == 'mae' else 'RootMeanSquaredError'}"
            entry = {"name": f"{name}_{kind}", "field": field, "coeff": coeff_of_kind, "metric": {"_target_": target}}
            if masked:
                entry["ignore_nan"] = True
            metrics.append(entry)
    return {"_target_": "nequip.train.MetricsManager", "metrics": metrics}


def nequip_config(
    mlip: MlipSpec,
    files: dict[str, Path],
    threads_per_loader: int = 0,
    scales: dict[str, dict[str, float | None]] | None = None,
    energy_shift_eV: float | None = None,
) -> dict:
    """Return a nequip 0.19 training config (NequIPGNNModel or AllegroModel, EMA, CSV logger, CPU or GPU).

    The loss is balanced by the training labels' spread (:func:`loss_coefficients`), the stress
    of frames written with a NaN stress (cells with vacuum) is masked, the learning rate is cut on
    validation-loss plateaus (ReduceLROnPlateau) and training stops early when the validation loss
    no longer improves (Lightning EarlyStopping); the learning rate is logged each epoch.

    Parameters
    ----------
    mlip
        Model and training settings.
    files
        Absolute paths of the ``train``, ``val`` and ``test`` extxyz files.
    threads_per_loader
        DataLoader workers (0 = load in the main process).
    scales
        :func:`read_scales` of ``files`` (default: read them).
    energy_shift_eV
        The model's per-atom energy shift, the energy of an atom without neighbours: the teacher's
        isolated-atom energy (``mlip.energy_shift = isolated_atom``). None: nequip's mean per-atom
        energy of the training frames.
    """
    scales = scales if scales is not None else read_scales(files)
    train_scales = scales["train"]
    # a stress metric on a val/test set without any stress label would be 0/0: leave it out
    with_stress = all(scales[part]["stress"] is not None for part in ("val", "test")) and train_scales["stress"] is not None
    metrics = _metrics(train_scales, mlip.loss_balance, with_stress)
    loader = {"_target_": "torch.utils.data.DataLoader", "num_workers": threads_per_loader}
    callbacks = [
        {
            "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
            "monitor": "${monitored_metric}",
            "dirpath": "${hydra:runtime.output_dir}",
            "filename": "best",
            "save_last": True,
        },
        {"_target_": "lightning.pytorch.callbacks.LearningRateMonitor", "logging_interval": "epoch"},
    ]
    if mlip.early_stopping_patience is not None:
        callbacks.append(
            {
                "_target_": "lightning.pytorch.callbacks.EarlyStopping",
                "monitor": "${monitored_metric}",
                "mode": "min",
                "patience": mlip.early_stopping_patience,
                "check_finite": False,  # a NaN loss is reported by li_campaign.mlip.nequip_cli with its epoch
            }
        )
    return {
        "run": ["train", "test"],
        "cutoff_radius": mlip.r_max_A,
        "model_type_names": ["Li"],
        "chemical_species": "${model_type_names}",
        "monitored_metric": MONITOR,
        "data": {
            "_target_": "nequip.data.datamodule.ASEDataModule",
            "seed": mlip.seed,
            "train_file_path": str(files["train"]),
            "val_file_path": str(files["val"]),
            "test_file_path": str(files["test"]),
            "transforms": [
                {
                    "_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
                    "model_type_names": "${model_type_names}",
                },
                {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": "${cutoff_radius}"},
            ],
            "train_dataloader": {**loader, "batch_size": _train_batch_size(mlip), "shuffle": True},
            "val_dataloader": {**loader, "batch_size": max(mlip.batch_size, 10)},
            "test_dataloader": "${data.val_dataloader}",
            "stats_manager": {
                "_target_": "nequip.data.CommonDataStatisticsManager",
                "dataloader_kwargs": {"batch_size": 10},
                "type_names": "${model_type_names}",
            },
        },
        "trainer": {
            "_target_": "lightning.Trainer",
            "accelerator": "gpu" if resolve_device(mlip.device) == "cuda" else "cpu",
            **trainer_devices(mlip.n_gpus),  # several GPUs: DDP (li_campaign.mlip.ddp)
            "max_epochs": mlip.max_epochs,
            "log_every_n_steps": 5,
            "enable_progress_bar": False,
            "logger": {"_target_": "lightning.pytorch.loggers.CSVLogger", "save_dir": "${hydra:runtime.output_dir}"},
            "callbacks": callbacks,
        },
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "ema_decay": 0.99,
            "loss": _loss(loss_coefficients(mlip, train_scales)),
            "val_metrics": metrics,
            "train_metrics": "${training_module.val_metrics}",
            "test_metrics": "${training_module.val_metrics}",
            "optimizer": {"_target_": "torch.optim.Adam", "lr": mlip.learning_rate},
            "lr_scheduler": {
                "scheduler": {
                    "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                    "mode": "min",
                    "factor": mlip.lr_plateau_factor,
                    "patience": mlip.lr_plateau_patience,
                    "min_lr": mlip.min_learning_rate,
                },
                "monitor": "${monitored_metric}",
                "interval": "epoch",
                "frequency": 1,
            },
            "model": {
                **architecture_config(mlip),
                "type_names": "${model_type_names}",
                "r_max": "${cutoff_radius}",
                "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
                "per_type_energy_scales": "${training_data_stats:per_type_forces_rms}",
                "per_type_energy_shifts": (
                    "${training_data_stats:per_atom_energy_mean}" if energy_shift_eV is None else {"Li": energy_shift_eV}
                ),
                "pair_potential": {**ZBL, "chemical_species": "${chemical_species}"},
            },
        },
    }


def _train_batch_size(mlip: MlipSpec) -> int:
    """``gpu_batch_size`` when training on a GPU (if set), else ``batch_size``."""
    if mlip.gpu_batch_size is not None and resolve_device(mlip.device) == "cuda":
        return mlip.gpu_batch_size
    return mlip.batch_size
