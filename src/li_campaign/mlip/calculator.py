"""Load a deployed model from the registry as an ASE calculator, after checking its sha256."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from li_campaign.core.errors import ModelIntegrityError
from li_campaign.core.hashing import file_sha256

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.models import ModelDoc


def verify_model_file(path: str | Path, sha256: str) -> Path:
    """Return ``path`` if it exists and its sha256 matches; raise :class:`ModelIntegrityError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelIntegrityError(f"{path}: model file missing (registry sha256 {sha256[:12]}…)")
    actual = file_sha256(path)
    if actual != sha256:
        raise ModelIntegrityError(
            f"{path}: sha256 mismatch (file {actual[:12]}…, registry {sha256[:12]}…); the file was changed or corrupted"
        )
    return path


def load_model(model: ModelDoc, device: str | None = None) -> Calculator:
    """Return an ASE calculator for a registry entry, verified by sha256 and compile target before loading.

    Inside a batched pack (:class:`~li_campaign.batched.dispatch.BatchDispatcher`) it is the
    dispatcher's calculator: the calculation's model calls are batched with the other members'.
    """
    from li_campaign.batched.dispatch import active_dispatcher
    from li_campaign.mlip.device import check_compile_target

    dispatcher = active_dispatcher()
    if dispatcher is not None:
        return dispatcher.calculator(model)

    check_compile_target(model, device or model.compile_device)
    return load_calculator(model.deployed_path, model.sha256, model.deploy_mode, device or model.compile_device)


def load_calculator(path: str | Path, sha256: str, deploy_mode: str, device: str = "cpu") -> Calculator:
    """Return an ASE calculator for a deployed model file, verified by sha256.

    ``aotinductor`` files (``.nequip.pt2``) are loaded as compiled models; ``eager`` files
    (``.nequip.zip``) are loaded without compilation.

    Raises
    ------
    ModelIntegrityError
        If the file is missing, its sha256 differs, or it cannot be loaded on ``device``.
    """
    from nequip.integrations.ase import NequIPCalculator

    path = verify_model_file(path, sha256)
    try:
        if deploy_mode == "aotinductor":
            return NequIPCalculator.from_compiled_model(str(path), device=device, chemical_species_to_atom_type_map=True)
        return NequIPCalculator._from_saved_model(str(path), device=device, chemical_species_to_atom_type_map=True)
    except Exception as exc:
        raise ModelIntegrityError(
            f"{path}: cannot load the {deploy_mode} model on {device}: {type(exc).__name__}: {exc}"
        ) from exc
