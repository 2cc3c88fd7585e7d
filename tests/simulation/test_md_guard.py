"""MD stability guard: each check stops a run, keeps the last good frame; flagged MD is not a result."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.morse import MorsePotential
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.verlet import VelocityVerlet
from ase.units import fs
from jobflow import run_locally

from li_campaign.builders import job_outputs_store
from li_campaign.bulk.builders import FiniteTemperatureBuilder
from li_campaign.bulk import jobs as bulk_jobs
from li_campaign.bulk.finite_temperature import finite_temperature_properties
from li_campaign.bulk.jobs import FiniteTemperatureMaker
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.flags import FlaggedResultDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import FiniteTemperatureSpec
from li_campaign.simulation.md_guard import MdGuard, MdInstabilityError

pytestmark = pytest.mark.faults

A = 3.44
SPEC = FiniteTemperatureSpec(
    supercell=2,
    strain_axes=1,
    npt_equilibration_steps=50,
    npt_production_steps=100,
    nvt_equilibration_steps=10,
    nvt_production_steps=40,
    n_blocks=4,
    checkpoint_every=50,
    trajectory_every=50,
    temperatures_K=[300.0],
)


def stable() -> MorsePotential:
    """Short-ranged Morse Li (two neighbour shells): a stable crystal."""
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.2, rcut2=1.5)


def collapsing() -> MorsePotential:
    """A 'model' whose well sits at 1 Å: the lattice pulls itself together, like an extrapolating MLIP."""
    return MorsePotential(epsilon=2.0, r0=1.0, rho0=6.0, rcut1=3.0, rcut2=4.0)


def crystal(calc=None):
    atoms = bulk("Li", "bcc", a=A, cubic=True).repeat(2)
    atoms.calc = calc or stable()
    return atoms


def test_a_stable_run_passes_as_an_ase_observer():
    atoms = crystal()
    atoms.rattle(0.02, seed=0)
    guard = MdGuard(atoms, min_distance_A=1.5, max_temperature_K=1000, max_energy_drift_eV_atom=0.01, max_force_eV_A=5)
    dyn = VelocityVerlet(atoms, 1 * fs)
    dyn.attach(guard, interval=2)
    dyn.run(20)
    # checks at steps 0, 2, ..., 20: the last good frame is the final one, detached from the calculator
    assert guard.n_checks == 11 and guard.last_good_step == 10 and guard.last_good.calc is None
    assert np.array_equal(guard.last_good.get_positions(), atoms.get_positions())


def test_atoms_too_close_stop_with_the_last_good_frame():
    atoms = crystal()
    guard = MdGuard(atoms, min_distance_A=0.5 * np.sqrt(3) / 2 * A)
    guard.check(atoms, step=10)
    good = atoms.get_positions()
    atoms.positions[1] = atoms.positions[0] + [0.5, 0.5, 0.5]
    with pytest.raises(MdInstabilityError, match=r"two atoms are 0\.866 Å apart \(limit 1\.490 Å\)") as info:
        guard.check(atoms, step=20)
    err = info.value
    assert err.kind == "min_distance" and err.step == 20 and "0.866 Å apart" in err.reason
    assert err.last_good_step == 10 and np.allclose(err.last_good.get_positions(), good)


def test_temperature_runaway_stops():
    atoms = crystal()
    atoms.set_momenta(np.full((len(atoms), 3), 1.0))  # thousands of K
    with pytest.raises(MdInstabilityError, match="kinetic temperature") as info:
        MdGuard(atoms, max_temperature_K=900.0).check()
    assert info.value.kind == "temperature" and info.value.last_good is None


def test_energy_drift_stops():
    atoms = crystal()
    guard = MdGuard(atoms, max_energy_drift_eV_atom=0.1)
    guard.check()
    atoms.set_momenta(np.full((len(atoms), 3), 1.5))  # +E_kin of 3 p²/2m = 0.49 eV per atom
    with pytest.raises(MdInstabilityError, match=r"total energy moved \+0\.") as info:
        guard.check()
    assert info.value.kind == "energy_drift" and info.value.last_good_step == 0


def test_large_forces_are_flagged_as_extrapolation():
    atoms = crystal()
    atoms.set_cell(atoms.cell * 0.7, scale_atoms=True)  # strongly compressed: huge forces once rattled
    atoms.rattle(0.1, seed=1)
    with pytest.raises(MdInstabilityError, match="extrapolating") as info:
        MdGuard(atoms, max_force_eV_A=1.0).check()
    assert info.value.kind == "max_force"


def test_nan_energy_stops():
    atoms = crystal()
    atoms.calc = SinglePointCalculator(atoms, energy=float("nan"), forces=np.zeros((len(atoms), 3)))
    with pytest.raises(MdInstabilityError, match="a position, the energy or a force is not finite") as info:
        MdGuard(atoms).check()
    assert info.value.kind == "non_finite"


def test_collapsing_model_stops_the_finite_temperature_md(tmp_path):
    with pytest.raises(MdInstabilityError, match="npt run at 300 K: two atoms are") as info:
        finite_temperature_properties(collapsing(), A, 300.0, SPEC, workdir=tmp_path)
    assert info.value.kind == "min_distance"
    assert info.value.last_good_step < info.value.step and len(info.value.last_good) == 16


def _model() -> ModelDoc:
    return ModelDoc(
        campaign="guard",
        architecture="nequip",
        sha256="a" * 64,
        deployed_path="/nonexistent.nequip.zip",
        deploy_mode="eager",
        package_path="/nonexistent.zip",
        package_sha256="b" * 64,
        split={"train": [], "val": [], "test": []},
        hyperparameters={},
        holdout=HoldoutErrors(
            n_frames=0, energy_mae_meV_atom=0, energy_rmse_meV_atom=0, force_mae_meV_A=0, force_rmse_meV_A=0
        ),
        parity=ParityData(
            dft_energy_per_atom_eV=[], mlip_energy_per_atom_eV=[], dft_force_components_eV_A=[], mlip_force_components_eV_A=[]
        ),
        training_wall_time_s=0,
        deploy_wall_time_s=0,
        provenance=Provenance(campaign="guard", spec_hash="f" * 64, model_sha256="a" * 64),
    )


def test_exploding_md_is_stored_flagged_and_the_builder_excludes_and_counts_it(campaign, monkeypatch, caplog):
    monkeypatch.setattr(bulk_jobs, "load_model", lambda model: collapsing())
    bulk_doc = BulkDoc(
        lattice_constant_A=A,
        energy_per_atom_eV=-1.9,
        bulk_modulus_GPa=13.0,
        volumes_A3_atom=[20.0],
        energies_eV_atom=[-1.9],
        provenance=Provenance(campaign="guard", spec_hash="f" * 64, model_sha256="a" * 64),
    )
    md = FiniteTemperatureMaker(md=SPEC, checkpoint_root=str(campaign.root), campaign="guard", spec_hash="f" * 64)
    job = md.make(_model(), bulk_doc, 300.0)
    store = campaign.job_store()
    responses = run_locally(job, store=store, create_folders=False, ensure_success=True)
    doc = responses[job.uuid][1].output
    assert isinstance(doc, FlaggedResultDoc)
    assert doc.flagged and doc.result_doc_type == "finite_temperature" and doc.flag_kind == "min_distance"
    assert "two atoms are" in doc.flag_reason and doc.context == {"temperature_K": 300.0}
    assert len(doc.last_good_structure) == 16 and doc.provenance.model_sha256 == "a" * 64

    store.connect()
    assert store.count({"output.doc_type": "finite_temperature"}) == 0  # never stored as a valid result
    builder = FiniteTemperatureBuilder(job_outputs_store(campaign), campaign.derived_store("finite_temperature"))
    builder.connect()
    with caplog.at_level(logging.WARNING, logger="li_campaign.builders.flagged"):
        items = list(builder.get_items())
    assert items == [] and builder.n_flagged == 1
    assert "excluded 1 flagged finite_temperature result(s) (min_distance 1)" in caplog.text
