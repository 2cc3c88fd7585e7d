"""The e2e campaign's deployed model against its Morse teacher, with the teacher's answers computed here.

The teacher's answers do not come from the campaign's code: the bcc a0 and ε_bulk are the
minimum of the Morse lattice sum and the held-out labels are checked against direct pair
sums (:mod:`tests.morse_reference`, numpy only); γ(100) and E_ads at the (100) sites come
from ASE relaxations with the teacher, evaluated with the formulas written here.

Tolerances, against what was measured on 2 cores (2026-12-02, tests/data/e2e_morse.yaml). On
2026-12-03 (slab labels without stress, adatom cells sized by the image distance) this spec's
model gave γ 0.383 J/m² and E_ads hollow −0.61, bridge −0.01, ontop −0.60 eV against the
teacher's 0.431 and 0.24, 0.36, 0.48; since 2026-12-04 its per-atom energy shift is the
teacher's isolated-atom energy (0 for Morse; ``mlip.energy_shift``) instead of the mean per-atom
energy of the frames, and it gives γ 0.435 J/m² and E_ads hollow 0.173, bridge 0.447, ontop
0.590 eV (errors −0.07, +0.09, +0.11; the sites in the teacher's order). The campaign's own spot
checks then pass for E_ads, γ, a0 and B0 but not for the two effective-barrier hops ((100)
0.297 vs 0.123 eV, (110) 0.232 vs 0.081 eV), so that report stays "not validated".

===================  ===========  ====================  =========================
quantity             tolerance    this spec's model      1-layer 8-feature model
===================  ===========  ====================  =========================
holdout |ΔE|/atom    25 meV/atom  ~13 (max ~35)         ~90 (as untrained)
holdout force MAE    35 meV/Å     ~28                   ~34
a0 (teacher 3.572)   0.02 Å       3.564                 3.620
γ(100) (0.431 J/m²)  0.05 J/m²    0.435                 0.045
E_ads (100) hollow   0.10 eV      0.173 (teacher 0.244) ~0.01
E_ads (100), 3 sites 0.15 eV      errors ≤ 0.107        –
===================  ===========  ====================  =========================

A model trained for one epoch has no minimum in its E(V) at all (the campaign's EOS fit
refuses it), and :func:`test_an_untrained_model_fails_these_tolerances` checks that it misses
the energy tolerance. The stable site (hollow) is held to the 0.10 eV spot-check threshold of
issue 17; the bridge (the hop's saddle) and the ontop maximum to 0.15 eV, with the teacher's
order of the three sites.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.morse import MorsePotential
from ase.constraints import FixAtoms, FixedLine
from ase.optimize import BFGS

from tests.e2e.helpers import SPEC, outputs_of
from tests.morse_reference import EV_PER_A2_IN_J_PER_M2, Morse

pytestmark = pytest.mark.slow

ENERGY_TOL_MEV_ATOM = 25.0
"""Mean holdout |ΔE| per atom (meV/atom)."""
FORCE_TOL_MEV_A = 35.0
"""Holdout force MAE (meV/Å)."""
LATTICE_TOL_A = 0.02
"""Model a0 vs the teacher's (Å)."""
GAMMA_TOL_J_M2 = 0.05
"""γ(100) (J/m²)."""
ADSORPTION_TOL_EV = 0.15
"""E_ads at each (100) site, saddle and maximum included (eV)."""
DEMO_ADSORPTION_TOL_EV = 0.10
"""The spot-check threshold of issue 17 for E_ads at a stable site (eV)."""


def _spec():
    from li_campaign.schemas.spec import load_spec

    return load_spec(SPEC)


@pytest.fixture(scope="module")
def teacher() -> dict:
    """The Morse teacher of the e2e spec (:func:`morse_teacher`)."""
    return morse_teacher()


def morse_teacher() -> dict:
    """The Morse teacher: the reference sums, an ASE calculator, bcc a0 and ε_bulk from the lattice sum."""
    m = _spec().dft.morse
    reference = Morse(epsilon=m.epsilon_eV, r0=m.r0_A, rho0=m.rho0, rcut1=0.8 * m.cutoff_A / m.r0_A, rcut2=m.cutoff_A / m.r0_A)
    a0 = reference.bcc_lattice_constant(bracket=(3.2, 4.0))
    calc = MorsePotential(epsilon=m.epsilon_eV, r0=m.r0_A, rho0=m.rho0, rcut1=reference.rcut1, rcut2=reference.rcut2)
    return {"reference": reference, "a0": a0, "e_bulk": reference.bcc_energy_per_atom(a0), "calc": calc}


@pytest.fixture(scope="module")
def model(finished):
    """The campaign's model document, its deployed calculator and its held-out frames."""
    from li_campaign.db.config import Campaign
    from li_campaign.mlip.calculator import load_calculator
    from li_campaign.mlip.dataset import frame_to_atoms

    store = Campaign(finished["root"]).job_store()
    store.connect()
    doc = store.query_one({"output.doc_type": "model"}, properties=["output"])["output"]
    held_out = set(doc["split"]["val"] + doc["split"]["test"])
    frames = [frame_to_atoms(f) for f in outputs_of(store, "training_frame") if f["frame_id"] in held_out]
    assert len(frames) == len(held_out)
    calc = load_calculator(doc["deployed_path"], doc["sha256"], doc["deploy_mode"], "cpu")
    return {"doc": doc, "calc": calc, "frames": frames}


def holdout_errors(calc, frames: list[Atoms]) -> tuple[float, float]:
    """Mean |ΔE| per atom (meV/atom) and force MAE (meV/Å) of ``calc`` against the frames' labels."""
    de, df = [], []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calc
        de.append(abs(atoms.get_potential_energy() - frame.get_potential_energy()) / len(atoms))
        df.append(np.abs(atoms.get_forces() - frame.get_forces()).ravel())
    return 1000 * float(np.mean(de)), 1000 * float(np.mean(np.concatenate(df)))


def test_labels_are_the_teachers(model, teacher):
    """The stored labels of the held-out frames are the Morse energies (pair sum here) and forces (ASE)."""
    for frame in model["frames"]:
        reference = teacher["reference"].energy(frame.positions, frame.cell.array)
        assert frame.get_potential_energy() == pytest.approx(reference, abs=1e-6)
        atoms = frame.copy()
        atoms.calc = teacher["calc"]
        np.testing.assert_allclose(frame.get_forces(), atoms.get_forces(), atol=1e-6)


def test_holdout_energy_and_forces_match_the_teacher(model):
    energy, forces = holdout_errors(model["calc"], model["frames"])
    assert energy < ENERGY_TOL_MEV_ATOM and forces < FORCE_TOL_MEV_A, (energy, forces)


def test_lattice_constant_matches_the_teacher(finished, teacher):
    report = finished["report"]
    # the campaign's own teacher EOS (Birch–Murnaghan over 7 points) agrees with the lattice sum
    assert report["bulk"]["dft_reference"]["a0_A"] == pytest.approx(teacher["a0"], abs=2e-3)
    assert report["lattice_constant_A"] == pytest.approx(teacher["a0"], abs=LATTICE_TOL_A)


def _slab_100(teacher: dict, repeats: tuple[int, int] = (1, 1)) -> tuple[Atoms, list[int]]:
    """The campaign's (100) slab geometry rebuilt at the teacher's a0, and its fixed bottom atoms."""
    from li_campaign.geometry.slabs import make_symmetric_slab
    from li_campaign.simulation.relax import structure_to_atoms

    spec = _spec().fanout.slab
    slab = make_symmetric_slab(teacher["a0"], (1, 0, 0), spec.min_slab_size_A, spec.min_vacuum_A)
    atoms = structure_to_atoms(slab).repeat((*repeats, 1))
    z = atoms.positions[:, 2]
    return atoms, [i for i in range(len(atoms)) if z[i] < z.min() + spec.fix_bottom_A]


def _relaxed_energy(atoms: Atoms, calc) -> float:
    atoms.calc = calc
    BFGS(atoms, logfile=None).run(fmax=0.002, steps=500)
    return float(atoms.get_potential_energy())


def test_surface_energy_matches_the_teacher(finished, teacher):
    atoms, _ = _slab_100(teacher)
    energy = _relaxed_energy(atoms, teacher["calc"])
    cell = atoms.cell.array
    gamma = (energy - len(atoms) * teacher["e_bulk"]) / (2 * np.linalg.norm(np.cross(cell[0], cell[1]))) * EV_PER_A2_IN_J_PER_M2
    assert finished["report"]["surface_energy_J_m2"]["100"] == pytest.approx(gamma, abs=GAMMA_TOL_J_M2)


@pytest.fixture(scope="module")
def adsorption_100(finished, teacher) -> dict:
    """The model's (100) adsorption document and the teacher's E_ads at the hollow, bridge and ontop sites.

    The teacher's: the (100) slab at the teacher's a0 in the model document's supercell,
    bottom atoms fixed as in the fan-out, the adatom started above each site and relaxed
    along z only, E_ads = E(slab+Li) − E(slab) − ε_bulk.
    """
    from li_campaign.builders.base import job_items, outputs_query
    from li_campaign.db.config import Campaign

    store = Campaign(finished["root"]).job_store()
    store.connect()
    docs = [i["output"] for d in store.query(outputs_query("adsorption"), properties=["uuid", "output"]) for i in job_items(d, "adsorption")]
    doc = next(d for d in docs if d["facet"] == "100")

    clean, fixed = _slab_100(teacher, tuple(doc["supercell"]))
    clean.set_constraint(FixAtoms(indices=fixed))
    e_slab = _relaxed_energy(clean, teacher["calc"])
    top = clean.positions[np.argmax(clean.positions[:, 2])]
    half = teacher["a0"] / 2
    starts = {  # above a second-plane atom; between two top atoms; above a top atom
        "hollow": top + np.array([half, half, half]),
        "bridge": top + np.array([half, 0.0, 2.0]),
        "ontop": top + np.array([0.0, 0.0, 2.9]),
    }
    e_ads = {}
    for site, position in starts.items():
        atoms = clean.copy()
        atoms.append("Li")
        atoms.positions[-1] = position
        atoms.set_constraint([FixAtoms(indices=fixed), FixedLine(len(clean), [0, 0, 1])])
        e_ads[site] = _relaxed_energy(atoms, teacher["calc"]) - e_slab - teacher["e_bulk"]
    model = {s["site_type"]: s["adsorption_energy_eV"] for s in doc["sites"]}
    assert sorted(model) == sorted(e_ads)  # one site of each type on (100)
    return {"model": model, "teacher": e_ads}


def test_hollow_adsorption_energy_matches_the_teacher(adsorption_100):
    teacher = adsorption_100["teacher"]
    assert min(teacher, key=teacher.get) == "hollow" and teacher["hollow"] > 0  # the four-fold hollow binds best
    assert adsorption_100["model"]["hollow"] == pytest.approx(teacher["hollow"], abs=DEMO_ADSORPTION_TOL_EV)


def test_adsorption_energies_of_every_site_and_their_order(adsorption_100):
    model, teacher = adsorption_100["model"], adsorption_100["teacher"]
    assert sorted(model, key=model.get) == sorted(teacher, key=teacher.get) == ["hollow", "bridge", "ontop"]
    for site, value in teacher.items():
        assert model[site] == pytest.approx(value, abs=ADSORPTION_TOL_EV), site


def test_an_untrained_model_fails_these_tolerances(model, tmp_path):
    """Negative control: the e2e architecture after one epoch on the same frames misses the energy tolerance."""
    import yaml

    from li_campaign.core.hashing import file_sha256
    from li_campaign.mlip import nequip_cli
    from li_campaign.mlip.calculator import load_calculator
    from li_campaign.mlip.dataset import write_extxyz
    from li_campaign.mlip.nequip_config import nequip_config

    mlip = _spec().mlip.model_copy(update={"max_epochs": 1})
    files = {part: write_extxyz(model["frames"], tmp_path / f"{part}.extxyz") for part in ("train", "val", "test")}
    (tmp_path / "nequip.yaml").write_text(yaml.safe_dump(nequip_config(mlip, files), sort_keys=False))
    package = nequip_cli.package(nequip_cli.train(tmp_path / "nequip.yaml", tmp_path / "train"), tmp_path / "m.nequip.zip")
    energy, _ = holdout_errors(load_calculator(package, file_sha256(package), "eager", "cpu"), model["frames"])
    assert energy > 2 * ENERGY_TOL_MEV_ATOM, energy


def test_spot_checks_are_the_teacher_and_the_model_at_the_same_geometries(finished, model, teacher):
    """The validation stage's rows, recomputed here from its stored frames: the teacher's column with the
    direct pair sums, the model's with the deployed model, the verdicts from the spec's tolerances."""
    from li_campaign.db.config import Campaign
    from li_campaign.mlip.dataset import frame_to_atoms

    section = finished["report"]["validation"]
    rows = section["checks"]
    by_quantity = {q: [r for r in rows if r["quantity"] == q] for q in {r["quantity"] for r in rows}}
    facets = {"100", "110", "111"}
    assert {r["facet"] for r in by_quantity["adsorption_energy"]} == facets
    assert {r["facet"] for r in by_quantity["barrier"]} <= facets and by_quantity["barrier"]
    assert {r["facet"] for r in by_quantity["surface_energy"]} == facets
    assert sorted(r["quantity"] for r in rows if r["facet"] is None) == ["bulk_modulus", "lattice_constant"]

    store = Campaign(finished["root"]).job_store()
    store.connect()
    frames = {f["frame_id"]: f for f in outputs_of(store, "training_frame") if f["origin"] == "validation"}
    assert set(frames) == {fid for row in rows for fid in row["frame_ids"]}  # each stored teacher frame is in a check
    energies = {}
    for frame_id, frame in frames.items():
        atoms = frame_to_atoms(frame)
        energies[frame_id] = (teacher["reference"].energy(atoms.positions, atoms.cell.array), len(atoms))
        assert frame["energy_eV"] == pytest.approx(energies[frame_id][0], abs=1e-6)
        atoms.calc = model["calc"]
        energies[frame_id] += (atoms.get_potential_energy(),)
    bulk_id = next(fid for fid in frames if fid.endswith(":bulk"))
    for row in rows:
        assert row["status"] in ("pass", "fail"), row  # nothing refused or skipped in this campaign
        assert row["status"] == ("pass" if abs(row["error"]) <= row["threshold"] else "fail")
        assert row["error"] == pytest.approx(row["model"] - row["dft"], abs=1e-9)
        if row["facet"] is None:
            continue
        ids = [fid for fid in row["frame_ids"] if fid != bulk_id]
        for column, k in (("dft", 0), ("model", 2)):
            e = {fid: energies[fid][k] for fid in [bulk_id, *ids]}
            eps = e[bulk_id] / 2
            if row["quantity"] == "adsorption_energy":
                expected = e[ids[0]] - e[ids[1]] - eps
            elif row["quantity"] == "barrier":
                expected = max(e[fid] for fid in ids) - e[ids[0]]
            else:
                cell = frame_to_atoms(frames[ids[0]]).cell.array
                area = float(np.linalg.norm(np.cross(cell[0], cell[1])))
                expected = (e[ids[0]] - energies[ids[0]][1] * eps) / (2 * area) * EV_PER_A2_IN_J_PER_M2
            assert row[column] == pytest.approx(expected, abs=2e-5), (row, column)
    assert section["validated"] == all(r["status"] == "pass" for r in rows)
    assert finished["report"]["bep"]["validated"] == section["validated"]
