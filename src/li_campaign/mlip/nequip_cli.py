"""Run nequip's command-line tools (train, package, compile) as subprocesses.

nequip-train is a Hydra application and nequip-package / nequip-compile are its
deployment tools; running them as processes keeps their global state (Hydra, Lightning,
torch compile caches) out of the worker. Each call writes a log next to its outputs and a
failure raises :class:`NequipError` with the log's tail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


class NequipError(RuntimeError):
    """A nequip command failed."""


def _tool(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise NequipError(f"`{name}` not found next to {sys.executable} or on PATH; is nequip installed?")
    return found


def run_tool(args: list[str], log_path: Path, cwd: Path, timeout_s: float | None = None) -> None:
    """Run ``args`` (first element a nequip tool name) and raise :class:`NequipError` on failure."""
    cmd = [_tool(args[0]), *args[1:]]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("SLURM_NTASKS", None)  # Lightning would try to use srun inside a batch job
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise NequipError(f"{args[0]} timed out after {timeout_s} s; log: {log_path}") from None
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise NequipError(f"{args[0]} failed with exit code {proc.returncode}; log: {log_path}\n{tail}")


def train(config_path: Path, run_dir: Path) -> Path:
    """``nequip-train`` with the config at ``config_path``; return the best checkpoint."""
    run_tool(
        ["nequip-train", "-cp", str(config_path.parent.resolve()), "-cn", config_path.name, f"hydra.run.dir={run_dir}"],
        run_dir.parent / "nequip-train.log",
        cwd=run_dir.parent,
    )
    best = run_dir / "best.ckpt"
    if not best.is_file():
        raise NequipError(f"nequip-train finished without {best}")
    return best


def package(checkpoint: Path, output: Path) -> Path:
    """``nequip-package build`` a ``.nequip.zip`` from a checkpoint."""
    run_tool(["nequip-package", "build", str(checkpoint), str(output)], output.parent / "nequip-package.log", output.parent)
    return output


def compile_aoti(package_path: Path, output: Path, device: str, target: str) -> Path:
    """``nequip-compile --mode aotinductor`` a packaged model for ``target`` (ase or batch) on ``device``."""
    run_tool(
        [
            "nequip-compile",
            str(package_path),
            str(output),
            "--mode",
            "aotinductor",
            "--device",
            device,
            "--target",
            target,
        ],
        output.parent / f"nequip-compile-{target}.log",
        output.parent,
    )
    return output
