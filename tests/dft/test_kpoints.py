"""k-meshes commensurate between a slab and its in-plane supercells (known answers, folding of ASE's Γ-centred k-point sets)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import kpts2sizeandoffsets
from ase.dft.kpoints import monkhorst_pack
from jobflow import JobStore
from maggma.stores import MemoryStore

from li_campaign.dft.jobs import ase_engine_settings
from li_campaign.dft.kpoints import (
    commensurate_kmesh,
    engine_kspacing,
    kmesh_from_spacing,
    supercell_kmesh,
)
from li_campaign.execution.reuse import expose_store
from li_campaign.schemas.spec import DftSpec, spec_from_dict
from li_campaign.structures.jobs import TrainingSetMaker

OBLIQUE = np.array([[3.1, 0.0, 0.0], [-1.2, 2.9, 0.0], [0.0, 0.0, 20.0]])  # an oblique in-plane cell with vacuum


def _reciprocal(cell: np.ndarray) -> np.ndarray:
    return 2 * np.pi * np.linalg.inv(cell).T  # rows b_i


def gamma_centred_kpoints(mesh: list[int]) -> np.ndarray:
    """ASE's Γ-centred Monkhorst–Pack k-points of ``mesh`` (what GPAW gets from ``kpts={"size": mesh, "gamma": True}``),
    fractional, each component wrapped into [-0.5, 0.5)."""
    size, offsets = kpts2sizeandoffsets(size=mesh, gamma=True)
    points = monkhorst_pack(size) + offsets
    return points - np.floor(points + 0.5)


def _fold(kpoints_cart: np.ndarray, cell: np.ndarray) -> set[tuple[float, ...]]:
    """Cartesian k-points folded into the first cell of ``cell``'s reciprocal lattice (fractional, rounded)."""
    frac = kpoints_cart @ np.linalg.inv(_reciprocal(cell))
    frac = frac - np.floor(frac + 1e-9)
    return {tuple(np.round(f, 8) % 1.0) for f in frac}


def test_spacing_rule_keeps_a_count_that_is_an_integer_up_to_round_off():
    """2π|b|/kspacing = 11.000000000000002 here: the rule gives 11, ASE's kptdensity2monkhorstpack 12 (why it stays)."""
    from ase import Atoms
    from ase.calculators.calculator import kptdensity2monkhorstpack

    cell, kspacing = np.eye(3) * 9.03, 2 * np.pi / (11 * 9.03)
    assert kmesh_from_spacing(cell, kspacing) == [11, 11, 11]
    assert kptdensity2monkhorstpack(Atoms(cell=cell, pbc=True), 1 / kspacing, even=False).tolist() == [12, 12, 12]
    assert kmesh_from_spacing(cell, kspacing, (True, True, False)) == [11, 11, 1]


def test_supercell_mesh_is_the_slab_mesh_divided_by_the_repeats():
    slab_mesh = commensurate_kmesh(OBLIQUE, 0.25, (1, 1), (2, 3))
    plain = kmesh_from_spacing(OBLIQUE, 0.25, (True, True, False))
    assert slab_mesh[0] % 2 == 0 and slab_mesh[1] % 3 == 0 and slab_mesh[2] == 1
    assert plain[0] <= slab_mesh[0] < plain[0] + 2 and plain[1] <= slab_mesh[1] < plain[1] + 3  # rounded up, not more
    supercell = OBLIQUE * np.array([[2], [3], [1]])
    super_mesh = commensurate_kmesh(supercell, 0.25, (2, 3), (2, 3))
    assert super_mesh == [slab_mesh[0] // 2, slab_mesh[1] // 3, 1] == supercell_kmesh(slab_mesh, (2, 3))


def test_plain_rule_is_not_commensurate_where_the_new_one_is():
    """(111) Li slab cell (hexagonal, |a| = 4.86 Å) at 0.25 1/Å: the k-spacing rule gives 6 and 2 (ceil(2.99)), not 6/2."""
    a = 3.44 * np.sqrt(2)
    cell = np.array([[a, 0, 0], [a / 2, a * np.sqrt(3) / 2, 0], [0, 0, 20.0]])
    supercell = cell * np.array([[2], [2], [1]])
    plain_slab = kmesh_from_spacing(cell, 0.2, (True, True, False))
    plain_super = kmesh_from_spacing(supercell, 0.2, (True, True, False))
    assert plain_slab[:2] == [8, 8] and plain_super[:2] == [4, 4]  # commensurate by chance at 0.2 ...
    plain_slab = kmesh_from_spacing(cell, 0.3, (True, True, False))
    plain_super = kmesh_from_spacing(supercell, 0.3, (True, True, False))
    assert plain_slab[:2] == [5, 5] and plain_super[:2] == [3, 3]  # ... not at 0.3: 5 k-points is not 2 x 3
    assert commensurate_kmesh(cell, 0.3, (1, 1), (2, 2)) == [6, 6, 1]
    assert commensurate_kmesh(supercell, 0.3, (2, 2), (2, 2)) == [3, 3, 1]


@pytest.mark.parametrize(("kx", "ky"), [(4, 6), (6, 9), (2, 3)])
def test_folded_kpoint_sets_coincide(kx, ky):
    """Every k-point of the slab's (kx, ky, 1) mesh folds onto the (2, 3) supercell's (kx/2, ky/3, 1) mesh, and each of
    the supercell's k-points is hit by exactly 2 x 3 of the slab's: the two samplings are the same."""
    supercell = OBLIQUE * np.array([[2], [3], [1]])
    super_mesh = supercell_kmesh([kx, ky, 1], (2, 3))
    assert super_mesh == [kx // 2, ky // 3, 1]
    slab_cart = gamma_centred_kpoints([kx, ky, 1]) @ _reciprocal(OBLIQUE)
    super_cart = gamma_centred_kpoints(super_mesh) @ _reciprocal(supercell)
    folded = _fold(slab_cart, supercell)
    assert folded == _fold(super_cart, supercell)
    assert len(folded) == super_mesh[0] * super_mesh[1]
    frac = slab_cart @ np.linalg.inv(_reciprocal(supercell))
    counts = {}
    for f in frac - np.floor(frac + 1e-9):
        key = tuple(np.round(f, 8) % 1.0)
        counts[key] = counts.get(key, 0) + 1
    assert set(counts.values()) == {6}


def test_incommensurate_requests_are_refused():
    with pytest.raises(ValueError, match=r"not divisible by the supercell repeats \(2, 3\)"):
        supercell_kmesh([5, 6, 1], (2, 3))
    with pytest.raises(ValueError, match=r"repeats \(2, 2\) must divide multiple \(3, 2\)"):
        commensurate_kmesh(OBLIQUE, 0.25, (2, 2), (3, 2))
    with pytest.raises(ValueError, match="expected two positive integers"):
        supercell_kmesh([4, 4, 1], (0, 2))


def test_ase_gamma_centred_mesh_holds_gamma_and_every_point_once():
    points = gamma_centred_kpoints([4, 3, 1])
    assert points.shape == (12, 3)
    assert np.all(points >= -0.5) and np.all(points < 0.5)
    assert len({tuple(p) for p in np.round(points, 9)}) == 12
    assert [0.0, 0.0, 0.0] in points.tolist()


def test_explicit_mesh_enters_the_settings_only_when_given():
    dft = DftSpec()
    assert engine_kspacing(dft) == dft.gpaw.kspacing_inv_A
    assert engine_kspacing(DftSpec(engine="morse")) is None
    assert engine_kspacing(DftSpec(engine="vasp")) == DftSpec(engine="vasp").vasp.kspacing_inv_A
    plain = ase_engine_settings(dft, True)
    assert "kpts" not in plain
    assert ase_engine_settings(dft, True, (6, 6, 1)) == {**plain, "kpts": [6, 6, 1]}


def test_gpaw_label_jobs_get_commensurate_meshes():
    """The training-set job hands the slab (110) and its 2x2 adatom cells meshes (kx, ky, 1) and (kx/2, ky/2, 1)."""
    spec = spec_from_dict({"name": "t", "training_set": {
        "bulk": {"n_strained": 1, "n_rattled": 0}, "vacancy": None,
        "slabs": {"facets": ["110"], "n_perturbed": 0, "adatom_n_heights": 1, "min_slab_size_A": 4.0, "min_vacuum_A": 6.0,
                  "adatom_min_lateral_A": 4.0}}})  # fmt: skip
    maker = TrainingSetMaker(training_set=spec.training_set, dft=spec.dft, campaign="t", spec_hash="0" * 64, r_max_A=5.0)
    store = JobStore(MemoryStore())
    store.connect()
    jobs = [j for j in expose_store(maker.make()).run(store).replace.jobs if j.name.startswith("dft label")]
    meshes = {j.name.removeprefix("dft label "): j.function_kwargs.get("kpts") for j in jobs}
    assert meshes["bulk strain 0"] is None  # bulk: the k-spacing rule, as before
    slab = meshes["slab 110"]
    adatoms = [m for name, m in meshes.items() if "+ adatom" in name]
    assert len(adatoms) == 4  # ontop, short bridge, long bridge, threefold hollow
    assert all(m == [slab[0] // 2, slab[1] // 2, 1] for m in adatoms)
    assert slab[0] % 2 == 0 and slab[1] % 2 == 0


def test_vasp_and_gpaw_use_the_explicit_mesh():
    from ase.build import bulk

    from li_campaign.dft.engine import get_engine
    from li_campaign.dft.engines import make_calculator
    from li_campaign.dft.vasp_sets import relax_set_generator, static_set_generator
    from li_campaign.geometry.slabs import make_symmetric_slab

    slab = make_symmetric_slab(3.44, (1, 0, 0), 4.0, 6.0)
    vasp = DftSpec(engine="vasp", vasp={"potcar_spec": True})
    for generator in (static_set_generator(vasp.vasp, True, (6, 4, 1)), relax_set_generator(vasp.vasp, True, 5, 0.02, [6, 4, 1])):
        assert generator.get_input_set(slab, potcar_spec=True).kpoints.kpts == [(6, 4, 1)]
    assert static_set_generator(vasp.vasp, True).get_input_set(slab, potcar_spec=True).kpoints.kpts[0][2] == 1
    job = get_engine(vasp).static(slab, "t:slab:0", "slab", "slab 100", slab=True, kpts=[6, 4, 1])
    assert job.function.__self__.settings["kpts"] == [6, 4, 1]
    _, settings = make_calculator(bulk("Li", "bcc", a=3.44, cubic=True), DftSpec(), kpts=(3, 2, 1))
    assert settings["kpts"] == [3, 2, 1]
