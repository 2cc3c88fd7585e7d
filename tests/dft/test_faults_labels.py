"""DFT failures (crashed engine, NaN, garbage output) fail the label job with the reason; no broken frame is stored."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from jobflow import Flow
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.launch.runner import run_workers
from li_campaign.launch.status import campaign_status
from li_campaign.launch.submit import submit_flow
from li_campaign.dft import engines
from li_campaign.dft.engines import LabelError, label_atoms
from li_campaign.dft.jobs import LabelFrameMaker
from li_campaign.schemas.spec import DftSpec
from tests.morse_reference import Morse

pytestmark = pytest.mark.faults

MORSE = DftSpec(engine="morse")


class Broken(Calculator):
    """An engine that crashes, or returns NaN or malformed arrays."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.mode == "crash":
            raise RuntimeError("engine exited with signal 11 (segmentation fault)")
        n = len(self.atoms)
        energy = float("nan") if self.mode == "nan" else -3.8
        forces = np.zeros((n - 1, 3)) if self.mode == "shape" else np.zeros((n, 3))
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}
        if self.mode != "no_stress":
            self.results["stress"] = np.zeros(6)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("crash", "morse failed on Li2: RuntimeError: engine exited with signal 11"),
        ("nan", "morse returned non-finite energy/forces/stress for Li2"),
        ("shape", "morse returned forces of shape (1, 3) for 2 atoms"),
        ("no_stress", "morse failed on Li2: PropertyNotImplementedError"),
    ],
)
def test_engine_failures_are_label_errors_with_the_reason(mode, reason, monkeypatch):
    monkeypatch.setattr(engines, "make_calculator", lambda atoms, dft, slab, workdir, kpts=None: (Broken(mode), {"engine": "morse"}))
    with pytest.raises(LabelError, match=re.escape(reason)):
        label_atoms(bulk("Li", "bcc", a=3.44, cubic=True), MORSE)


def test_garbage_engine_output_fails_the_job_and_stores_no_frame(campaign):
    """A real engine run through the real workers: Morse far inside its core overflows to inf/NaN."""
    squeezed = AseAtomsAdaptor.get_structure(bulk("Li", "bcc", a=2.2, cubic=True))  # passes the input checks
    maker = LabelFrameMaker(dft=DftSpec(engine="morse", morse={"rho0": 1000.0}), campaign="t", spec_hash="h")
    good = LabelFrameMaker(dft=MORSE, campaign="t", spec_hash="h").make(
        AseAtomsAdaptor.get_structure(bulk("Li", "bcc", a=3.44, cubic=True)), "t:bulk_strain:0", "bulk_strain", "ok"
    )
    bad = maker.make(squeezed, "t:bulk_strain:1", "bulk_strain", "squeezed")
    submit_flow(campaign, Flow([good, bad]), "dft-garbage")
    summary = run_workers(campaign, n_workers=1, progress=False)
    assert summary.states == {"COMPLETED": 1, "FIZZLED": 1}
    (failed,) = campaign_status(campaign)["failed"]
    assert "LabelError: morse returned non-finite energy/forces/stress for Li2" in failed["reason"]
    store = campaign.job_store()
    store.connect()
    frames = list(store.query({"output.doc_type": "training_frame"}, properties=["uuid", "output"]))
    assert [frame["uuid"] for frame in frames] == [good.uuid]  # the failed label left no frame
    # the stored frame is the Morse label of the 2-atom bcc cell: 2 ε_bulk(3.44 Å) by the lattice sum, no force
    assert frames[0]["output"]["energy_eV"] == pytest.approx(2 * Morse().bcc_energy_per_atom(3.44), abs=1e-9)
    assert np.allclose(frames[0]["output"]["forces_eV_A"], np.zeros((2, 3)), atol=1e-9)
