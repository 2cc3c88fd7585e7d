"""Real nequip: train a tiny model, package, AOTInductor-compile, load with sha256 checks."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from li_campaign.core.errors import ModelIntegrityError
from li_campaign.core.hashing import file_sha256
from li_campaign.dft.engines import label_atoms
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.calculator import load_calculator, model_species
from li_campaign.mlip.dataset import write_extxyz
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.spec import DftSpec, MlipSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """A tiny NequIP trained for 3 epochs on Morse-labelled cells, packaged as .nequip.zip."""
    import yaml
    from ase.calculators.singlepoint import SinglePointCalculator

    work = tmp_path_factory.mktemp("nequip")
    dft = DftSpec(engine="morse", morse={"epsilon_eV": 0.1, "r0_A": 3.4, "rho0": 4.0})
    rng = np.random.default_rng(0)
    frames = []
    for i in range(12):
        atoms = bulk("Li", "bcc", a=3.44 * (1 + 0.02 * rng.uniform(-1, 1)), cubic=True).repeat(2)
        atoms.rattle(0.05, seed=i)
        label = label_atoms(atoms, dft)
        atoms.calc = SinglePointCalculator(atoms, energy=label.energy, forces=label.forces, stress=label.stress)
        frames.append(atoms)
    files = {
        "train": write_extxyz(frames[:8], work / "train.extxyz"),
        "val": write_extxyz(frames[8:10], work / "val.extxyz"),
        "test": write_extxyz(frames[10:], work / "test.extxyz"),
    }
    spec = MlipSpec(num_layers=1, num_features=8, radial_mlp_width=16, max_epochs=3)
    config = work / "nequip.yaml"
    config.write_text(yaml.safe_dump(nequip_config(spec, files)))
    checkpoint = nequip_cli.train(config, work / "train")
    return nequip_cli.package(checkpoint, work / "model.nequip.zip"), frames


def test_compiled_model_matches_eager(packaged):
    package, frames = packaged
    compiled = nequip_cli.compile_aoti(package, package.with_name("model.nequip.pt2"), device="cpu", target="ase")
    assert model_species(compiled) == model_species(package) == ["Li"]  # read from each format's metadata
    eager = load_calculator(package, file_sha256(package), "eager")
    aoti = load_calculator(compiled, file_sha256(compiled), "aotinductor")
    for calc_a, calc_b in [(eager, aoti)]:
        a, b = frames[-1].copy(), frames[-1].copy()
        a.calc, b.calc = calc_a, calc_b
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-4)
        assert np.allclose(a.get_forces(), b.get_forces(), atol=1e-4)


def test_sha256_mismatch_refuses_to_load(packaged, tmp_path):
    package, _ = packaged
    copy = tmp_path / "model.nequip.zip"
    copy.write_bytes(package.read_bytes() + b"tampered")
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        load_calculator(copy, file_sha256(package), "eager")


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(ModelIntegrityError, match="model file missing"):
        load_calculator(tmp_path / "gone.nequip.pt2", "0" * 64, "aotinductor")


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.nequip.zip"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelIntegrityError, match="cannot load the eager model"):
        load_calculator(bad, file_sha256(bad), "eager")
