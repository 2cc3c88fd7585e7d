"""Load a deployed model from the registry as an ASE calculator, after checking its sha256 and species."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from li_campaign.core.errors import ModelIntegrityError
from li_campaign.core.hashing import verify_model_file

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.models import ModelDoc


def load_model(model: ModelDoc, device: str | None = None) -> Calculator:
    """Return an ASE calculator for a registry entry, verified by sha256 and compile target before loading.

    Inside a batched pack (:class:`~li_campaign.batched.dispatch.BatchDispatcher`) it is the
    dispatcher's calculator: the calculation's model calls are batched with the other members'.
    """
    # deferred: heavy (torch), and only a model job needs it
    from li_campaign.batched.dispatch import active_dispatcher
    from li_campaign.mlip.device import check_compile_target

    dispatcher = active_dispatcher()
    if dispatcher is not None:
        return dispatcher.calculator(model)

    check_compile_target(model, device or model.compile_device)
    return load_calculator(model.deployed_path, model.sha256, model.deploy_mode, device or model.compile_device)


def model_species(path: str | Path) -> list[str] | None:
    """Return the atom type names a nequip model file was trained for, read without loading the model.

    A packaged model (``.nequip.zip``) lists them in ``model/package_metadata.txt``
    (``atom_types``), an AOTInductor build (``.nequip.pt2``) in the ``type_names`` of its
    ``*wrapper_metadata.json``; both files are zip archives.

    Parameters
    ----------
    path
        A ``.nequip.zip`` or ``.nequip.pt2`` file.

    Returns
    -------
    list of str or None
        The type names in type-index order; None if ``path`` is not a zip archive with such
        metadata (nequip's loader then refuses it).
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return None
    with archive:
        for name in archive.namelist():
            if name.endswith("/model/package_metadata.txt"):
                atom_types = yaml.safe_load(archive.read(name)).get("atom_types") or {}
                return [atom_types[index] for index in sorted(atom_types)] or None
            if name.endswith("wrapper_metadata.json"):
                return json.loads(archive.read(name)).get("type_names", "").split() or None
    return None


def load_calculator(path: str | Path, sha256: str, deploy_mode: str, device: str = "cpu") -> Calculator:
    """Return an ASE calculator for a deployed model file, verified by sha256 and species.

    ``aotinductor`` files (``.nequip.pt2``) are loaded as compiled models; ``eager`` files
    (``.nequip.zip``) are loaded without compilation. Before loading, the file's sha256 must
    match and the species in its metadata (:func:`model_species`) must be lithium only.

    Raises
    ------
    ModelIntegrityError
        If the file is missing, its sha256 differs, it was trained for species other than
        ``["Li"]``, or it cannot be loaded on ``device``.
    """
    # deferred: nequip imports torch, which the property jobs that import this module do not otherwise need
    from nequip.integrations.ase import NequIPCalculator

    path = verify_model_file(path, sha256)
    species = model_species(path)
    if species is not None and species != ["Li"]:
        raise ModelIntegrityError(
            f"{path}: the model was trained for species {species}, not lithium only (['Li']); "
            "li-campaign refuses to use it on Li structures"
        )
    try:
        if deploy_mode == "aotinductor":
            return NequIPCalculator.from_compiled_model(str(path), device=device, chemical_species_to_atom_type_map=True)
        return NequIPCalculator._from_saved_model(str(path), device=device, chemical_species_to_atom_type_map=True)
    except Exception as exc:
        raise ModelIntegrityError(
            f"{path}: cannot load the {deploy_mode} model on {device}: {type(exc).__name__}: {exc}"
        ) from exc
