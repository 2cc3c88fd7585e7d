"""Load a deployed model (NequIP or Allegro) as a torch-sim model, choosing the form that works on this worker.

Candidates, fastest first:

1. ``aotinductor``: a ``.nequip.pt2`` compiled with ``nequip-compile --target batch`` for this
   device. AOTInductor builds made with torch 2.11 segfaulted on load on an H100
   (../shared/notes/gpu_anchor.md), which would kill the worker, so the build is first loaded
   and evaluated in a child process; only if that succeeds is it loaded here.
2. ``compile``: the packaged ``.nequip.zip`` with nequip's ``torch.compile`` wrapper (CUDA only;
   it removes most of the per-call launch overhead of the eager model).
3. ``eager``: the packaged ``.nequip.zip`` as is; always works.

Each candidate is evaluated on a small test system (16 rattled bcc Li atoms) and must agree
with the eager model; the first that does is used. The choice (and why the faster ones were
rejected) is returned and logged, for the caller to store in its result's metadata. All
candidates use the batched neighbour list of :mod:`li_campaign.batched.neighbors`.
"""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch_sim as ts
from ase.build import bulk
from nequip.integrations.torchsim import NequIPTorchSimCalc
from nequip.integrations.utils import basic_transforms

from li_campaign.batched import neighbors
from li_campaign.core.hashing import verify_model_file

if TYPE_CHECKING:
    from nequip.nn.graph_model import GraphModel

    from li_campaign.schemas.models import ModelDoc

log = logging.getLogger(__name__)

_PROBE = """
import sys, torch
from ase.build import bulk
import torch_sim as ts
from nequip.integrations.torchsim import NequIPTorchSimCalc
atoms = bulk("Li", "bcc", a=3.44, cubic=True).repeat(2)
atoms.rattle(0.05, seed=0)
calc = NequIPTorchSimCalc.from_compiled_model(sys.argv[1], device=sys.argv[2], chemical_species_to_atom_type_map=True,
                                              neighborlist_backend="vesin")
out = calc(ts.io.atoms_to_state([atoms], device=torch.device(sys.argv[2]), dtype=torch.float64))
print(float(out["energy"].sum()))
"""


@dataclass
class BatchedModel:
    """A torch-sim model and how it was chosen.

    Attributes
    ----------
    model
        The ``NequIPTorchSimCalc`` to pass to torch-sim.
    mode
        ``aotinductor``, ``compile`` or ``eager``.
    path
        The file loaded.
    device
        ``cpu`` or ``cuda``.
    rejected
        For each faster candidate not used: its mode and the reason.
    """

    model: NequIPTorchSimCalc
    mode: str
    path: str
    device: str
    rejected: list[dict[str, str]] = field(default_factory=list)

    def record(self) -> dict:
        """The choice as a JSON-able dict, for result metadata/provenance."""
        return {
            "executor": "torch-sim batched",
            "model_form": self.mode,
            "path": self.path,
            "device": self.device,
            "gpu": torch.cuda.get_device_name(0) if self.device.startswith("cuda") else None,
            "torch": torch.__version__,
            "neighbor_list": neighbors.BACKEND,
            "rejected": self.rejected,
        }


def probe_atoms():
    """The probe system: 16 bcc Li atoms, rattled 0.05 Å (seed 0)."""
    atoms = bulk("Li", "bcc", a=3.44, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=0)
    return atoms


def torchsim_calc(model: GraphModel, device: str | torch.device) -> NequIPTorchSimCalc:
    """Wrap an in-memory nequip ``GraphModel`` for torch-sim with the batched neighbour list."""
    meta = model.metadata
    types = meta["type_names"].split(" ")
    transforms = basic_transforms(
        meta, float(meta["r_max"]), types, {t: t for t in types}, neighborlist_backend=neighbors.register()
    )
    return NequIPTorchSimCalc(model=model.eval(), device=device, transforms=transforms)


def _energy(calc, device: str) -> float:
    state = ts.io.atoms_to_state([probe_atoms()], device=torch.device(device), dtype=torch.float64)
    return float(calc(state)["energy"].sum())


def _probe_aoti(path: Path, device: str, timeout_s: float) -> tuple[float | None, str]:
    """Load and evaluate an AOTI build in a child process; return (energy or None, reason)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path), device], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return None, f"test load timed out after {timeout_s:.0f} s"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return None, f"test load exited with code {proc.returncode} (e.g. -11 = segfault): {tail[0][:300]}"
    return float(proc.stdout.strip().splitlines()[-1]), ""


def load_batched_model(
    package_path: str | Path,
    package_sha256: str,
    device: str = "cpu",
    compiled_path: str | Path | None = None,
    compiled_sha256: str | None = None,
    use_torch_compile: bool | None = None,
    probe_timeout_s: float = 300.0,
    tolerance_eV_atom: float = 1e-4,
) -> BatchedModel:
    """Return the fastest form of a deployed model that loads and agrees with the eager model here.

    Parameters
    ----------
    package_path, package_sha256
        The packaged ``.nequip.zip`` (eager fallback and reference); its sha256 is checked.
    device
        ``cpu`` or ``cuda``.
    compiled_path, compiled_sha256
        Optional ``.nequip.pt2`` compiled with ``--target batch`` for this device.
    use_torch_compile
        Try nequip's ``torch.compile`` form; default: on CUDA only.
    probe_timeout_s
        Time allowed for the child process that test-loads the AOTI build.
    tolerance_eV_atom
        Largest energy difference per atom from the eager model on the test system.

    Raises
    ------
    ModelIntegrityError
        If a file is missing or its sha256 differs from the registry.
    """
    backend = neighbors.register()
    package = verify_model_file(package_path, package_sha256)
    n_atoms = len(probe_atoms())

    def eager(compile_mode: str = "eager") -> NequIPTorchSimCalc:
        return NequIPTorchSimCalc._from_saved_model(
            str(package), device=device, chemical_species_to_atom_type_map=True, compile_mode=compile_mode,
            neighborlist_backend=backend,
        )

    reference_model = eager()
    reference = _energy(reference_model, device)
    rejected: list[dict[str, str]] = []

    def agrees(energy: float) -> bool:
        return abs(energy - reference) / n_atoms <= tolerance_eV_atom

    if compiled_path is not None:
        compiled = verify_model_file(compiled_path, compiled_sha256)
        energy, reason = _probe_aoti(compiled, device, probe_timeout_s)
        if energy is not None and not agrees(energy):
            reason = f"test energy {energy:.6f} eV differs from eager {reference:.6f} eV"
        if not reason:
            calc = NequIPTorchSimCalc.from_compiled_model(
                str(compiled), device=device, chemical_species_to_atom_type_map=True, neighborlist_backend=backend
            )
            return _chosen(BatchedModel(calc, "aotinductor", str(compiled), device, rejected))
        rejected.append({"mode": "aotinductor", "reason": reason})

    if use_torch_compile if use_torch_compile is not None else device.startswith("cuda"):
        try:
            calc = eager("compile")
            energy = _energy(calc, device)
            if agrees(energy):
                return _chosen(BatchedModel(calc, "compile", str(package), device, rejected))
            rejected.append({"mode": "compile", "reason": f"test energy {energy:.6f} eV differs from eager"})
        except Exception as exc:  # any failure of torch.compile means: use the eager model
            rejected.append({"mode": "compile", "reason": f"{type(exc).__name__}: {str(exc)[:300]}"})

    return _chosen(BatchedModel(reference_model, "eager", str(package), device, rejected))


def load_batched(model: ModelDoc, device: str = "cpu", **kwargs) -> BatchedModel:
    """:func:`load_batched_model` for a registry entry, from its packaged ``.nequip.zip``.

    The registry's AOTInductor build is compiled with ``--target ase`` (for ASE), which
    torch-sim cannot use, so from a registry entry the choice is ``compile`` or ``eager``; pass a
    ``--target batch`` build to :func:`load_batched_model` directly to have it tried first.
    """
    return load_batched_model(model.package_path, model.package_sha256, device, **kwargs)


def _chosen(choice: BatchedModel) -> BatchedModel:
    log.info(
        "batched model on %s (%s): %s from %s; rejected: %s",
        choice.device, platform.node(), choice.mode, choice.path, choice.rejected or "none",
    )
    return choice
