"""Allegro (``mlip.architecture: allegro``): its training config, and a tiny Allegro fitted for real.

The config tests compare with answers written out here. The slow tests fit a tiny Allegro
(1 layer, 8 scalar and 4 tensor features, float64, 3 epochs) on Morse-labelled cells through
the real fit job (:class:`~li_campaign.mlip.jobs.FitNequipMaker` in a worker process of an
embedded campaign), AOTInductor-compiled for ASE on the CPU, then check the registry entry,
the compiled model against the package, forces against the energy's finite differences, and
the batched (torch-sim) path against ASE.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from ase.build import bulk
from jobflow import Flow

from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.mlip.untrained import untrained_nequip
from li_campaign.schemas.spec import AllegroSpec, MlipSpec

FILES = {k: f"/abs/{k}.extxyz" for k in ("train", "val", "test")}
SCALES = {k: {"total_energy": 0.05, "forces": 0.2, "stress": 0.003} for k in FILES}
TINY = {"num_scalar_features": 8, "num_tensor_features": 4, "num_bessels": 6, "two_body_mlp_width": 8,
        "allegro_mlp_width": 8, "readout_mlp_width": 8}  # fmt: skip
CAMPAIGN, SPEC_HASH = "allegro-fit", "1" * 64


def _n_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_every_allegro_hyperparameter_reaches_allegro_model():
    allegro = {
        "num_scalar_features": 24, "num_tensor_features": 6, "num_bessels": 10, "bessel_trainable": True,
        "polynomial_cutoff_p": 5, "radial_chemical_embed_dim": 20, "two_body_mlp_depth": 2, "two_body_mlp_width": 40,
        "two_body_mlp_nonlinearity": "mish", "allegro_mlp_depth": 3, "allegro_mlp_width": 48,
        "allegro_mlp_nonlinearity": None, "tp_path_channel_coupling": False, "readout_mlp_depth": 2,
        "readout_mlp_width": 12, "readout_mlp_nonlinearity": "gelu",
    }  # fmt: skip
    assert set(allegro) == set(AllegroSpec.model_fields)  # every field, none at its default
    assert all(value != AllegroSpec.model_fields[name].default for name, value in allegro.items())
    mlip = MlipSpec(architecture="allegro", num_layers=3, l_max=2, parity=True, seed=7, precision="float64", allegro=allegro)
    model = nequip_config(mlip, FILES, scales=SCALES, energy_shift_eV=-0.07)["training_module"]["model"]
    assert model == {
        "_target_": "allegro.model.AllegroModel",
        "seed": 7,
        "model_dtype": "float64",
        "num_layers": 3,
        "l_max": 2,
        "parity": True,
        "radial_chemical_embed": {
            "_target_": "allegro.nn.TwoBodyBesselScalarEmbed", "num_bessels": 10, "bessel_trainable": True,
            "polynomial_cutoff_p": 5,
        },  # fmt: skip
        "radial_chemical_embed_dim": 20,
        "scalar_embed_mlp_hidden_layers_depth": 2,
        "scalar_embed_mlp_hidden_layers_width": 40,
        "scalar_embed_mlp_nonlinearity": "mish",
        "num_scalar_features": 24,
        "num_tensor_features": 6,
        "allegro_mlp_hidden_layers_depth": 3,
        "allegro_mlp_hidden_layers_width": 48,
        "allegro_mlp_nonlinearity": None,
        "tp_path_channel_coupling": False,
        "readout_mlp_hidden_layers_depth": 2,
        "readout_mlp_hidden_layers_width": 12,
        "readout_mlp_nonlinearity": "gelu",
        # the data statistics, energy reference and pair term of the NequIP config
        "type_names": "${model_type_names}",
        "r_max": "${cutoff_radius}",
        "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
        "per_type_energy_scales": "${training_data_stats:per_type_forces_rms}",
        "per_type_energy_shifts": {"Li": -0.07},
        "pair_potential": {
            "_target_": "nequip.nn.pair_potential.ZBL", "units": "metal", "chemical_species": "${chemical_species}",
        },  # fmt: skip
    }


def test_allegro_and_nequip_configs_differ_only_in_the_model():
    """Same data, split, loss (stress masked), metrics, schedule, early stopping, trainer."""
    shared = {"num_layers": 2, "max_epochs": 50, "early_stopping_patience": 7,
              "loss_balance": {"total_energy": 2.0, "forces": 1.0, "stress": 0.5}}  # fmt: skip
    allegro = nequip_config(MlipSpec(architecture="allegro", **shared), FILES, scales=SCALES)
    nequip = nequip_config(MlipSpec(**shared), FILES, scales=SCALES)
    assert allegro["training_module"].pop("model")["_target_"] == "allegro.model.AllegroModel"
    assert nequip["training_module"].pop("model")["_target_"] == "nequip.model.NequIPGNNModel"
    assert allegro == nequip
    (stress,) = [m for m in allegro["training_module"]["loss"]["metrics"] if m["name"] == "stress_mse"]
    assert stress["ignore_nan"] is True and stress["coeff"] == pytest.approx(0.5 / 0.003**2)


def test_the_config_builds_an_allegro_network():
    """Every argument is one that AllegroModel takes (a misspelt one raises), and it is Allegro, not NequIP."""
    from allegro.nn import Allegro_Module

    model = untrained_nequip(MlipSpec(architecture="allegro", num_layers=2, allegro=TINY))
    (layers,) = [m for m in model.modules() if isinstance(m, Allegro_Module)]
    assert layers.num_layers == 2
    assert not any(type(m).__name__ == "ConvNetLayer" for m in model.modules())  # NequIP's interaction block


def test_default_allegro_is_of_the_default_nequips_size():
    allegro = _n_parameters(untrained_nequip(MlipSpec(architecture="allegro")))
    nequip = _n_parameters(untrained_nequip(MlipSpec()))
    assert (allegro, nequip) == (9056, 8736)  # 9.1k and 8.7k, as AllegroSpec says


def test_nequip_fits_keep_their_reuse_keys_and_allegro_fits_have_their_own():
    """The fit's reuse key (kind, spec, frames) of a NequIP spec is what it was before the Allegro section existed
    (keys computed at commit 15da95a), so stored NequIP fits are still found; Allegro settings change the key."""
    from li_campaign.execution.reuse import calculation_key

    def key(mlip: MlipSpec, frames: list[str]) -> str:
        return calculation_key("nequip_fit", None, None, {"mlip": mlip, "frames": frames})

    assert key(MlipSpec(), ["a", "b"]) == "54c6cf61d2743ff0275dbb4605a33be64703d6ba5a628c8039eef84fb8d91209"
    assert key(MlipSpec(num_layers=3, seed=1), ["a"]) == "73fc7075f384a97e310a7edc70ed3348e19e78a8d79d0c43d3d621bc15d76e83"
    allegro = key(MlipSpec(architecture="allegro"), ["a", "b"])
    other_allegro = key(MlipSpec(architecture="allegro", allegro={"num_bessels": 9}), ["a", "b"])
    assert allegro not in {key(MlipSpec(), ["a", "b"]), other_allegro}


def test_nequip_specs_keep_their_spec_hash_and_allegro_specs_dump_their_section():
    """``spec_hash`` of the shipped NequIP specs is what it was at commit 15da95a (before the Allegro section), so
    ``submit --skip-existing`` still recognises campaigns submitted then; an Allegro spec's dump has its section.

    fidelity.yaml's hash is that of its third pass (longer fit, energy-weighted loss, the loop's copies near
    failing spot checks, three adatom heights): its settings changed, not the way a spec is hashed."""
    from li_campaign.schemas.spec import load_spec
    from tests.conftest import REPO

    hashes = {
        "demo.yaml": "7e429eb69b4d28ea81eacee1c2c2a541e4cd3334001ed6223cd14ff6a9cd1f92",
        "fidelity.yaml": "fa3f416239a30fe4160253362b7984ed50092b7144987dc53d1a33a3c27b2fd6",
    }
    assert {name: load_spec(REPO / "workflows" / name).spec_hash() for name in hashes} == hashes
    assert "allegro" not in MlipSpec().model_dump()
    assert MlipSpec(architecture="allegro").model_dump()["allegro"] == AllegroSpec().model_dump()


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A tiny Allegro fitted, packaged, compiled (AOTInductor, ASE target, CPU) and registered by the fit job."""
    from li_campaign.db.config import Campaign, DbConfig
    from li_campaign.db.launchpad import initialise_launchpad
    from li_campaign.launch.runner import run_workers
    from li_campaign.launch.submit import submit_flow
    from li_campaign.mlip.jobs import FitNequipMaker
    from li_campaign.schemas.models import ModelDoc
    from tests.conftest import REPO
    from tests.mlip.test_bad_fits import _label

    root = tmp_path_factory.mktemp("allegro")
    mlip = MlipSpec(architecture="allegro", num_layers=1, allegro=TINY, max_epochs=3, precision="float64", device="cpu",
                    deploy="aotinductor", max_train_energy_mae_meV_atom=None)  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        campaign = Campaign.create(root / "campaign", DbConfig())
        initialise_launchpad(campaign)
        patch.setenv("LI_CAMPAIGN_DIR", str(campaign.root))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        training_set = _label(campaign, root)
        submit_flow(campaign, Flow([FitNequipMaker(mlip=mlip, campaign=CAMPAIGN, spec_hash=SPEC_HASH).make(training_set)]), "fit")
        summary = run_workers(campaign, progress=False)
    assert summary.states == {"COMPLETED": 1}, summary
    store = campaign.job_store()
    store.connect()
    model = ModelDoc.model_validate(store.query_one({"output.doc_type": "model"}, properties=["output"])["output"])
    return mlip, model


def _cell(seed: int):
    """16 rattled bcc Li atoms at 3.5 Å."""
    atoms = bulk("Li", "bcc", a=3.5, cubic=True).repeat(2)
    atoms.rattle(0.08, seed=seed)
    return atoms


@pytest.mark.slow
def test_registry_entry_records_allegro_and_its_compile_target(registered):
    import torch

    mlip, model = registered
    assert model.architecture == "allegro"
    assert model.hyperparameters["allegro"] == mlip.allegro.model_dump(mode="json")
    assert (model.deploy_mode, model.compile_target, model.compile_device) == ("aotinductor", "ase", "cpu")
    assert model.compile_torch == torch.__version__ and model.deployed_path.endswith(".nequip.pt2")
    assert model.n_parameters == _n_parameters(untrained_nequip(mlip))  # the architecture asked for, trained
    assert model.epochs_trained == 3 and set(model.split_errors) == {"train", "val", "test"}
    assert {"bulk_rattle"} <= set(model.split_errors["train"].by_origin)


@pytest.mark.slow
def test_compiled_allegro_agrees_with_its_package(registered):
    from li_campaign.mlip.calculator import load_calculator, load_model

    _, model = registered
    compiled = load_model(model)
    eager = load_calculator(model.package_path, model.package_sha256, "eager")
    a, b = _cell(1), _cell(1)
    a.calc, b.calc = compiled, eager
    assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(a.get_forces(), b.get_forces(), atol=1e-8)


@pytest.mark.slow
def test_allegro_forces_are_minus_the_energy_gradient(registered):
    """Central differences of the deployed model's energy (h = 1e-4 Å, float64) give its forces."""
    from li_campaign.mlip.calculator import load_model

    _, model = registered
    calc = load_model(model)
    atoms = _cell(2)
    atoms.calc = calc
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 1e-3  # not a trivially flat model
    h = 1e-4
    for index, axis in [(0, 0), (3, 1), (7, 2), (12, 0)]:
        energies = []
        for step in (h, -h):
            moved = atoms.copy()
            moved.positions[index, axis] += step
            moved.calc = calc
            energies.append(moved.get_potential_energy())
        assert -(energies[0] - energies[1]) / (2 * h) == pytest.approx(forces[index, axis], abs=1e-6)


@pytest.mark.slow
def test_batched_path_loads_the_allegro_package_and_agrees_with_ase(registered):
    from li_campaign.batched.batching import evaluate
    from li_campaign.batched.loader import load_batched
    from li_campaign.mlip.calculator import load_calculator

    _, model = registered
    chosen = load_batched(model, "cpu")
    assert chosen.mode == "eager" and chosen.path == model.package_path
    structures = [_cell(3), _cell(4).repeat((2, 1, 1))]
    energies, forces = evaluate(structures, chosen.model)
    eager = load_calculator(model.package_path, model.package_sha256, "eager")
    for atoms, energy, force in zip(structures, energies, forces):
        atoms.calc = eager
        assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
        np.testing.assert_allclose(force, atoms.get_forces(), atol=1e-6)
