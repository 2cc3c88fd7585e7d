"""Training device, training batch size/dtype in the nequip config, and refusal of a build for another device."""

from __future__ import annotations

import pytest
import torch

from li_campaign.core.errors import ModelIntegrityError
from li_campaign.mlip.calculator import load_model
from li_campaign.mlip.device import check_compile_target, compile_target, resolve_device
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.spec import MlipSpec


def _doc(**target) -> ModelDoc:
    fields = {
        "campaign": "t", "architecture": "nequip", "sha256": "0" * 64, "deployed_path": "/nowhere/m.nequip.pt2",
        "deploy_mode": "aotinductor", "compile_target": "ase", "package_path": "/nowhere/m.nequip.zip",
        "package_sha256": "0" * 64, "split": {}, "hyperparameters": {},
        "holdout": {"n_frames": 0, "energy_mae_meV_atom": 0, "energy_rmse_meV_atom": 0, "force_mae_meV_A": 0, "force_rmse_meV_A": 0},
        "parity": {"dft_energy_per_atom_eV": [], "mlip_energy_per_atom_eV": [], "dft_force_components_eV_A": [], "mlip_force_components_eV_A": []},
        "training_wall_time_s": 0, "deploy_wall_time_s": 0, "provenance": {"campaign": "t", "spec_hash": "x"},
    }
    return ModelDoc(**{**fields, **target})


def test_gpu_build_is_refused_on_this_cpu_worker():
    doc = _doc(compile_device="cuda", compile_gpu="NVIDIA H100 80GB HBM3", compile_torch=torch.__version__)
    with pytest.raises(ModelIntegrityError, match="cannot run here.*differs in device, gpu.*Recompile"):
        load_model(doc, device="cpu")  # refused before the (missing) file is touched


def test_other_torch_build_is_refused_and_matching_build_passes():
    with pytest.raises(ModelIntegrityError, match="differs in torch"):
        check_compile_target(_doc(compile_device="cpu", compile_torch="2.9.0"), "cpu")
    check_compile_target(_doc(**{**compile_target("cpu"), "compile_device": "cpu"}), "cpu")
    check_compile_target(_doc(deploy_mode="eager", compile_device="cuda", compile_gpu="X"), "cpu")  # eager loads anywhere


def test_training_device_batch_size_and_dtype_in_config(tmp_path):
    files = {k: tmp_path / f"{k}.extxyz" for k in ("train", "val", "test")}
    scales = {k: {"total_energy": 0.05, "forces": 0.2, "stress": 0.003} for k in files}  # the files are not read
    cpu = nequip_config(MlipSpec(device="cpu", batch_size=4, gpu_batch_size=32, precision="float64"), files, scales=scales)
    assert cpu["trainer"]["accelerator"] == "cpu"
    assert cpu["data"]["train_dataloader"]["batch_size"] == 4  # gpu_batch_size only on a GPU
    assert cpu["training_module"]["model"]["model_dtype"] == "float64"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    if not torch.cuda.is_available():
        with pytest.raises(Exception, match="mlip.device = 'cuda'"):
            resolve_device("cuda")
