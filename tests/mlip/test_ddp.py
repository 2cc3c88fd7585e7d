"""Training on several GPUs: DDP config, the fit job's GPU request and refusal, the registry record.

The slow test runs real data-parallel training with two processes on the CPU (gloo): the
same Lightning/Hydra relaunch of nequip-train that two GPUs use, with NCCL there.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from li_campaign.core.errors import InputError
from li_campaign.execution.resources import N_GPUS_KEY
from li_campaign.flows.campaign import CampaignMaker
from li_campaign.mlip.ddp import DDP_STRATEGY, check_training_devices, trainer_devices, training_devices
from li_campaign.mlip.jobs import FitNequipMaker
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import MlipSpec, spec_from_dict

FILES = {k: f"/abs/{k}.extxyz" for k in ("train", "val", "test")}
# label spreads of the (absent) files, so that nequip_config does not read them
SCALES = {k: {"total_energy": 0.05, "forces": 0.2, "stress": 0.003} for k in FILES}
H100 = ["NVIDIA H100 80GB HBM3"] * 2


def test_one_gpu_keeps_lightnings_single_device_default():
    trainer = nequip_config(MlipSpec(), FILES, scales=SCALES)["trainer"]
    assert (trainer["devices"], trainer["num_nodes"]) == (1, 1)
    assert "strategy" not in trainer


def test_two_gpus_train_with_nequips_ddp_strategy_on_one_node():
    config = nequip_config(MlipSpec(n_gpus=2, batch_size=3), FILES, scales=SCALES)
    trainer = config["trainer"]
    assert (trainer["devices"], trainer["num_nodes"]) == (2, 1)
    assert trainer["strategy"] == {"_target_": "nequip.train.SimpleDDPStrategy"} == DDP_STRATEGY
    assert config["data"]["train_dataloader"]["batch_size"] == 3  # per GPU
    assert trainer_devices(4) == {"devices": 4, "num_nodes": 1, "strategy": DDP_STRATEGY}


def test_n_gpus_is_validated_by_the_spec():
    with pytest.raises(ValueError, match="n_gpus"):
        MlipSpec(n_gpus=0)


def test_the_fit_job_asks_the_runner_for_its_gpus():
    spec = spec_from_dict({"name": "ddp-flow", "mlip": {"n_gpus": 2}})
    (fit,) = [job for job, _ in CampaignMaker(spec=spec).make().iterflow() if job.name == "fit nequip"]
    assert fit.config.manager_config == {"_category": "gpu", N_GPUS_KEY: 2}


def test_more_gpus_than_visible_is_refused_naming_the_field(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(InputError, match=r"mlip.n_gpus = 2 but this worker sees 1 GPU\(s\) \(CUDA_VISIBLE_DEVICES=3\)"):
        check_training_devices(MlipSpec(n_gpus=2), H100[:1])
    with pytest.raises(InputError, match="mlip.n_gpus = 2 needs GPUs, but mlip.device is 'cpu'"):
        check_training_devices(MlipSpec(n_gpus=2, device="cpu"), H100)
    check_training_devices(MlipSpec(n_gpus=2), H100)
    check_training_devices(MlipSpec(), [])  # one device: the CPU is fine


def test_the_fit_job_refuses_before_training(campaign):
    maker = FitNequipMaker(mlip=MlipSpec(n_gpus=2))  # this CPU-only test machine has no GPU
    with pytest.raises(InputError, match="mlip.n_gpus = 2 but this worker sees 0 GPU"):
        maker._fit([], Provenance(campaign="c", spec_hash="h"))


def test_the_registry_records_how_the_model_was_trained(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    ddp = training_devices(trainer_devices(2) | {"accelerator": "auto"}, 4, H100)
    assert ddp.model_dump() == {
        "n_gpus": 2, "accelerator": "gpu", "strategy": "ddp", "world_size": 2, "per_device_batch_size": 4,
        "device_names": H100, "cuda_visible_devices": "0,1",
    }
    cpu = training_devices(trainer_devices(1) | {"accelerator": "auto"}, 4, [])
    assert (cpu.accelerator, cpu.strategy, cpu.world_size, cpu.device_names) == ("cpu", "single_device", 1, [])
    assert "training_devices" in ModelDoc.model_fields and ModelDoc.model_fields["training_devices"].default is None


@pytest.mark.slow
@pytest.mark.long
def test_two_process_ddp_training_runs_on_the_cpu(tmp_path):
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator

    from li_campaign.dft.engines import label_atoms
    from li_campaign.mlip import nequip_cli
    from li_campaign.mlip.dataset import write_extxyz
    from li_campaign.schemas.spec import DftSpec

    dft = DftSpec(engine="morse", morse={"epsilon_eV": 0.1, "r0_A": 3.4, "rho0": 4.0})
    rng = np.random.default_rng(0)
    frames = []
    for i in range(8):
        atoms = bulk("Li", "bcc", a=3.44 * (1 + 0.02 * rng.uniform(-1, 1)), cubic=True)
        atoms.rattle(0.05, seed=i)
        label = label_atoms(atoms, dft)
        atoms.calc = SinglePointCalculator(atoms, energy=label.energy, forces=label.forces, stress=label.stress)
        frames.append(atoms)
    files = {
        "train": write_extxyz(frames[:4], tmp_path / "train.extxyz"),
        "val": write_extxyz(frames[4:6], tmp_path / "val.extxyz"),
        "test": write_extxyz(frames[6:], tmp_path / "test.extxyz"),
    }
    config = nequip_config(MlipSpec(n_gpus=2, num_layers=1, num_features=4, radial_mlp_width=8, max_epochs=2), files)
    config["trainer"]["accelerator"] = "cpu"  # two gloo processes stand in for two GPUs
    path = tmp_path / "nequip.yaml"
    path.write_text(yaml.safe_dump(config))
    checkpoint = nequip_cli.train(path, tmp_path / "train")
    log = (tmp_path / "nequip-train.log").read_text()
    assert checkpoint.is_file()
    assert "Starting with 2 processes" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    record = training_devices(config["trainer"], 2, [])
    assert (record.strategy, record.world_size, record.accelerator) == ("ddp", 2, "cpu")
