"""Run nequip's command-line tools (train, package, compile) as subprocesses.

nequip-train is a Hydra application and nequip-package / nequip-compile are its
deployment tools; running them as processes keeps their global state (Hydra, Lightning,
torch compile caches) out of the worker. Each call writes a log next to its outputs and a
failure raises :class:`NequipError` naming the input file and the log, with the log's last
line and tail. nequip-train does not stop on a NaN loss (it exits 0 with a ``best.ckpt`` of
NaN weights), so :func:`train` also reads the losses it logged (:func:`check_finite_loss`).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path


TAIL_LINES = 25  # lines of a failed command's log quoted in the error


class NequipError(RuntimeError):
    """A nequip command failed, or training reached a non-finite loss."""


def _tool(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise NequipError(f"`{name}` not found next to {sys.executable} or on PATH; is nequip installed?")
    return found


def run_tool(args: list[str], log_path: Path, cwd: Path, subject: Path, timeout_s: float | None = None) -> None:
    """Run ``args`` (first element a nequip tool name), its output going to ``log_path``.

    Parameters
    ----------
    args
        The tool's name and arguments.
    log_path
        Where stdout and stderr go.
    cwd
        Working directory of the command.
    subject
        The input file the command works on (config, checkpoint or package), named in errors.
    timeout_s
        Wall-clock limit (None: none).

    Raises
    ------
    NequipError
        If the command times out or exits non-zero: the message names the tool, ``subject``,
        the exit code and the log, and quotes the log's last line and (indented, so that
        the first line remains what ``li-campaign status`` shows) its last
        :data:`TAIL_LINES` lines.
    """
    cmd = [_tool(args[0]), *args[1:]]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("SLURM_NTASKS", None)  # Lightning would try to use srun inside a batch job
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise NequipError(f"{args[0]} on {subject} timed out after {timeout_s} s; log: {log_path}") from None
    if proc.returncode != 0:
        lines = log_path.read_text(errors="replace").splitlines()
        last = next((line.strip() for line in reversed(lines) if line.strip()), "(empty log)")
        tail = "\n".join(f"    {line}" for line in lines[-TAIL_LINES:])  # indented: the first line stays the summary
        raise NequipError(
            f"{args[0]} crashed on {subject} (exit code {proc.returncode}): {last}\n"
            f"log: {log_path}; its last {TAIL_LINES} lines:\n{tail}"
        )


def check_finite_loss(run_dir: Path, log_path: Path) -> None:
    """Raise :class:`NequipError` if a loss that nequip-train logged in ``run_dir`` is NaN or infinite.

    The losses are the ``train_loss*`` columns and the ``*weighted_sum`` columns (the training
    loss and the monitored validation metric) of the newest Lightning ``metrics.csv``; rows are
    read in the order they were logged, so the first non-finite value is reported.

    Parameters
    ----------
    run_dir
        nequip-train's output directory (``hydra.run.dir``).
    log_path
        nequip-train's log, named in the message.

    Raises
    ------
    NequipError
        Naming the epoch, the column and its value, the log and the metrics file; or, if the
        run wrote no ``metrics.csv``, saying that the loss could not be checked.
    """
    logs = sorted(run_dir.glob("lightning_logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    if not logs:
        raise NequipError(
            f"nequip-train wrote no lightning_logs/version_*/metrics.csv in {run_dir} (is the CSV logger configured?): "
            f"cannot tell whether its loss stayed finite; log: {log_path}"
        )
    with open(logs[-1], newline="") as metrics:
        for row in csv.DictReader(metrics):
            for column, raw in row.items():
                is_loss = column.startswith("train_loss") or column.endswith("weighted_sum")
                if is_loss and raw and not math.isfinite(float(raw)):
                    kind = "a NaN" if math.isnan(float(raw)) else "an infinite"
                    raise NequipError(
                        f"nequip-train reached {kind} loss at epoch {row['epoch']} ({column} = {raw}); "
                        f"the trained weights are unusable. log: {log_path}; metrics: {logs[-1]}"
                    )


def metrics_csv(run_dir: Path) -> Path | None:
    """The newest Lightning ``metrics.csv`` of a nequip-train run (None if there is none)."""
    logs = sorted(run_dir.glob("lightning_logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    return logs[-1] if logs else None


def learning_curve(run_dir: Path) -> list[dict]:
    """Per-epoch training loss, validation loss and learning rate of a nequip-train run.

    Read from the newest ``metrics.csv``: ``train_loss_epoch/weighted_sum``,
    ``val0_epoch/weighted_sum`` and ``lr-*`` (LearningRateMonitor, logged on a row of its own
    before the epoch it applies to). Returns ``[{"epoch", "train_loss", "val_loss",
    "learning_rate"}, …]`` in epoch order; an empty list if the run logged nothing.
    """
    path = metrics_csv(run_dir)
    if path is None:
        return []
    curve: dict[int, dict] = {}
    lr = None
    with open(path, newline="") as metrics:
        for row in csv.DictReader(metrics):
            lr_value = next((v for k, v in row.items() if k.startswith("lr-") and v), None)
            if lr_value is not None:
                lr = float(lr_value)
            if not row.get("epoch"):
                continue
            entry = curve.setdefault(int(row["epoch"]), {"epoch": int(row["epoch"]), "train_loss": None, "val_loss": None, "learning_rate": lr})
            for column, key in (("train_loss_epoch/weighted_sum", "train_loss"), ("val0_epoch/weighted_sum", "val_loss")):
                if row.get(column):
                    entry[key] = float(row[column])
    return [curve[e] for e in sorted(curve) if curve[e]["train_loss"] is not None or curve[e]["val_loss"] is not None]


def train(config_path: Path, run_dir: Path) -> Path:
    """``nequip-train`` with the config at ``config_path``; return the best checkpoint.

    Raises
    ------
    NequipError
        If nequip-train crashes (:func:`run_tool`), reaches a NaN or infinite loss
        (:func:`check_finite_loss`) or writes no ``best.ckpt``.
    """
    log_path = run_dir.parent / "nequip-train.log"
    run_tool(
        ["nequip-train", "-cp", str(config_path.parent.resolve()), "-cn", config_path.name, f"hydra.run.dir={run_dir}"],
        log_path,
        cwd=run_dir.parent,
        subject=config_path,
    )
    check_finite_loss(run_dir, log_path)
    best = run_dir / "best.ckpt"
    if not best.is_file():
        raise NequipError(f"nequip-train finished without {best}; log: {log_path}")
    return best


def package(checkpoint: Path, output: Path) -> Path:
    """``nequip-package build`` a ``.nequip.zip`` from a checkpoint."""
    run_tool(
        ["nequip-package", "build", str(checkpoint), str(output)],
        output.parent / "nequip-package.log",
        output.parent,
        subject=checkpoint,
    )
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
        subject=package_path,
    )
    return output
