"""Large-cell adatom diffusion: the cell and its adatom grid, the classification of adatoms, D through the
analysis path, the torch-sim engine against velocity Verlet, the job end to end (ASE, Morse), the spec and
the report section."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.constraints import FixAtoms
from ase.md.verlet import VelocityVerlet
from ase.units import fs, kB
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pydantic import ValidationError

from li_campaign.batched.langevin import langevin_frames
from li_campaign.kinetics.builders import AdatomDiffusionBuilder
from li_campaign.core.errors import InputError
from li_campaign.execution.reuse import expose_store
from li_campaign.geometry.slabs import inplane_minimum_image
from li_campaign.kinetics import jobs as kinetics_jobs
from li_campaign.kinetics.large_cell import (
    adatom_sites,
    analyse_adatoms,
    build_cell,
    classify_adatoms,
    receptive_field_A,
    wide_slab,
)
from li_campaign.kinetics.md_diffusion import (
    A2_PER_FS_IN_CM2_PER_S,
    DESORPTION_HEIGHT_A,
    SINK_TOLERANCE_A,
    diffusion_coefficient_2d,
)
from li_campaign.kinetics.report import kinetics_markdown, large_cell_section
from li_campaign.schemas.flags import FlaggedResultDoc
from li_campaign.schemas.kinetics import LargeCellDiffusionDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.registry import result_type
from li_campaign.schemas.spec import LargeCellDiffusionSpec, spec_from_dict
from tests.batched.conftest import ase_calc, graph_model, ts_model  # noqa: F401  (fixtures: a tiny untrained NequIP)
from tests.kinetics.test_md_diffusion import A, RunawayMorse, _bulk, morse

SMALL = LargeCellDiffusionSpec(
    enabled=True,
    facets=[(1, 1, 0)],
    temperatures_K=[300.0],
    min_atoms=None,
    min_lateral_A=20.0,
    spacing_margin_A=1.0,
    min_slab_size_A=4.0,
    min_vacuum_A=8.0,
    fixed_bottom_A=1.0,
    equilibration_steps=20,
    production_steps=160,
    sample_every=5,
    engine="ase",
)
CELL = np.array([[40.0, 0.0, 0.0], [20.0, 30.0, 0.0], [0.0, 0.0, 30.0]])  # an oblique in-plane cell


def _model(architecture: str = "nequip") -> ModelDoc:
    """A registry entry whose receptive field is 2 × 2.0 Å (NequIP) or 2.0 Å (Allegro)."""
    return ModelDoc.model_construct(
        sha256="a" * 64, architecture=architecture, hyperparameters={"r_max_A": 2.0, "num_layers": 2}
    )


def test_receptive_field_by_architecture():
    assert receptive_field_A("nequip", 5.0, 3) == 15.0 and receptive_field_A("allegro", 5.0, 3) == 5.0
    with pytest.raises(ValueError, match="architecture 'mace'"):
        receptive_field_A("mace", 5.0, 3)


@pytest.mark.parametrize("miller", [(1, 0, 0), (1, 1, 0), (1, 1, 1)])
def test_the_cell_reaches_min_atoms_and_its_adatoms_are_the_spacing_apart_at_equivalent_sites(miller):
    spec = LargeCellDiffusionSpec(min_atoms=3000)
    slab, repeats = wide_slab(3.44, miller, spec)
    assert len(slab) * repeats[0] * repeats[1] >= 3000
    positions = adatom_sites(slab, repeats, 12.0)
    cell = slab.lattice.matrix * np.array([*repeats, 1])[:, None]
    pairs = positions[:, None, :2] - positions[None, :, :2]
    i, j = np.triu_indices(len(positions), 1)
    assert len(positions) >= 4
    assert np.linalg.norm(inplane_minimum_image(cell, pairs[i, j]), axis=1).min() >= 12.0 - 1e-9
    assert np.ptp(positions[:, 2]) < 1e-9  # one start height: equivalent sites
    # every adatom sits on a copy of the first one's site: in-plane offsets are primitive lattice vectors
    frac = np.linalg.solve(slab.lattice.matrix[:2, :2].T, (positions[:, :2] - positions[0, :2]).T)
    assert np.allclose(frac, np.round(frac), atol=1e-6)


def test_a_cell_without_room_for_two_adatoms_is_refused_naming_the_fields():
    with pytest.raises(InputError, match="no room for two adatoms 30.0 Å apart.*min_atoms or min_lateral_A"):
        build_cell(A, (1, 1, 0), 30.0, SMALL)
    with pytest.raises(InputError, match="fixed_bottom_A = 50.0 Å fixes the whole"):
        build_cell(A, (1, 1, 0), 5.0, SMALL.model_copy(update={"fixed_bottom_A": 50.0}))


def test_one_sinks_one_desorbs_two_cluster_and_the_counts_are_exact():
    n_samples, cluster = 20, 3.0
    xy = np.tile(np.array([[2.0, 2.0], [12.0, 2.0], [24.0, 2.0], [34.0, 2.0], [30.0, 20.0], [16.0, 20.0]]), (n_samples, 1, 1))
    heights = np.full((n_samples, 6), 1.5)
    start = np.full(6, 1.5)
    heights[6:, 0] = -SINK_TOLERANCE_A - 0.2  # adatom 0 sinks at sample 6
    heights[9:, 1] = 1.5 + DESORPTION_HEIGHT_A + 0.5  # adatom 1 desorbs at sample 9
    # adatoms 2 and 3 walk towards each other from sample 10 on: 2.9 Å apart (< 3.0) at sample 13
    for k in range(10, n_samples):
        step = min(k - 9, 4) * 0.9
        xy[k, 2, 0] += step
        xy[k, 3, 0] -= step
    out = classify_adatoms(xy, heights, start, CELL, cluster)
    assert out["excluded"] == {"sunk": 1, "desorbed": 1, "clustered": 2}
    assert out["valid"].tolist() == [False, False, False, False, True, True]
    assert out["reason"] == ["sunk", "desorbed", "clustered", "clustered", None, None]
    assert out["first_sample"] == [6, 9, 13, 13, None, None]


def test_clustering_is_seen_across_the_periodic_boundary_and_the_first_event_decides():
    xy = np.array([[[1.0, 1.0], [39.5, 1.0]]] * 3)  # 1.5 Å apart through the boundary along a
    heights = np.array([[1.0, 1.0], [1.0, 1.0], [-1.0, 1.0]])  # adatom 0 sinks later: it clustered first
    out = classify_adatoms(xy, heights, np.ones(2), CELL, 3.0)
    assert out["reason"] == ["clustered", "clustered"] and out["first_sample"] == [0, 0]
    assert out["excluded"] == {"sunk": 0, "desorbed": 0, "clustered": 2}


def test_d_of_random_walks_through_the_analysis_path_counts_only_the_valid_adatoms():
    rng = np.random.default_rng(3)
    d_true, dt = 0.02, 4.0  # Å²/fs, fs between samples
    walks = np.cumsum(rng.normal(0.0, np.sqrt(2 * d_true * dt), (2001, 60, 2)), axis=0) + rng.uniform(0, 30, (60, 2))
    walks[:, 50:] *= 10.0  # ten adatoms walk 100x faster: left out, they must not move D
    valid = np.arange(60) < 50
    frac = np.linalg.solve(CELL[:2, :2].T, walks.reshape(-1, 2).T).T % 1.0
    wrapped = (frac @ CELL[:2, :2]).reshape(walks.shape)  # as the engine returns them: inside the cell
    surface = np.array([[2.5, 0.0], [0.0, 2.5]])
    out = analyse_adatoms(wrapped, valid, CELL, surface, dt, (0.1, 0.4), 4)
    reference = diffusion_coefficient_2d(walks[:, valid], dt, (0.1, 0.4), 4)
    assert out["diffusivity_cm2_s"] == pytest.approx(reference["diffusivity_cm2_s"], rel=1e-9)
    assert out["diffusivity_err_cm2_s"] == pytest.approx(reference["diffusivity_err_cm2_s"], rel=1e-9)
    expected = d_true * A2_PER_FS_IN_CM2_PER_S
    assert abs(out["diffusivity_cm2_s"] - expected) < 3 * out["diffusivity_err_cm2_s"]
    assert out["diffusivity_err_cm2_s"] < 0.1 * expected and out["invalid_reasons"] == []
    assert out["n_hops"] > 0
    none = analyse_adatoms(wrapped, np.zeros(60, dtype=bool), CELL, surface, dt, (0.1, 0.4), 4)
    assert none["invalid_reasons"] == ["no valid adatom"] and "diffusivity_cm2_s" not in none
    short = analyse_adatoms(wrapped[:10], valid, CELL, surface, dt, (0.1, 0.4), 4)
    assert short["invalid_reasons"] == ["10 samples: too short to analyse in 4 segments"]


def test_torch_engine_without_friction_is_velocity_verlet_and_holds_fixed_atoms(ts_model, ase_calc):
    atoms = bulk("Li", "bcc", a=3.44, cubic=True).repeat((2, 2, 3))
    atoms.rattle(0.1, seed=1)
    atoms.center(vacuum=4.0, axis=2)
    fixed = atoms.positions[:, 2] < atoms.positions[:, 2].min() + 1.0
    # at 0 K every atom starts at rest and gets no noise; with no friction BAOAB is velocity Verlet
    frames = list(langevin_frames(ts_model, atoms, np.zeros(len(atoms)), fixed, 0.0, 1.0, 20, 10, 0))
    reference = atoms.copy()
    reference.set_constraint(FixAtoms(mask=fixed))
    reference.calc = ase_calc
    VelocityVerlet(reference, 1.0 * fs).run(20)
    assert [frame[0] for frame in frames] == [10, 20]
    step, positions, velocities, _ = frames[-1]
    shift = inplane_minimum_image(atoms.cell.array, positions - reference.positions)
    assert np.abs(shift).max() < 1e-5 and np.allclose(positions[:, 2], reference.positions[:, 2], atol=1e-5)
    np.testing.assert_allclose(velocities, reference.get_velocities(), atol=1e-5)
    held = inplane_minimum_image(atoms.cell.array, positions[fixed] - atoms.positions[fixed])  # wrapped into the cell
    assert np.abs(held).max() < 1e-12 and np.array_equal(positions[fixed, 2], atoms.positions[fixed, 2])
    assert np.abs(positions[~fixed] - atoms.positions[~fixed]).max() > 1e-3  # the others moved


def test_torch_engine_holds_fixed_atoms_even_with_friction_at_temperature(ts_model):
    atoms = bulk("Li", "bcc", a=3.44, cubic=True).repeat(2)
    fixed = np.arange(len(atoms)) < 4
    (step, positions, velocities, _), = langevin_frames(ts_model, atoms, np.full(16, 0.5), fixed, 300.0, 1.0, 5, 5, 0)
    assert np.abs(positions[fixed] - atoms.get_positions(wrap=True)[fixed]).max() < 1e-12 and not velocities[fixed].any()
    assert np.abs(positions[~fixed] - atoms.positions[~fixed]).max() > 1e-4


def test_torch_engine_thermostats_only_the_atoms_with_friction(ts_model):
    atoms = bulk("Li", "bcc", a=3.44, cubic=True).repeat(2)
    friction = np.where(np.arange(len(atoms)) < 8, 0.5, 0.0)  # strong friction on half, none on the rest
    runs = [list(langevin_frames(ts_model, atoms, friction, np.zeros(16, dtype=bool), 300.0, 1.0, 4, 4, seed)) for seed in (0, 0, 1)]
    assert np.array_equal(runs[0][-1][1], runs[1][-1][1])  # seeded
    assert not np.allclose(runs[0][-1][1][:8], runs[2][-1][1][:8])  # the noise acts on the thermostatted atoms
    temperature = np.sum(6.94 * runs[0][-1][2] ** 2) / (3 * 16 * kB)
    assert 30.0 < temperature < 1500.0


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_the_job_on_ase_with_morse_stores_one_document_with_counts_d_and_speed(monkeypatch):
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    maker = kinetics_jobs.LargeCellDiffusionMaker(large_cell=SMALL, campaign="t", spec_hash="0" * 64)
    monkeypatch.setattr(kinetics_jobs, "load_model", lambda model: morse())
    run = maker.make(_model(), _bulk(), (1, 1, 0), 300.0)
    run_locally(run, store=store, log=False, ensure_success=True)
    doc = LargeCellDiffusionDoc.model_validate(store.get_output(run.uuid, load=True))
    assert doc.doc_type == "adatom_diffusion" and doc.cell == "large" and doc.facet == "110"
    assert doc.engine == "ase" and doc.device == "cpu" and doc.execution is None
    assert doc.receptive_field_A == 4.0 and doc.adatom_spacing_A == 5.0
    assert doc.provenance.calc_key and doc.provenance.structure_hash and doc.provenance.model_sha256 == "a" * 64
    assert doc.n_atoms == doc.n_slab_atoms + doc.n_adatoms and doc.n_adatoms >= 4
    assert doc.n_valid + sum(doc.excluded.values()) == doc.n_adatoms == doc.n_valid + len(doc.excluded_adatoms)
    assert set(doc.excluded) == {"sunk", "desorbed", "clustered"}
    assert doc.production_steps == 160 and doc.analysed_fs == pytest.approx((160 // 5 - 1) * 10.0)
    # seeded: at 300 K some of these Morse adatoms meet (they attract), the rest give D ± its error
    assert doc.valid and doc.invalid_reasons == [] and 1 <= doc.n_valid < doc.n_adatoms
    assert doc.diffusivity_cm2_s > 0 and doc.diffusivity_err_cm2_s > 0
    assert len(doc.segment_diffusivities_cm2_s) == SMALL.n_segments
    assert doc.atom_steps_per_s == pytest.approx(doc.n_atoms * 180 / doc.md_wall_time_s)
    assert doc.wall_time_per_ns_s == pytest.approx(doc.md_wall_time_s / (180 * 2.0e-6))
    assert 200.0 < doc.thermostat_temperature_K < 450.0
    # the adatom_diffusion collection: the large-cell run beside the small-cell ones, told apart by `cell`
    row = AdatomDiffusionBuilder.unary_function(None, {"output": doc.model_dump(mode="json")})
    assert row["cell"] == "large" and {field: row.get(field) for field in result_type("adatom_diffusion").report_fields} == {
        field: doc.model_dump(mode="json")[field] for field in result_type("adatom_diffusion").report_fields
    }
    # the same run again is reused, not recomputed
    again = expose_store(maker.make(_model(), _bulk(), (1, 1, 0), 300.0))
    responses = run_locally(again, store=store, log=False, ensure_success=True)
    assert responses[again.uuid][1].output.provenance.reused_from == run.uuid


@pytest.mark.faults
@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_a_runaway_large_cell_run_is_flagged_not_a_d(monkeypatch):
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    maker = kinetics_jobs.LargeCellDiffusionMaker(large_cell=SMALL, campaign="t", spec_hash="0" * 64)
    monkeypatch.setattr(kinetics_jobs, "load_model", lambda model: RunawayMorse())
    run = maker.make(_model("allegro"), _bulk(), (1, 1, 0), 300.0)
    responses = run_locally(run, store=store, log=False, ensure_success=True)
    flagged = responses[run.uuid][1].output
    assert isinstance(flagged, FlaggedResultDoc) and flagged.result_doc_type == "adatom_diffusion"
    assert flagged.flag_kind == "max_force" and flagged.context == {"facet": "110", "temperature_K": 300.0, "cell": "large"}
    assert flagged.step == 40 and flagged.last_good_step == 35 and flagged.last_good_structure is not None


def test_spec_errors_name_the_field_and_a_disabled_section_keeps_the_hash():
    with pytest.raises(ValidationError, match="408.3 K"):
        LargeCellDiffusionSpec(temperatures_K=[420.0])
    with pytest.raises(ValidationError, match="fit_window"):
        LargeCellDiffusionSpec(fit_window=(0.5, 0.2))
    with pytest.raises(ValidationError, match="give the cell a size"):
        LargeCellDiffusionSpec(min_atoms=None)
    with pytest.raises(ValidationError, match="4 samples per segment"):
        LargeCellDiffusionSpec(production_steps=100, sample_every=10)
    with pytest.raises(ValidationError, match="engine"):
        LargeCellDiffusionSpec(engine="lammps")
    with pytest.raises(InputError, match=r"fanout\.large_cell_diffusion\.spacing_margin_A: .*greater than or equal to 0"):
        spec_from_dict({"name": "t", "fanout": {"large_cell_diffusion": {"spacing_margin_A": -1}}})
    with pytest.raises(InputError, match=r"fanout\.large_cell_diffusion\.facets: unknown facet '1x0'"):
        spec_from_dict({"name": "t", "fanout": {"large_cell_diffusion": {"facets": ["1x0"]}}})
    plain = spec_from_dict({"name": "t"})
    disabled = spec_from_dict({"name": "t", "fanout": {"large_cell_diffusion": {"facets": ["111"]}}})
    enabled = spec_from_dict({"name": "t", "fanout": {"large_cell_diffusion": {"enabled": True}}})
    assert disabled.spec_hash() == plain.spec_hash() and enabled.spec_hash() != plain.spec_hash()
    assert "large_cell_diffusion" not in plain.fanout.model_dump() and "large_cell_diffusion" not in str(disabled.fanout)
    assert disabled.fanout.large_cell is None and enabled.fanout.large_cell == LargeCellDiffusionSpec(enabled=True)
    assert spec_from_dict(enabled.model_dump(mode="json")) == enabled
    assert LargeCellDiffusionSpec.from_dict(SMALL.as_dict()) == SMALL


def _run(facet: str, t: float, d: float | None, valid: bool = True, completed: str = "2026-12-04T10:00:00") -> dict:
    return {
        "facet": facet, "temperature_K": t, "diffusivity_cm2_s": d, "diffusivity_err_cm2_s": None if d is None else 0.1 * d,
        "valid": valid, "invalid_reasons": [] if valid else ["no valid adatom"], "completed_at": completed,
        "n_atoms": 1000, "n_adatoms": 9, "n_valid": 7 if valid else 0, "n_hops": 50, "engine": "ase",
        "excluded": {"sunk": 1, "desorbed": 0, "clustered": 1}, "atom_steps_per_s": 1e4, "wall_time_per_ns_s": 3e3,
    }


def test_report_section_fits_arrhenius_per_facet_and_compares_with_small_cell_and_neb():
    law = lambda t: 2e-3 * np.exp(-0.12 / (kB * t))  # noqa: E731
    runs = [
        _run("110", 200.0, law(200.0)),
        _run("110", 300.0, 1.0, completed="2026-12-04T09:00:00"),  # an older run at 300 K: replaced by the newer
        _run("110", 300.0, law(300.0)),
        _run("110", 400.0, law(400.0)),
        _run("110", 350.0, None, valid=False),
        _run("100", 300.0, law(300.0)),
    ]
    small = {"110": {"1": {"activation_energy_eV": 0.1}}}
    section = large_cell_section(runs, small, [{"facet": "110", "effective_barrier_eV": 0.11}, {"facet": "100"}])
    fit = section["110"]["arrhenius"]
    assert fit["n"] == 3 and fit["temperatures_K"] == [200.0, 300.0, 400.0]
    assert fit["activation_energy_eV"] == pytest.approx(0.12) and fit["prefactor_cm2_s"] == pytest.approx(2e-3)
    assert fit["activation_minus_small_cell_eV"] == pytest.approx(0.02) and fit["activation_minus_neb_eV"] == pytest.approx(0.01)
    assert fit["excluded"] == ["350 K: no valid adatom"]
    assert list(section["110"]["runs"]) == ["200", "300", "350", "400"]
    assert section["110"]["runs"]["300"]["diffusivity_cm2_s"] == pytest.approx(law(300.0))
    assert section["100"]["arrhenius"] == {
        "n": 1, "temperatures_K": [300.0], "diffusivities_cm2_s": [law(300.0)], "excluded": [],
        "small_cell_activation_energy_eV": None, "activation_minus_small_cell_eV": None,
        "neb_effective_barrier_eV": None, "activation_minus_neb_eV": None,
    }
    report = {"steps": {}, "step_edges": {}, "arrhenius": {}, "diffusivity": {}, "diffusivity_large_cell": section}
    text = "\n".join(kinetics_markdown(report))
    assert "## Adatom diffusion in a large cell" in text and "| (110) | 0.12 ± " in text
    assert "| 0.002 | 3 | 0.1 | 0.11 | 0.01 |" in text and "| (110) | 350 | 1000 | 0 / 9 | 1, 0, 1 | – |" in text


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_the_job_on_the_torch_sim_engine_records_it_and_the_model_form(monkeypatch, ts_model):
    from li_campaign.batched import loader

    chosen = loader.BatchedModel(ts_model, "eager", "/m/model.nequip.zip", "cpu")
    monkeypatch.setattr(loader, "load_batched", lambda model, device: chosen)
    # the untrained model's random landscape heats the slab: the stability limits are widened for this plumbing check
    spec = SMALL.model_copy(
        update={"engine": "torch_sim", "production_steps": 80, "max_temperature_factor": 50.0, "max_force_eV_A": 1e3}
    )
    maker = kinetics_jobs.LargeCellDiffusionMaker(large_cell=spec, campaign="t", spec_hash="0" * 64)
    run = maker.make(_model(), _bulk(), (1, 0, 0), 300.0)
    responses = run_locally(run, store=JobStore(MemoryStore()), log=False, ensure_success=True)
    doc = responses[run.uuid][1].output
    assert isinstance(doc, LargeCellDiffusionDoc), getattr(doc, "flag_reason", doc)
    assert doc.engine == "torch_sim" and doc.device == "cpu" and doc.execution == chosen.record()
    assert doc.facet == "100" and doc.n_valid + sum(doc.excluded.values()) == doc.n_adatoms >= 4
    assert doc.production_steps == 80 and doc.atom_steps_per_s > 0
