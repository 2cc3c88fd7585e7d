"""NEB validity with known answers: an analytic 2D surface whose saddle energy is known exactly.

The model potential of one atom (eV, Å), with minima at (0, 0, Z0) and (A, 0, Z0):

    V = E0 sin²(πx/A) + K/2 (y − C sin²(πx/A))² + KZ/2 (z − Z0)²

Along the valley floor y = C sin²(πx/A) the energy is E0 sin²(πx/A), so the minimum-energy
path is curved and its saddle is at (A/2, C, Z0) with energy exactly E0 above the minima. The
straight interpolation crosses (A/2, 0, Z0) at E0 + K C²/2, so the band has to find the path.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from benchmarks import batched_extras
from li_campaign.kinetics import neb as serial_neb
from li_campaign.kinetics.diffusion import EndpointMovedError, check_endpoints, neb_path
from li_campaign.kinetics.neb import band_invalid_reason, converged_neb, interpolated_band, relax_band, relax_bands
from li_campaign.schemas.kinetics import Hop
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec

A, C, K, KZ, Z0 = 2.5, 0.5, 2.0, 4.0, 5.0
RELAX = RelaxSpec(fmax_eV_A=1e-4, max_steps=500, optimizer="BFGS")


class Valley(Calculator):
    """The curved-valley potential of the module docstring (one atom)."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, e0: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        self.e0 = e0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, z = self.atoms.positions[0]
        s2 = np.sin(np.pi * x / A) ** 2
        ds2 = np.pi / A * np.sin(2 * np.pi * x / A)  # d sin²(πx/A) / dx
        u = y - C * s2
        energy = self.e0 * s2 + 0.5 * K * u**2 + 0.5 * KZ * (z - Z0) ** 2
        grad = [self.e0 * ds2 - K * u * C * ds2, K * u, KZ * (z - Z0)]
        self.results = {"energy": energy, "free_energy": energy, "forces": -np.array([grad])}


def _atom(x: float, y: float = 0.0, z: float = Z0) -> Atoms:
    return Atoms("Li", positions=[[x, y, z]], cell=[2 * A, 6.0, 10.0], pbc=[True, True, False])


def _evaluator(e0: float):
    """A batched evaluator (energies, forces of many structures at once) of the same potential."""
    calc = Valley(e0)

    def evaluate(structures):
        energies, forces = [], []
        for atoms in structures:
            atoms = atoms.copy()
            atoms.calc = calc
            energies.append(float(atoms.get_potential_energy()))
            forces.append(atoms.get_forces().copy())
        return energies, forces

    return evaluate


@pytest.mark.parametrize("e0", [0.01, 0.05, 0.1])
def test_barrier_matches_the_analytic_saddle_with_the_default_spec(e0):
    hop = neb_path(
        Valley(e0),
        _atom(0.1, 0.05, Z0 + 0.1),
        _atom(A - 0.1, -0.05, Z0 - 0.1),
        [(-1, (0.0, 0.0, Z0), (A, 0.0, Z0))],
        RELAX,
        NebSpec(),
        NebConvergenceSpec(tolerance_eV=0.002, max_images=11),
        start="m",
        end="m",
        distance_A=A,
    )
    assert hop.valid and hop.invalid_reason is None and hop.converged
    assert hop.barrier_forward_eV == pytest.approx(e0, abs=0.002)
    assert hop.barrier_reverse_eV == pytest.approx(e0, abs=0.002)
    assert hop.endpoint_separation_A == pytest.approx(A, abs=0.01)  # relaxed to fmax 1e-4 on a soft valley
    assert hop.endpoint_drift_A < 0.01
    saddle = max(hop.images[1:-1], key=lambda s: Valley(e0).get_potential_energy(_atom(*s.cart_coords[0])))
    x, y, _ = saddle.cart_coords[0]  # the stored images may be wrapped into the cell; V has period A in x
    assert [x % A, y] == pytest.approx([A / 2, C], abs=0.05)  # on the curved path, not the chord


def test_the_former_default_fmax_misses_a_small_barrier_the_new_one_resolves():
    """With fmax 0.05 the climbing image stops short of the 0.01 eV saddle; the default 0.01 does not."""
    start, end = _atom(0.0), _atom(A)
    outcomes = {fmax: converged_neb(start, end, Valley(0.01), NebSpec(fmax_eV_A=fmax, preconverge_fmax_eV_A=0.05))
                for fmax in (0.05, NebSpec().fmax_eV_A)}
    assert NebSpec().fmax_eV_A <= 0.02
    assert outcomes[NebSpec().fmax_eV_A].barrier_forward_eV == pytest.approx(0.01, abs=0.001)
    assert abs(outcomes[0.05].barrier_forward_eV - 0.01) > abs(outcomes[NebSpec().fmax_eV_A].barrier_forward_eV - 0.01)


def test_degenerate_band_is_rejected_with_its_reason():
    """The end endpoint placed in the start's basin relaxes into the start minimum: no band, a named reason."""
    with pytest.raises(EndpointMovedError, match=r"hop m->m \(2\.50 Å\): degenerate: both endpoints relaxed into one"):
        neb_path(
            Valley(0.05),
            _atom(0.1),
            _atom(0.4 * A),  # below the saddle at A/2: the basin of x = 0
            [(-1, (0.0, 0.0, Z0), (A, 0.0, Z0))],
            RELAX,
            NebSpec(),
            None,
            start="m",
            end="m",
            distance_A=A,
        )


def test_endpoint_drift_scales_with_the_hop():
    """(110): the 0.81 Å hollow–bridge hop with both endpoints relaxed to one point 0.40 Å from each site.

    The former absolute 0.5 Å rule passed it; measured against the hop it is degenerate. A 3 Å hop whose
    endpoint sits 0.6 Å off its site is still at that site (0.2 of the hop), which 0.5 Å rejected.
    """
    spec = NebSpec()
    cell = [8.0, 8.0, 20.0]
    middle = Atoms("Li", positions=[[0.40, 0.0, 5.0]], cell=cell, pbc=True)
    check = check_endpoints(middle, middle, [(-1, (0.0, 0.0, 5.0), (0.81, 0.0, 5.0))], spec)
    assert check.drift_A == pytest.approx(0.41) and check.drift_A < 0.5
    assert check.separation_A == pytest.approx(0.0)
    assert check.reason.startswith("degenerate: both endpoints relaxed into one minimum")

    start = Atoms("Li", positions=[[0.6, 0.0, 5.0]], cell=cell, pbc=True)
    end = Atoms("Li", positions=[[3.0, 0.0, 5.0]], cell=cell, pbc=True)
    long_hop = check_endpoints(start, end, [(-1, (0.0, 0.0, 5.0), (3.0, 0.0, 5.0))], spec)
    assert long_hop.reason is None and long_hop.drift_A == pytest.approx(0.6)
    assert long_hop.separation_A == pytest.approx(2.4)

    away = Atoms("Li", positions=[[1.2, 0.0, 5.0]], cell=cell, pbc=True)
    moved = check_endpoints(away, end, [(-1, (0.0, 0.0, 5.0), (3.0, 0.0, 5.0))], spec)
    assert moved.reason == (
        "the start endpoint's adatom relaxed 1.20 Å away from its site (above 0.3 × its 3.00 Å hop): "
        "not the minimum of that site"
    )


def test_wrapped_endpoint_is_measured_by_minimum_image():
    """An end site outside the cell and its atom wrapped into the cell: the same endpoint, not a moved one."""
    spec = NebSpec()
    start = Atoms("Li", positions=[[7.5, 1.0, 5.0]], cell=[8.0, 8.0, 20.0], pbc=True)
    end = Atoms("Li", positions=[[1.0, 1.0, 5.0]], cell=[8.0, 8.0, 20.0], pbc=True)  # the site at x = 9.0, wrapped
    check = check_endpoints(start, end, [(-1, (7.5, 1.0, 5.0), (9.0, 1.0, 5.0))], spec)
    assert check.reason is None and check.separation_A == pytest.approx(1.5) and check.drift_A == pytest.approx(0.0)


def test_band_with_its_maximum_at_an_endpoint_is_invalid():
    """A band up the side of the basin (end unrelaxed on the slope): the highest energy is the end itself."""
    outcome = converged_neb(_atom(0.0), _atom(0.4 * A), Valley(0.05), NebSpec(n_images=3, climb=False))
    assert outcome.converged and not outcome.valid
    assert outcome.invalid_reason.startswith("no interior maximum: the highest energy of the band is its end endpoint")
    assert outcome.energies_eV[-1] == max(outcome.energies_eV)
    # the barriers come from the highest interior image, not from the endpoint
    assert outcome.barrier_forward_eV == pytest.approx(max(outcome.energies_eV[1:-1]) - outcome.energies_eV[0])
    assert outcome.barrier_reverse_eV < 0


def test_flat_band_is_not_a_zero_barrier():
    outcome = converged_neb(_atom(0.0), _atom(A), Valley(0.0005), NebSpec(n_images=3))
    assert not outcome.valid
    assert outcome.invalid_reason.startswith("no interior maximum: the highest interior image is only 0.5")
    assert "below min_barrier_eV 1 meV" in outcome.invalid_reason


def test_unconverged_band_is_invalid():
    outcome = converged_neb(_atom(0.0), _atom(A), Valley(0.05), NebSpec(n_images=3, max_steps=3))
    assert (outcome.converged, outcome.steps, outcome.valid) == (False, 3, False)
    assert outcome.invalid_reason == (
        "unconverged: FIRE did not reach fmax 0.01 eV/Å in 3 steps (the band is not a minimum-energy path)"
    )


def test_band_invalid_reason_known_answers():
    spec = NebSpec()
    assert band_invalid_reason([0.0, 0.05, 0.0], True, spec) is None
    assert band_invalid_reason([0.2, 0.1, 0.0], True, spec).startswith(
        "no interior maximum: the highest energy of the band is its start endpoint (0.1000 eV above"
    )
    assert band_invalid_reason([0.0, 0.05, 0.0], False, spec).startswith("unconverged")


def _recording(monkeypatch, module):
    """Record the climb flag of every band a module builds, and the fmax of every FIRE run on it."""
    calls: list[tuple[str, object]] = []
    make_band = module.make_band

    def recording_make_band(images, neb, climb, **kwargs):
        calls.append(("climb", climb))
        return make_band(images, neb, climb, **kwargs)

    monkeypatch.setattr(module, "make_band", recording_make_band)
    return calls


def test_plain_neb_preconverges_before_the_image_climbs(monkeypatch):
    calls = _recording(monkeypatch, serial_neb)
    runs: list[tuple[float, float]] = []
    fire_run = serial_neb.FIRE.run

    def recording_run(self, fmax, steps):
        converged = fire_run(self, fmax=fmax, steps=steps)
        runs.append((fmax, float(np.linalg.norm(self.optimizable.get_gradient().reshape(-1, 3), axis=1).max())))
        return converged

    monkeypatch.setattr(serial_neb.FIRE, "run", recording_run)
    spec = NebSpec(n_images=3, fmax_eV_A=0.005, preconverge_fmax_eV_A=0.05)
    images = interpolated_band(_atom(0.0), _atom(A), 3)
    converged, steps = relax_band(images, Valley(0.05), spec)
    assert calls == [("climb", False), ("climb", True)]  # plain NEB first, then the climbing image
    assert [fmax for fmax, _ in runs] == [0.05, 0.005]
    assert runs[0][1] < 0.05 and runs[1][1] < 0.005 and converged and 0 < steps <= spec.max_steps
    calls.clear()
    relax_band(interpolated_band(_atom(0.0), _atom(A), 3), Valley(0.05), spec.model_copy(update={"climb": False}))
    assert calls == [("climb", False)]


def test_batched_bands_run_the_same_phases_and_steps(monkeypatch):
    spec = NebSpec(n_images=3, fmax_eV_A=0.005)
    pairs = [(_atom(0.0), _atom(A)), (_atom(0.0, 0.1), _atom(A, -0.1))]
    serial = []
    for start, end in pairs:
        images = interpolated_band(start, end, 3)
        serial.append((relax_band(images, Valley(0.05), spec), [image.positions.copy() for image in images]))
    calls = _recording(monkeypatch, serial_neb)  # relax_bands lives beside relax_band: record only the batched run
    bands = [interpolated_band(start, end, 3) for start, end in pairs]
    batched = relax_bands(bands, _evaluator(0.05), spec)
    assert calls == [("climb", False), ("climb", False), ("climb", True), ("climb", True)]
    for (result, positions), outcome, band in zip(serial, batched, bands):
        assert outcome == result and outcome[0]
        np.testing.assert_allclose([image.positions for image in band], positions, atol=1e-10)
    short = relax_bands([interpolated_band(_atom(0.0), _atom(A), 3)], _evaluator(0.05), NebSpec(max_steps=4))
    assert short == [(False, 4)]


def test_batched_outcome_carries_the_same_validity(monkeypatch):
    """The benchmarks' batched NEB driver (benchmarks/batched_extras.py) reports validity as the serial one does."""
    monkeypatch.setattr(batched_extras, "evaluate", lambda structures, model, max_atoms: _evaluator(0.05)(structures))
    pairs = [(_atom(0.0), _atom(A)), (_atom(0.0), _atom(0.4 * A))]
    spec = NebSpec(n_images=3)
    batched = batched_extras.converged_nebs(pairs, model=None, neb=spec)
    serial = [converged_neb(start, end, Valley(0.05), spec) for start, end in pairs]
    assert [b.invalid_reason for b in batched] == [s.invalid_reason for s in serial]
    assert batched[0].valid and batched[0].barrier_forward_eV == pytest.approx(0.05, abs=0.002)
    assert batched[1].invalid_reason.startswith("no interior maximum")


def test_hop_schema_defaults_and_label():
    hop = Hop(
        start="h", end="b", distance_A=0.81, barrier_forward_eV=0.1, barrier_reverse_eV=0.05, n_images=3,
        converged=False, endpoint_drift_A=0.0, valid=False, invalid_reason="unconverged: ...",
    )
    assert hop.path_label == "hop h->b (0.81 Å)"
    assert Hop.model_validate(hop.model_dump()).invalid_reason == "unconverged: ..."
    old = Hop(start="h", end="b", distance_A=0.81, barrier_forward_eV=0.1, barrier_reverse_eV=0.05, n_images=3,
              converged=True, endpoint_drift_A=0.0)
    assert (old.valid, old.invalid_reason) == (True, None)


def _stored_hop(start: str, end: str, valid: bool = True, reason: str | None = None, mechanism: str = "hop") -> dict:
    return Hop(
        start=start, end=end, distance_A=0.81, barrier_forward_eV=0.02, barrier_reverse_eV=0.02, n_images=3,
        converged=valid, endpoint_drift_A=0.0, mechanism=mechanism, valid=valid, invalid_reason=reason,
    ).model_dump(mode="json")


def test_status_lists_invalid_bands_per_facet(campaign, capsys):
    from li_campaign.cli.main import main
    from li_campaign.launch.status import campaign_status

    degenerate = "hop hollow->bridge (0.81 Å): degenerate: both endpoints relaxed into one minimum (...)"
    flat = "no interior maximum: the highest interior image is only 0.20 meV above the higher endpoint (...)"
    across = "across_step_hop upper-edge->lower-edge (0.81 Å): unconverged: FIRE did not reach fmax"
    outputs = [
        {"doc_type": "diffusion", "facet": "110", "rejected_hops": [degenerate],
         "hops": [_stored_hop("hollow", "hollow"), _stored_hop("hollow", "long", False, flat)]},
        {"doc_type": "diffusion", "facet": "100", "rejected_hops": [], "hops": [_stored_hop("hollow", "hollow")]},
        {"doc_type": "step_edge_diffusion", "terrace": "110", "step": "A", "rejected_hops": [across],
         "hops": [_stored_hop("upper-edge", "lower-edge", False, "unconverged: FIRE did not reach fmax",
                              "across_step_hop")]},
    ]
    store = campaign.job_store()
    store.connect()
    store.update([{"uuid": f"u{i}", "index": 1, "name": "neb", "output": out} for i, out in enumerate(outputs)],
                 key=["uuid", "index"])
    store.close()

    bands = campaign_status(campaign)["invalid_bands"]
    assert bands == [
        {"facet": "110", "path": "hop hollow->long (0.81 Å)", "reason": flat, "kind": "invalid band"},
        {"facet": "110", "path": "hop hollow->bridge (0.81 Å)", "reason": degenerate.split(": ", 1)[1],
         "kind": "rejected"},
        {"facet": "110 step A", "path": "across_step_hop upper-edge->lower-edge (0.81 Å)",
         "reason": "unconverged: FIRE did not reach fmax", "kind": "invalid band"},  # not listed twice
    ]
    assert main(["status"]) == 0
    printed = capsys.readouterr().out
    assert "NEB bands that give no barrier (left out of the minima):\n  110:\n" in printed
    assert f"    INVALID hop hollow->long (0.81 Å): {flat}\n" in printed
    assert "    REJECTED hop hollow->bridge (0.81 Å): degenerate: both endpoints relaxed into one minimum" in printed
    assert "  100:" not in printed
    assert main(["status", "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["invalid_bands"] == bands
