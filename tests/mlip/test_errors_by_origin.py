"""Per-origin error table of the holdout evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.morse import MorsePotential
from ase.calculators.singlepoint import SinglePointCalculator

from li_campaign.mlip.evaluate import evaluate_holdout


def _labelled(atoms, calc, origin):
    atoms = atoms.copy()
    atoms.calc = calc
    ref = atoms.copy()
    ref.calc = SinglePointCalculator(
        ref, energy=atoms.get_potential_energy(), forces=atoms.get_forces(), stress=atoms.get_stress(voigt=True)
    )
    ref.info["origin"] = origin
    return ref


def test_errors_are_broken_down_by_origin():
    teacher = MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5)
    model = MorsePotential(epsilon=0.21, r0=3.0, rho0=3.5)
    cell = bulk("Li", "bcc", a=3.44, cubic=True) * (2, 1, 1)
    frames = []
    for i, origin in enumerate(["bulk_strain", "bulk_strain", "liquid"]):
        atoms = cell.copy()
        atoms.rattle(0.05 * (i + 1), seed=i)
        frames.append(_labelled(atoms, teacher, origin))
    errors, _ = evaluate_holdout(model, frames)
    assert set(errors.by_origin) == {"bulk_strain", "liquid"}
    assert (errors.by_origin["bulk_strain"].n_frames, errors.by_origin["liquid"].n_frames) == (2, 1)
    liquid = frames[2].copy()
    liquid.calc = model
    expected = abs(liquid.get_potential_energy() - frames[2].get_potential_energy()) / len(liquid) * 1000
    assert errors.by_origin["liquid"].energy_mae_meV_atom == pytest.approx(expected)
    df = (liquid.get_forces() - frames[2].get_forces()).ravel() * 1000
    assert errors.by_origin["liquid"].force_rmse_meV_A == pytest.approx(np.sqrt(np.mean(df**2)))
    bulk_errors = []
    for frame in frames[:2]:
        predicted = frame.copy()
        predicted.calc = model
        bulk_errors.append(abs(predicted.get_potential_energy() - frame.get_potential_energy()) / len(frame) * 1000)
    assert errors.by_origin["bulk_strain"].energy_mae_meV_atom == pytest.approx(np.mean(bulk_errors))
    weighted = (2 * errors.by_origin["bulk_strain"].energy_mae_meV_atom + expected) / 3
    assert errors.energy_mae_meV_atom == pytest.approx(weighted)
    # the 5 % deeper well shifts E by 5 %: ~100 meV/atom, so the checks above do not compare zeros
    assert expected == pytest.approx(0.05 * abs(frames[2].get_potential_energy()) / len(liquid) * 1000, rel=1e-6)


def test_a_perfect_model_has_zero_error_in_every_origin():
    teacher = MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5)
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    atoms.rattle(0.05, seed=1)
    errors, _ = evaluate_holdout(teacher, [_labelled(atoms, teacher, "divacancy")])
    assert errors.by_origin["divacancy"].force_mae_meV_A == pytest.approx(0.0, abs=1e-9)
