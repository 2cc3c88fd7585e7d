"""Bad fits, each provoked for real: the fit job fails with a message naming the file or field, nothing stored changes.

The job-level tests label a few Morse frames into a real embedded campaign (jobflow
``run_locally``), then submit the fit job and run it with a real worker process
(:func:`~li_campaign.launch.runner.run_workers`): the reason ``li-campaign status`` shows, the
full error of the launch, the JobStore and ``<campaign>/models`` are checked.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from jobflow import Flow, JobStore, run_locally

from li_campaign.active.jobs import training_set_doc
from li_campaign.core.errors import ModelIntegrityError
from li_campaign.core.hashing import file_sha256
from li_campaign.db.config import Campaign
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.runner import run_workers
from li_campaign.launch.status import campaign_status
from li_campaign.launch.submit import submit_flow
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.calculator import load_calculator, model_species
from li_campaign.mlip.jobs import FitNequipMaker
from li_campaign.schemas.frames import TrainingSetDoc
from li_campaign.schemas.spec import DftSpec, MlipSpec, TrainingSetSpec
from li_campaign.structures.jobs import TrainingSetMaker

CAMPAIGN, SPEC_HASH = "bad-fits", "0" * 64
TINY = {"num_layers": 1, "num_features": 4, "radial_mlp_width": 16, "max_epochs": 1, "device": "cpu", "deploy": "eager",
        "max_train_energy_mae_meV_atom": None}  # one epoch does not fit; these tests provoke other failures
MORSE = DftSpec(engine="morse", morse={"epsilon_eV": 0.1, "r0_A": 3.4, "rho0": 4.0})


@dataclass
class FailedFit:
    """What a failed fit job left: the status line, the launch's full error and its folder."""

    reason: str
    error: str
    launch_dir: Path


def _store(campaign: Campaign) -> JobStore:
    """The campaign's JobStore, connected."""
    store = campaign.job_store()
    store.connect()
    return store


def _label(campaign: Campaign, tmp_path: Path) -> TrainingSetDoc:
    """Label six rattled 16-atom bcc Li cells and the isolated atom with Morse into the campaign's JobStore."""
    spec = TrainingSetSpec(bulk={"n_strained": 0, "n_rattled": 6, "rattled_supercell": (2, 2, 2)}, vacancy=None, slabs=None)
    flow = Flow([TrainingSetMaker(training_set=spec, dft=MORSE, seed=3, campaign=CAMPAIGN, spec_hash=SPEC_HASH).make()])
    responses = run_locally(
        flow, store=_store(campaign), create_folders=True, root_dir=tmp_path / "label", log=False, ensure_success=True
    )
    (doc,) = [r.output for runs in responses.values() for r in runs.values() if isinstance(r.output, TrainingSetDoc)]
    assert doc.n_frames == 7 and doc.counts_by_origin["isolated_atom"] == 1
    return doc


def _failed_fit(campaign: Campaign, training_set: TrainingSetDoc, mlip: MlipSpec) -> FailedFit:
    """Submit the fit job, run it with a worker; check it failed and changed nothing stored."""
    store = _store(campaign)
    before = store.count()
    fit = FitNequipMaker(mlip=mlip, campaign=CAMPAIGN, spec_hash=SPEC_HASH).make(training_set)
    submit_flow(campaign, Flow([fit]), "fit")
    summary = run_workers(campaign, progress=False)
    assert summary.states == {"FIZZLED": 1}
    (failed,) = campaign_status(campaign)["failed"]
    with open_launchpad(campaign, write=False) as lp:
        launch = lp.launches.find_one({"fw_id": failed["fw_id"]}, {"action": 1})
    error = launch["action"]["stored_data"]["_exception"]["_stacktrace"]
    assert store.count() == before  # nothing stored, no ModelDoc registered ...
    assert store.count({"output.doc_type": "model"}) == 0
    assert not list(campaign.models_dir.glob("*"))  # ... and no file in <campaign>/models
    return FailedFit(failed["reason"], error, Path(failed["launch_dir"]))


def test_training_frames_missing_from_the_store_fail_the_fit_naming_them(campaign, tmp_path):
    labelled = _label(campaign, tmp_path)
    missing = ["elsewhere:bulk_strain:0000", "elsewhere:bulk_strain:0001"]
    training_set = training_set_doc(CAMPAIGN, SPEC_HASH, [*labelled.frame_ids, *missing])
    failure = _failed_fit(campaign, training_set, MlipSpec(**TINY))
    store = f"SafeMontyStore 'outputs' in {campaign.montydb_dir}/"
    expected = (
        rf"MissingDataError: 2 of the 9 training frames of campaign\(s\) \['elsewhere'\] are not in the JobStore "
        rf"{re.escape(store)}\S+: {', '.join(missing)}\. Their label jobs never stored them here \(another store\?\) "
        "or they were deleted; nothing was trained or stored"
    )
    assert re.search(expected, failure.reason), failure.reason
    assert not (failure.launch_dir / "nequip.yaml").exists()  # refused before anything was written


@pytest.mark.slow
def test_nequip_train_crash_fails_the_fit_with_its_log(campaign, tmp_path):
    """A cutoff (2.1 Å) below bcc Li's nearest-neighbour distance: no edges, nequip-train's model setup divides
    by the zero mean neighbour count (exit code 1)."""
    training_set = _label(campaign, tmp_path)
    mlip = MlipSpec(**TINY, r_max_A=2.1)
    failure = _failed_fit(campaign, training_set, mlip)
    log = failure.launch_dir / "nequip-train.log"
    first = f"nequip-train crashed on {failure.launch_dir / 'nequip.yaml'} (exit code 1): "
    assert first in failure.reason and "ZeroDivisionError" in failure.reason, failure.reason
    tail = "\n".join(f"    {line}" for line in log.read_text().splitlines()[-nequip_cli.TAIL_LINES :])
    assert f"log: {log}; its last {nequip_cli.TAIL_LINES} lines:\n{tail}" in failure.error
    assert not (failure.launch_dir / "model.nequip.zip").exists()


@pytest.mark.slow
def test_nan_loss_fails_the_fit_naming_the_epoch_and_log(campaign, tmp_path):
    """A learning rate of 1e30: nequip-train itself exits 0 with a NaN best.ckpt; the job reads the logged losses."""
    training_set = _label(campaign, tmp_path)
    failure = _failed_fit(campaign, training_set, MlipSpec(**{**TINY, "learning_rate": 1e30}))
    run = failure.launch_dir / "train"
    metrics = run / "lightning_logs" / "version_0" / "metrics.csv"
    assert (run / "best.ckpt").is_file()  # nequip did not stop by itself
    with open(metrics, newline="") as f:
        epoch, column = next(
            (row["epoch"], name)
            for row in csv.DictReader(f)
            for name, value in row.items()
            if (name.startswith("train_loss") or name.endswith("weighted_sum")) and value and math.isnan(float(value))
        )
    expected = (
        f"NequipError: nequip-train reached a NaN loss at epoch {epoch} ({column} = nan); the trained weights are "
        f"unusable. log: {failure.launch_dir / 'nequip-train.log'}; metrics: {metrics}"
    )
    assert expected in failure.reason, failure.reason
    assert not (failure.launch_dir / "model.nequip.zip").exists()  # stopped before packaging


@pytest.mark.slow
def test_aotinductor_compile_failure_fails_the_fit_naming_the_package(campaign, tmp_path, monkeypatch):
    """``CXX=/bin/false``: torch inductor finds no working C++ compiler, so nequip-compile fails for real.

    On the CPU the fit job re-raises (on a GPU it would deploy the eager package instead).
    """
    training_set = _label(campaign, tmp_path)
    monkeypatch.setenv("CXX", "/bin/false")
    failure = _failed_fit(campaign, training_set, MlipSpec(**{**TINY, "deploy": "aotinductor"}))
    package = failure.launch_dir / "model.nequip.zip"
    log = failure.launch_dir / "nequip-compile-ase.log"
    assert package.is_file()
    expected = (
        f"nequip-compile crashed on {package} (exit code 1): torch._inductor.exc.InductorError: InvalidCxxCompiler: "
        "No working C++ compiler found in torch._inductor.config.cpp.cxx: (None, '/bin/false')"
    )
    assert expected in failure.reason, failure.reason
    tail = "\n".join(f"    {line}" for line in log.read_text().splitlines()[-nequip_cli.TAIL_LINES :])
    assert f"log: {log}; its last {nequip_cli.TAIL_LINES} lines:\n{tail}" in failure.error


def test_train_without_metrics_cannot_vouch_for_the_loss(tmp_path):
    """A run without the CSV logger's metrics.csv is not taken as finite."""
    expected = rf"nequip-train wrote no lightning_logs/version_\*/metrics.csv in {re.escape(str(tmp_path))}"
    with pytest.raises(nequip_cli.NequipError, match=expected):
        nequip_cli.check_finite_loss(tmp_path, tmp_path / "nequip-train.log")


@pytest.fixture(scope="module")
def li_na_package(tmp_path_factory) -> Path:
    """A tiny NequIP for Li and Na (one epoch on Morse-labelled Li/Na cells), packaged as .nequip.zip."""
    from ase.build import bulk
    from ase.calculators.morse import MorsePotential
    from ase.calculators.singlepoint import SinglePointCalculator

    from li_campaign.mlip.dataset import write_extxyz
    from li_campaign.mlip.nequip_config import nequip_config

    work = tmp_path_factory.mktemp("li_na")
    morse = MorsePotential(epsilon=0.1, r0=3.4, rho0=4.0)
    frames = []
    for i in range(5):
        atoms = bulk("Li", "bcc", a=3.5, cubic=True).repeat(2)
        atoms.symbols[np.arange(i % 3, len(atoms), 3)] = "Na"
        atoms.rattle(0.05, seed=i)
        atoms.calc = morse
        energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
        frames.append(atoms)
    parts = {"train": frames[:3], "val": frames[3:4], "test": frames[4:]}
    files = {part: write_extxyz(atoms, work / f"{part}.extxyz") for part, atoms in parts.items()}
    config = nequip_config(MlipSpec(**TINY), files)
    config["model_type_names"] = ["Li", "Na"]
    path = work / "nequip.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return nequip_cli.package(nequip_cli.train(path, work / "train"), work / "model.nequip.zip")


@pytest.mark.slow
def test_a_model_for_other_species_is_refused_before_loading(li_na_package, monkeypatch):
    from nequip.integrations.ase import NequIPCalculator

    assert model_species(li_na_package) == ["Li", "Na"]
    loaded = []
    monkeypatch.setattr(NequIPCalculator, "_from_saved_model", lambda *args, **kwargs: loaded.append(args))
    expected = (
        rf"{re.escape(str(li_na_package))}: the model was trained for species \['Li', 'Na'\], "
        r"not lithium only \(\['Li'\]\)"
    )
    with pytest.raises(ModelIntegrityError, match=expected):
        load_calculator(li_na_package, file_sha256(li_na_package), "eager")
    assert loaded == []  # refused from the package's metadata, never unpickled
