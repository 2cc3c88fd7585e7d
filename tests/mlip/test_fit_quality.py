"""A fit that fits (issue 17): stratified split, stress masked on cells with vacuum, balanced loss,
learning-rate schedule and early stopping, per-origin errors and the training-error threshold."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from ase import Atoms
from ase.build import bcc100, bulk
from ase.calculators.morse import MorsePotential
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read

from li_campaign.core.hashing import file_sha256
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.calculator import load_calculator
from li_campaign.core.errors import InputError
from li_campaign.mlip.dataset import (
    POOLED,
    TRAIN_ONLY_ORIGINS,
    has_vacuum,
    label_scales,
    split_frames,
    vacuum_gap_A,
    write_extxyz,
)
from li_campaign.mlip.jobs import energy_shift
from li_campaign.mlip.evaluate import FitQualityError, check_training_errors, evaluate_holdout
from li_campaign.mlip.nequip_config import loss_coefficients, nequip_config, read_scales
from li_campaign.schemas.models import HoldoutErrors, OriginErrors
from li_campaign.schemas.spec import MlipSpec

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
# the demo's 44 frames by origin
DEMO = {"bulk_strain": 14, "bulk_rattle": 8, "vacancy": 1, "slab": 12, "adatom": 9}
MORSE = MorsePotential(epsilon=0.1, r0=3.4, rho0=4.0, rc=6.0)


def _demo_ids(campaign: str = "c") -> dict[str, str]:
    return {f"{campaign}:{origin}:{i:04d}": origin for origin, n in DEMO.items() for i in range(n)}


# ---------------------------------------------------------------- stratified split


def test_split_puts_every_large_origin_in_train_val_and_test_in_proportion():
    origin = _demo_ids()
    split = split_frames(list(origin), FRACTIONS, seed=7, stratum=origin.__getitem__)
    assert sorted(sum(split.values(), [])) == sorted(origin)  # complete and disjoint
    counts = {part: Counter(origin[i] for i in ids) for part, ids in split.items()}
    for name, n in DEMO.items():
        if n < 5:  # the single vacancy frame is pooled; a pool of one frame is trained on
            assert (counts["train"][name], counts["val"][name], counts["test"][name]) == (1, 0, 0)
            continue
        n_held = max(1, round(0.1 * n))
        assert (counts["val"][name], counts["test"][name]) == (n_held, n_held), name
        assert counts["train"][name] == n - 2 * n_held, name
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (36, 4, 4)


def test_small_origins_are_pooled_and_the_pool_is_split():
    origin = {**{f"c:bulk_strain:{i}": "bulk_strain" for i in range(10)}, **{f"c:liquid:{i}": "liquid" for i in range(2)}}
    origin.update({f"c:aimd:{i}": "aimd" for i in range(2)})
    split = split_frames(list(origin), FRACTIONS, seed=1, stratum=origin.__getitem__, min_stratum_frames=5)
    pool = [i for i in origin if origin[i] != "bulk_strain"]
    assert sum(i in pool for i in split["val"]) == 1 and sum(i in pool for i in split["test"]) == 1
    assert sum(i in pool for i in split["train"]) == 2
    assert POOLED == "(pooled)"


def test_stratified_split_is_deterministic_by_seed_and_content_not_names():
    origin = _demo_ids("alpha")
    renamed = {i.replace("alpha", "beta"): o for i, o in origin.items()}
    content = {i: f"content-{i.split(':', 1)[1]}" for i in origin}  # same content under both campaign names
    content.update({i.replace("alpha", "beta"): c for i, c in content.items()})
    first = split_frames(list(origin), FRACTIONS, 3, sort_key=content.__getitem__, stratum=origin.__getitem__)
    again = split_frames(list(reversed(list(origin))), FRACTIONS, 3, sort_key=content.__getitem__, stratum=origin.__getitem__)
    other = split_frames(list(renamed), FRACTIONS, 3, sort_key=content.__getitem__, stratum=renamed.__getitem__)
    assert first == again
    assert {p: [i.replace("alpha", "beta") for i in ids] for p, ids in first.items()} == other
    reseeded = split_frames(list(origin), FRACTIONS, 4, sort_key=content.__getitem__, stratum=origin.__getitem__)
    assert reseeded["test"] != first["test"]


def test_split_refuses_a_too_small_stratum_minimum():
    with pytest.raises(ValueError, match="min_stratum_frames must be at least 3"):
        split_frames(["a", "b", "c"], FRACTIONS, 0, min_stratum_frames=2)


# ---------------------------------------------------------------- stress masking


def _labelled(atoms, origin: str, seed: int):
    atoms = atoms.copy()
    atoms.rattle(0.05, seed=seed)
    atoms.calc = MORSE
    ref = atoms.copy()
    ref.calc = SinglePointCalculator(
        ref, energy=atoms.get_potential_energy(), forces=atoms.get_forces(), stress=atoms.get_stress(voigt=True)
    )
    ref.info["origin"] = origin
    ref.info["stress_masked"] = has_vacuum(ref, origin)
    return ref


def _slab(vacuum: float = 4.0):
    return bcc100("Li", (2, 2, 3), a=3.44, vacuum=vacuum, periodic=True)


def test_vacuum_is_found_by_origin_and_by_the_gap_along_z():
    slab, cell = _slab(), bulk("Li", "bcc", a=3.44, cubic=True).repeat(2)
    vacancy = cell.copy()
    del vacancy[3]
    assert vacuum_gap_A(slab) == pytest.approx(8.0, abs=1e-6)  # 4 Å of vacuum on each side, across the boundary
    assert vacuum_gap_A(cell) == pytest.approx(1.72, abs=1e-6)
    assert has_vacuum(slab, "active_learning")  # a slab frame from another origin: found by its gap
    assert has_vacuum(cell, "adatom")  # a slab origin is masked whatever its cell
    assert not has_vacuum(cell, "bulk_strain") and not has_vacuum(vacancy, "vacancy")


def test_the_data_nequip_reads_has_no_stress_on_vacuum_cells(tmp_path):
    frames = [_labelled(bulk("Li", "bcc", a=3.44, cubic=True).repeat(2), "bulk_strain", 0), _labelled(_slab(), "slab", 1)]
    path = write_extxyz(frames, tmp_path / "train.extxyz")
    bulk_back, slab_back = read(path, index=":", format="extxyz")
    assert np.allclose(bulk_back.get_stress(), frames[0].get_stress(), atol=1e-12)
    assert np.abs(frames[0].get_stress()).max() > 1e-4  # a real stress, not zeros
    assert np.isnan(slab_back.get_stress()).all()
    assert np.allclose(slab_back.get_forces(), frames[1].get_forces()) and np.isfinite(frames[1].get_stress()).all()
    assert slab_back.get_potential_energy() == pytest.approx(frames[1].get_potential_energy())


@pytest.mark.slow
def test_a_batch_of_vacuum_cells_only_adds_no_stress_loss():
    """nequip's ignore_nan alone gives 0/0 = NaN for a batch without stress; the masked metric gives 0."""
    from hydra.utils import instantiate
    from nequip.data import AtomicDataDict

    from li_campaign.mlip.nequip_config import _loss

    loss = instantiate(_loss({"total_energy": 1.0, "forces": 1.0, "stress": 1.0}))
    energy = torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    pred = {
        AtomicDataDict.TOTAL_ENERGY_KEY: energy,
        AtomicDataDict.NUM_NODES_KEY: torch.tensor([2, 2]),
        AtomicDataDict.FORCE_KEY: torch.zeros(4, 3, dtype=torch.float64),
        AtomicDataDict.STRESS_KEY: torch.zeros(2, 3, 3, dtype=torch.float64),
    }
    target = {**pred, AtomicDataDict.TOTAL_ENERGY_KEY: torch.tensor([[1.2], [2.0]], dtype=torch.float64)}
    target[AtomicDataDict.STRESS_KEY] = torch.full((2, 3, 3), float("nan"), dtype=torch.float64)
    out = loss(pred, target)
    assert out["stress_mse"].item() == 0.0
    # per-atom energy MSE = ((0.2/2)^2 + 0) / 2 = 0.005, a third of the normalised weight
    assert out["weighted_sum"].item() == pytest.approx(0.005 / 3)
    out["weighted_sum"].backward()
    assert torch.isfinite(energy.grad).all() and energy.grad.abs().sum() > 0


# ---------------------------------------------------------------- balanced loss, schedule, early stopping


def test_default_loss_coefficients_give_each_term_the_same_start_weight(tmp_path):
    frames = [_labelled(bulk("Li", "bcc", a=3.40 + 0.03 * i, cubic=True).repeat(2), "bulk_strain", i) for i in range(3)]
    frames.append(_labelled(_slab(), "slab", 9))
    scales = label_scales(frames)
    e = np.array([a.get_potential_energy() / len(a) for a in frames])
    f = np.concatenate([a.get_forces().ravel() for a in frames])
    s = np.array([a.get_stress() for a in frames[:3]])  # the slab's stress is masked
    assert scales["total_energy"] == pytest.approx(np.std(e))
    assert scales["forces"] == pytest.approx(np.sqrt(np.mean(f**2)))
    assert scales["stress"] == pytest.approx(np.sqrt(np.mean(s**2)))
    coeffs = loss_coefficients(MlipSpec(), scales)
    start = {term: coeffs[term] * scales[term] ** 2 for term in coeffs}  # coefficient x initial MSE
    assert start == pytest.approx({"total_energy": 1.0, "forces": 1.0, "stress": 1.0})
    explicit = {"total_energy": 10.0, "forces": 1.0, "stress": 1000.0}
    assert loss_coefficients(MlipSpec(loss_coeffs=explicit), scales) == explicit
    # read back from the files nequip reads (NaN stress = masked): the same scales
    files = {p: write_extxyz(frames, tmp_path / f"{p}.extxyz") for p in ("train", "val", "test")}
    assert read_scales(files)["train"] == pytest.approx(scales)


def test_loss_coeffs_must_weight_every_term():
    with pytest.raises(ValueError, match=r"loss_coeffs needs a weight for each .* missing \['stress'\]"):
        MlipSpec(loss_coeffs={"total_energy": 1.0, "forces": 1.0})


def test_config_has_a_plateau_schedule_and_early_stopping_on_the_validation_loss():
    spec = MlipSpec(lr_plateau_patience=7, lr_plateau_factor=0.3, early_stopping_patience=25, max_epochs=900)
    files = {k: Path(f"/abs/{k}.extxyz") for k in ("train", "val", "test")}
    scales = {k: {"total_energy": 0.05, "forces": 0.2, "stress": None if k == "val" else 0.003} for k in files}
    cfg = nequip_config(spec, files, scales=scales)
    module = cfg["training_module"]
    sched = module["lr_scheduler"]
    assert sched["scheduler"]["_target_"] == "torch.optim.lr_scheduler.ReduceLROnPlateau"
    assert (sched["scheduler"]["patience"], sched["scheduler"]["factor"], sched["monitor"]) == (7, 0.3, "${monitored_metric}")
    (stop,) = [c for c in cfg["trainer"]["callbacks"] if c["_target_"].endswith("EarlyStopping")]
    assert (stop["patience"], stop["monitor"], cfg["monitored_metric"]) == (25, "${monitored_metric}", "val0_epoch/weighted_sum")
    assert cfg["trainer"]["max_epochs"] == 900
    # the val set has no stress label: no stress metric (it would be 0/0)
    names = [m["name"] for m in module["val_metrics"]["metrics"]]
    assert names == ["per_atom_energy_mae", "per_atom_energy_rmse", "forces_mae", "forces_rmse"]
    assert [m["coeff"] for m in module["val_metrics"]["metrics"]] == [pytest.approx(20.0), None, pytest.approx(5.0), None]
    assert all(c["_target_"] != "lightning.pytorch.callbacks.EarlyStopping" for c in nequip_config(
        MlipSpec(early_stopping_patience=None), files, scales=scales)["trainer"]["callbacks"])


def test_learning_curve_is_read_per_epoch_from_metrics_csv(tmp_path):
    log = tmp_path / "lightning_logs" / "version_0"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text(
        "epoch,lr-Adam,step,train_loss_epoch/weighted_sum,val0_epoch/weighted_sum\n"
        ",0.01,0,,\n0,,3,,0.9\n0,,3,1.5,\n,0.005,3,,\n1,,6,,0.7\n1,,6,1.1,\n"
    )
    assert nequip_cli.learning_curve(tmp_path) == [
        {"epoch": 0, "train_loss": 1.5, "val_loss": 0.9, "learning_rate": 0.01},
        {"epoch": 1, "train_loss": 1.1, "val_loss": 0.7, "learning_rate": 0.005},
    ]


# ---------------------------------------------------------------- errors per origin and the threshold


def test_stress_error_skips_masked_frames_and_origins_match_a_hand_computation():
    model = MorsePotential(epsilon=0.105, r0=3.4, rho0=4.0, rc=6.0)
    frames = [_labelled(bulk("Li", "bcc", a=3.44, cubic=True).repeat(2), "bulk_strain", i) for i in range(2)]
    frames.append(_labelled(_slab(), "slab", 5))
    errors, _ = evaluate_holdout(model, frames)
    hand_e, hand_s = {}, []
    for ref in frames:
        atoms = ref.copy()
        atoms.calc = model
        hand_e.setdefault(ref.info["origin"], []).append(
            abs(atoms.get_potential_energy() - ref.get_potential_energy()) / len(atoms) * 1000
        )
        if ref.info["origin"] == "bulk_strain":
            hand_s.extend(np.abs(atoms.get_stress() - ref.get_stress()) * 1000)
    for origin, values in hand_e.items():
        assert errors.by_origin[origin].energy_mae_meV_atom == pytest.approx(np.mean(values))
    assert errors.stress_mae_meV_A3 == pytest.approx(np.mean(hand_s))
    assert hand_e["slab"][0] > 1.0  # 5 % deeper wells: the comparison is not of zeros


def _errors(**energy_mae) -> HoldoutErrors:
    by_origin = {
        o: OriginErrors(n_frames=3, energy_mae_meV_atom=e, energy_rmse_meV_atom=e, force_mae_meV_A=40.0, force_rmse_meV_A=50.0)
        for o, e in energy_mae.items()
    }
    return HoldoutErrors(n_frames=3 * len(by_origin), energy_mae_meV_atom=0, energy_rmse_meV_atom=0,
                         force_mae_meV_A=40.0, force_rmse_meV_A=50.0, by_origin=by_origin)


def test_threshold_failure_names_the_origin_and_its_numbers():
    expected = (
        r"the fit does not reproduce its own training frames: adatom \(3 frames: energy MAE 26\.4 meV/atom > 20; "
        r"energy MAE 26\.4 meV/atom, force MAE 40\.0 meV/Å\) \(thresholds mlip\.max_train_energy_mae_meV_atom"
    )
    with pytest.raises(FitQualityError, match=expected):
        check_training_errors(_errors(bulk_strain=3.0, adatom=26.4), 20.0, None)
    with pytest.raises(FitQualityError, match=r"bulk_strain \(3 frames: force MAE 40\.0 meV/Å > 30;"):
        check_training_errors(_errors(bulk_strain=3.0), None, 30.0)
    check_training_errors(_errors(bulk_strain=3.0, adatom=19.9), 20.0, 50.0)  # within both: no error
    check_training_errors(_errors(adatom=500.0), None, None)  # no thresholds: not checked


@pytest.mark.slow
def test_a_tiny_nequip_fit_trains_on_a_mix_of_frames_with_and_without_stress(tmp_path):
    """Five training frames, four of them slabs, batch 2: at least one batch has no stress label at all.

    One epoch of the tiny model: the loss stays finite, the learning curve is recorded, and the
    untrained model fails the default training-error threshold, naming the origins.
    """
    cells = [bulk("Li", "bcc", a=3.40 + 0.04 * i, cubic=True).repeat(2) for i in range(3)]
    frames = [_labelled(c, "bulk_strain", i) for i, c in enumerate(cells)]
    frames += [_labelled(_slab(4.0 + 0.5 * i), "slab", 10 + i) for i in range(5)]
    parts = {"train": [frames[0], *frames[3:7]], "val": [frames[1], frames[7]], "test": [frames[2], frames[7]]}
    files = {part: write_extxyz(atoms, tmp_path / f"{part}.extxyz") for part, atoms in parts.items()}
    assert sum(np.isnan(a.get_stress()).all() for a in read(files["train"], index=":")) == 4
    spec = MlipSpec(num_layers=1, num_features=4, radial_mlp_width=16, max_epochs=2, batch_size=2, device="cpu")
    config = tmp_path / "nequip.yaml"
    config.write_text(yaml.safe_dump(nequip_config(spec, files), sort_keys=False))
    checkpoint = nequip_cli.train(config, tmp_path / "train")  # raises on a NaN loss
    curve = nequip_cli.learning_curve(tmp_path / "train")
    assert [row["epoch"] for row in curve] == [0, 1]
    assert all(math.isfinite(row["train_loss"]) and math.isfinite(row["val_loss"]) for row in curve)
    assert curve[0]["learning_rate"] == pytest.approx(spec.learning_rate)
    package = nequip_cli.package(checkpoint, tmp_path / "m.nequip.zip")
    calc = load_calculator(package, file_sha256(package), "eager", "cpu")
    train_errors, _ = evaluate_holdout(calc, parts["train"])
    assert set(train_errors.by_origin) == {"bulk_strain", "slab"}
    bad = sorted(o for o, e in train_errors.by_origin.items() if e.energy_mae_meV_atom > spec.max_train_energy_mae_meV_atom)
    assert bad, train_errors.by_origin  # two epochs do not fit
    with pytest.raises(FitQualityError, match=rf"training frames: {re.escape(bad[0])} \(\d frames: energy MAE [\d.]+ meV/atom > 20"):
        check_training_errors(train_errors, spec.max_train_energy_mae_meV_atom, spec.max_train_force_mae_meV_A)


# ---------------------------------------------------------------- energy shift: the isolated atom


def _frame_dicts(energies: dict[str, float]) -> list[dict]:
    """Stored-frame stand-ins: origin and total energy are all :func:`energy_shift` reads."""
    return [{"frame_id": f"c:{o.split('#')[0]}:{i:04d}", "origin": o.split("#")[0], "energy_eV": e}
            for i, (o, e) in enumerate(energies.items())]  # fmt: skip


def test_the_isolated_atom_is_always_trained_on_and_left_out_of_the_energy_spread():
    # a pool of small origins large enough to be split (vacancy 2, divacancy 2, isolated atom 1) ...
    origin = {f"c:bulk_strain:{i}": "bulk_strain" for i in range(10)}
    origin |= {"c:vacancy:0": "vacancy", "c:vacancy:1": "vacancy", "c:divacancy:0": "divacancy", "c:divacancy:1": "divacancy"}
    origin["c:isolated_atom:0"] = "isolated_atom"
    for seed in range(20):  # ... whatever the shuffle, the isolated atom is trained on and the pool is still split
        split = split_frames(list(origin), FRACTIONS, seed, stratum=origin.__getitem__, train_strata=TRAIN_ONLY_ORIGINS)
        assert "c:isolated_atom:0" in split["train"]
        assert sorted(sum(split.values(), [])) == sorted(origin)
        pool_held = [i for i in split["val"] + split["test"] if origin[i] in ("vacancy", "divacancy")]
        assert len(pool_held) == 2
    cells = [_labelled(bulk("Li", "bcc", a=3.40 + 0.03 * i, cubic=True).repeat(2), "bulk_strain", i) for i in range(3)]
    atom = Atoms("Li", cell=[12.0] * 3, pbc=True, positions=[[6.0, 6.0, 6.0]])
    atom.calc = SinglePointCalculator(atom, energy=1.7, forces=np.zeros((1, 3)), stress=np.zeros(6))
    atom.info["origin"] = "isolated_atom"
    assert has_vacuum(atom, "isolated_atom")
    e = [a.get_potential_energy() / len(a) for a in cells]
    assert label_scales([*cells, atom])["total_energy"] == pytest.approx(np.std(e))  # 1.7 eV/atom would dominate it


def test_the_energy_shift_is_the_teacher_isolated_atom_energy_or_the_mean():
    frames = _frame_dicts({"bulk_strain": -3.8, "slab": -20.1, "isolated_atom": -0.0723})
    assert energy_shift(MlipSpec(), frames) == -0.0723
    assert energy_shift(MlipSpec(energy_shift="mean"), frames) is None
    files = {k: Path(f"/abs/{k}.extxyz") for k in ("train", "val", "test")}
    scales = {k: {"total_energy": 0.05, "forces": 0.2, "stress": 0.003} for k in files}
    model = nequip_config(MlipSpec(), files, scales=scales, energy_shift_eV=-0.0723)["training_module"]["model"]
    assert model["per_type_energy_shifts"] == {"Li": -0.0723}
    mean = nequip_config(MlipSpec(), files, scales=scales)["training_module"]["model"]
    assert mean["per_type_energy_shifts"] == "${training_data_stats:per_atom_energy_mean}"
    with pytest.raises(InputError, match=r"mlip.energy_shift = 'isolated_atom' needs exactly one isolated-atom .* found none"):
        energy_shift(MlipSpec(), frames[:2])
    two = [*frames, {"frame_id": "d:isolated_atom:0009", "origin": "isolated_atom", "energy_eV": -0.0913}]
    with pytest.raises(InputError, match=r"found 2 with different energies \[-0.0913, -0.0723\] eV"):
        energy_shift(MlipSpec(), two)
