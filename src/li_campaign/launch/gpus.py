"""Which GPUs a node offers, and how ``li-campaign run --gpus`` shares them among workers.

A GPU node runs one worker per GPU: each worker process gets ``CUDA_VISIBLE_DEVICES`` set
to its own GPU, so the model it loads sees exactly one device (``cuda:0``). A batch system
announces the GPUs of an allocation in ``CUDA_VISIBLE_DEVICES`` (SLURM sets it for
``--gres=gpu:N``), so that variable wins; else ``nvidia-smi -L`` lists the node's GPUs; else
the node has none and runs one CPU worker. ``nvidia-smi`` numbers GPUs in PCI bus order,
so workers get ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (:data:`WORKER_DEVICE_ORDER`) for the
numbers to mean the same GPUs to CUDA.

The parsing here is hand-written because no library of the stack reads these two formats.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping

from li_campaign.core.errors import InputError

WORKER_DEVICE_ORDER = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
_SMI_LINE = re.compile(r"^GPU (\d+): ")


def gpus_from_cuda_visible_devices(value: str) -> list[str]:
    """The GPU ids in a ``CUDA_VISIBLE_DEVICES`` value, in order.

    CUDA stops at the first invalid entry, and ``-1`` hides every GPU: both are kept here
    (an empty list for ``""``, ``"-1"`` or ``"NoDevFiles"``).
    """
    ids = []
    for item in value.split(","):
        item = item.strip()
        if not item or item.startswith("-") or item == "NoDevFiles":
            break
        ids.append(item)
    return ids


def gpus_from_nvidia_smi(listing: str) -> list[str]:
    """The GPU indices in the output of ``nvidia-smi -L`` (``GPU 0: NVIDIA H100 (UUID: GPU-…)``).

    MIG instances listed under a GPU are not separate entries here: a worker is pinned to a
    whole GPU.
    """
    return [match.group(1) for line in listing.splitlines() if (match := _SMI_LINE.match(line.strip()))]


def visible_gpus(environ: Mapping[str, str] | None = None, nvidia_smi_listing: str | None = None) -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi -L``, else none.

    Parameters
    ----------
    environ
        The environment to read (default: ``os.environ``).
    nvidia_smi_listing
        The output of ``nvidia-smi -L`` (default: run it when it is on PATH).
    """
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        return gpus_from_cuda_visible_devices(environ["CUDA_VISIBLE_DEVICES"])
    if nvidia_smi_listing is None:
        nvidia_smi_listing = _run_nvidia_smi()
    return gpus_from_nvidia_smi(nvidia_smi_listing)


def _run_nvidia_smi() -> str:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ""
    try:
        proc = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def select_gpus(option: str, visible: list[str]) -> list[str]:
    """The GPUs that ``--gpus option`` asks for, one worker slot each.

    Parameters
    ----------
    option
        ``auto`` (every visible GPU), ``N`` (the first N visible GPUs; ``0``: none, CPU
        workers) or a comma-separated list of GPU ids (``0,2``), taken as given.
    visible
        The visible GPUs (:func:`visible_gpus`).

    Raises
    ------
    InputError
        If ``N`` is negative or more than are visible, or the list is malformed.
    """
    option = option.strip()
    if option == "auto":
        return list(visible)
    if "," not in option and re.fullmatch(r"-?\d+", option):
        count = int(option)
        if count < 0:
            raise InputError(f"--gpus {option}: the number of GPUs must be >= 0")
        if count > len(visible):
            raise InputError(f"--gpus {option}: only {len(visible)} GPUs are visible here ({','.join(visible) or 'none'})")
        return list(visible[:count])
    ids = [item.strip() for item in option.split(",")]
    if not all(ids) or len(set(ids)) != len(ids):
        raise InputError(f"--gpus {option!r}: expected auto, a number, or distinct GPU ids like 0,2")
    return ids
