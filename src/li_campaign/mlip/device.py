"""Where a model is trained and compiled, and the check that an AOTInductor build matches this worker.

AOTInductor (``.nequip.pt2``) builds are compiled for one device type with one torch version:
a CPU build does not run on a GPU, a build for one GPU type is not guaranteed on another, and
builds do not move between torch versions. The fitting job compiles for the device it trains
on and records that target in the :class:`~li_campaign.schemas.models.ModelDoc`;
:func:`check_compile_target` refuses to load a build elsewhere, with an error that says what
to do (recompile here, or deploy ``eager``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from li_campaign.core.errors import InputError, ModelIntegrityError

if TYPE_CHECKING:
    from li_campaign.schemas.models import ModelDoc


def resolve_device(requested: str) -> str:
    """``cuda`` or ``cpu`` for ``MlipSpec.device`` (``auto``: the GPU when this worker has one).

    Raises
    ------
    InputError
        If ``cuda`` is requested on a worker without a GPU.
    """
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("mlip.device = 'cuda' but this worker has no CUDA GPU (use 'auto' or 'cpu')")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def compile_target(device: str) -> dict[str, str | None]:
    """What an AOTInductor build made here is built for: device type, GPU name, torch version."""
    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None
    return {"device": device.split(":")[0], "gpu": gpu, "torch": torch.__version__}


def check_compile_target(model: ModelDoc, device: str) -> None:
    """Raise :class:`ModelIntegrityError` if ``model`` is an AOTInductor build for another device, GPU or torch.

    Eager models (``.nequip.zip``) load anywhere and pass.
    """
    if model.deploy_mode != "aotinductor":
        return
    here = compile_target(device)
    built = {"device": model.compile_device, "gpu": model.compile_gpu, "torch": model.compile_torch}
    wrong = [k for k in ("device", "gpu", "torch") if built[k] is not None and built[k] != here[k]]
    if wrong:
        raise ModelIntegrityError(
            f"{model.deployed_path}: AOTInductor build for {built} cannot run here ({here}; differs in {', '.join(wrong)}). "
            "Recompile the packaged model on this kind of worker (nequip-compile --device "
            f"{here['device']}) or deploy it with mlip.deploy = 'eager'."
        )
