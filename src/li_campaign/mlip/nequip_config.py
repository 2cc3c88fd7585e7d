"""The nequip-train (Hydra) config built from :class:`~li_campaign.schemas.spec.MlipSpec`."""

from __future__ import annotations

from pathlib import Path

from li_campaign.mlip.ddp import trainer_devices
from li_campaign.mlip.device import resolve_device
from li_campaign.schemas.spec import MlipSpec


def nequip_config(mlip: MlipSpec, files: dict[str, Path], threads_per_loader: int = 0) -> dict:
    """Return a nequip 0.19 training config (NequIPGNNModel, EMA, CSV logger, CPU or GPU).

    Parameters
    ----------
    mlip
        Model and training settings.
    files
        Absolute paths of the ``train``, ``val`` and ``test`` extxyz files.
    threads_per_loader
        DataLoader workers (0 = load in the main process).
    """
    loader = {"_target_": "torch.utils.data.DataLoader", "num_workers": threads_per_loader}
    return {
        "run": ["train", "test"],
        "cutoff_radius": mlip.r_max_A,
        "model_type_names": ["Li"],
        "chemical_species": "${model_type_names}",
        "monitored_metric": "val0_epoch/weighted_sum",
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
            "callbacks": [
                {
                    "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "monitor": "${monitored_metric}",
                    "dirpath": "${hydra:runtime.output_dir}",
                    "filename": "best",
                    "save_last": True,
                }
            ],
        },
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "ema_decay": 0.99,
            "loss": {
                "_target_": "nequip.train.EnergyForceStressLoss",
                "per_atom_energy": True,
                "coeffs": dict(mlip.loss_coeffs),
            },
            "val_metrics": {
                "_target_": "nequip.train.EnergyForceStressMetrics",
                "coeffs": {"per_atom_energy_mae": 1.0, "forces_mae": 1.0, "stress_mae": 1.0},
            },
            "train_metrics": "${training_module.val_metrics}",
            "test_metrics": "${training_module.val_metrics}",
            "optimizer": {"_target_": "torch.optim.Adam", "lr": mlip.learning_rate},
            "model": {
                "_target_": "nequip.model.NequIPGNNModel",
                "seed": mlip.seed,
                "model_dtype": mlip.precision,
                "type_names": "${model_type_names}",
                "r_max": "${cutoff_radius}",
                "num_layers": mlip.num_layers,
                "l_max": mlip.l_max,
                "parity": mlip.parity,
                "num_features": mlip.num_features,
                "radial_mlp_depth": mlip.radial_mlp_depth,
                "radial_mlp_width": mlip.radial_mlp_width,
                "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
                "per_type_energy_scales": "${training_data_stats:per_type_forces_rms}",
                "per_type_energy_shifts": "${training_data_stats:per_atom_energy_mean}",
                "pair_potential": {
                    "_target_": "nequip.nn.pair_potential.ZBL",
                    "units": "metal",
                    "chemical_species": "${chemical_species}",
                },
            },
        },
    }


def _train_batch_size(mlip: MlipSpec) -> int:
    """``gpu_batch_size`` when training on a GPU (if set), else ``batch_size``."""
    if mlip.gpu_batch_size is not None and resolve_device(mlip.device) == "cuda":
        return mlip.gpu_batch_size
    return mlip.batch_size
