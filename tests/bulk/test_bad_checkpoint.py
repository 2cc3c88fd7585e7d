"""Damaged finite-temperature MD checkpoints are set aside (renamed, bytes kept) with a warning naming
the file, and their runs start again from step 0; the result is that of an undisturbed run."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential

from li_campaign.bulk.finite_temperature import finite_temperature_properties
from tests.bulk.test_finite_temperature import TINY  # the same tiny MD settings

A = 3.32  # start lattice constant (Å), near the zero-pressure one of this Morse
T = 150.0
OBSERVABLES = ("lattice_constant_A", "C11_GPa", "C12_GPa", "C44_GPa", "heat_capacity_kB_per_atom", "trajectory")
NPT = "ft_150K_npt.npz"
NVT_RUNS = ("nvt", "nvt_x+", "nvt_x-")


def morse(epsilon: float = 0.2) -> MorsePotential:
    """Morse pair potential with a short cutoff (deterministic, 6 ms per 16-atom step)."""
    return MorsePotential(epsilon=epsilon, r0=3.0, rho0=3.5, rcut1=1.2, rcut2=1.5)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[dict, Path]:
    """A finished calculation: its result and its checkpoint folder (tests work on copies)."""
    folder = tmp_path_factory.mktemp("finished")
    return finite_temperature_properties(morse(), A, T, TINY, folder), folder


def _npz_with(path: Path, **changes: np.ndarray) -> bytes:
    """The bytes of checkpoint ``path`` with some arrays replaced: a readable archive whose content is wrong."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files} | changes
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


DAMAGE = {  # how the NPT checkpoint is damaged -> the reason given
    "cut short": (lambda path: path.read_bytes()[:3000], r"unreadable: BadZipFile: File is not a zip file"),
    "overwritten": (lambda path: b"\x00" * 4096, r"unreadable: not an \.npz archive \(no zip header\)"),
    "emptied": (lambda path: b"", r"unreadable: not an \.npz archive \(no zip header\)"),
    "positions of another cell size": (
        lambda path: _npz_with(path, positions=np.zeros((15, 3))),
        r"inconsistent: positions \(15, 3\), not \(16, 3\)",
    ),
    "non-finite momenta": (
        lambda path: _npz_with(path, momenta=np.full((16, 3), np.nan)),
        r"inconsistent: non-finite positions, momenta or cell",
    ),
}


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_checkpoint_is_set_aside_and_its_run_starts_again(finished, tmp_path, caplog, how):
    reference, source = finished
    folder = tmp_path / "job"
    shutil.copytree(source, folder)
    checkpoint = folder / NPT
    damage, reason = DAMAGE[how]
    checkpoint.write_bytes(damage(checkpoint))
    damaged = _sha(checkpoint)
    with caplog.at_level(logging.WARNING, logger="li_campaign.bulk.finite_temperature"):
        result = finite_temperature_properties(morse(), A, T, TINY, folder)
    aside = folder / f"{NPT}.damaged"
    assert _sha(aside) == damaged  # kept byte for byte
    message = (
        rf"checkpoint {re.escape(str(checkpoint))}: {reason}; set aside as {NPT}\.damaged, "
        "the run starts again from step 0"
    )
    assert any(re.fullmatch(message, record.getMessage()) for record in caplog.records), caplog.text
    assert result["restarts"][:3] == [f"{name}: read back finished" for name in NVT_RUNS]
    assert re.fullmatch(rf"npt: checkpoint {reason}; set aside as {NPT}\.damaged, run from step 0", result["restarts"][3])
    assert result["md_steps"] == TINY.npt_equilibration_steps + TINY.npt_production_steps  # the NPT run only
    for key in OBSERVABLES:
        assert result[key] == reference[key], key
    with np.load(checkpoint) as data:  # a new, complete checkpoint in its place
        assert data["positions"].shape == (16, 3)


def test_a_second_damaged_checkpoint_does_not_replace_the_first(finished, tmp_path):
    reference, source = finished
    folder = tmp_path / "job"
    shutil.copytree(source, folder)
    checkpoint = folder / NPT
    checkpoint.write_bytes(b"first damage")
    finite_temperature_properties(morse(), A, T, TINY, folder)
    checkpoint.write_bytes(b"second damage")
    result = finite_temperature_properties(morse(), A, T, TINY, folder)
    assert (folder / f"{NPT}.damaged").read_bytes() == b"first damage"
    assert (folder / f"{NPT}.damaged-2").read_bytes() == b"second damage"
    assert result["C44_GPa"] == reference["C44_GPa"]


def test_nvt_checkpoints_of_another_npt_run_are_set_aside_as_stale(finished, tmp_path):
    """A calculator that is not bit-for-bit deterministic (a GPU) reruns the NPT run to another end state:
    the NVT checkpoints, which started from the old one, are set aside and their runs start again."""
    _, source = finished
    folder = tmp_path / "job"
    shutil.copytree(source, folder)
    nvt_checkpoints = {name: _sha(folder / f"ft_150K_{name}.npz") for name in NVT_RUNS}
    (folder / NPT).write_bytes(b"")
    wobbly = morse(epsilon=0.2 * (1 + 1e-9))  # rounding-level difference, as between two GPU runs
    result = finite_temperature_properties(wobbly, A, T, TINY, folder)
    for name, sha in nvt_checkpoints.items():
        assert _sha(folder / f"ft_150K_{name}.npz.stale") == sha
        assert f"{name}: checkpoint started from another cell (its NPT run was run again since); " \
            f"set aside as ft_150K_{name}.npz.stale, run from step 0" in result["restarts"]
    fresh = finite_temperature_properties(wobbly, A, T, TINY, tmp_path / "fresh")
    for key in OBSERVABLES:
        assert result[key] == fresh[key], key
