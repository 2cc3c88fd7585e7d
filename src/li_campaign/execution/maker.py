"""The base of the campaign's calculation Makers: where a result came from, and whether it is already stored.

Every Maker that computes one keyed result (a property with the deployed model, a DFT label,
a fit) does the same three things around its calculation: record the campaign and spec it
runs for, build the result's :class:`~li_campaign.schemas.provenance.Provenance` with the
calculation's reuse key (:func:`~li_campaign.execution.reuse.calculation_key`), and return a
stored result of that key instead of computing (:func:`~li_campaign.execution.reuse.reuse_or_compute`).
:class:`CalculationMaker` holds them once, so a Maker's ``make`` body says only what it computes::

    @dataclass
    class PhononMaker(CalculationMaker):
        name: str = "phonons"
        phonons: PhononSpec = field(default_factory=PhononSpec)

        @job
        def make(self, model, bulk):
            cell = bcc_li_conventional(bulk.lattice_constant_A)
            provenance = self.provenance("phonons", self.phonons, structure=cell, model_sha256=model.sha256)
            compute = lambda: PhononDoc(**harmonic_phonons(...), provenance=provenance)
            return self.reuse_or_compute(provenance, compute)

jobflow's :class:`~jobflow.Maker` has no notion of provenance or reuse (atomate2 repeats its
``TaskDoc`` bookkeeping in each ``BaseVaspMaker``-like base), so this base is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobflow import Maker

from li_campaign.core.hashing import structure_hash
from li_campaign.execution.reuse import calculation_key, reuse_or_compute
from li_campaign.schemas.provenance import Provenance

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pymatgen.core import Structure

    from li_campaign.execution.reuse import Doc


@dataclass(kw_only=True)
class CalculationMaker(Maker):
    """A Maker whose jobs compute keyed, reusable results for one campaign.

    The two fields are keyword-only, so they stay the last arguments of every subclass's
    ``__init__`` (and of its serialized form), where each Maker declared them before this base.

    Parameters
    ----------
    campaign
        Campaign name from the spec (provenance; the names a reused result is given).
    spec_hash
        sha256 of the validated campaign spec (provenance).

    Examples
    --------
    >>> maker = CalculationMaker(campaign="demo", spec_hash="0" * 64)
    >>> provenance = maker.provenance("phonons", {"supercell": 3}, model_sha256="a" * 64)
    >>> provenance.campaign, provenance.calc_key[:16]
    ('demo', '573284af830a0145')
    """

    campaign: str = ""
    spec_hash: str = ""

    def provenance(
        self,
        kind: str | None = None,
        settings: Any = None,
        *,
        structure: Structure | None = None,
        model_sha256: str | None = None,
        dft_settings: dict | None = None,
    ) -> Provenance:
        """Return the provenance of a calculation of this Maker; with ``kind``, keyed for reuse.

        Parameters
        ----------
        kind
            What is computed (e.g. ``"surface_energy"``): part of the key. None: no key.
        settings
            Everything else that changes the result (spec sections, Miller index, …): part of the key.
        structure
            The input structure: its hash is recorded and is part of the key.
        model_sha256
            sha256 of the model file (or committee) used; None for DFT. Recorded and part of the key.
        dft_settings
            DFT engine and settings, recorded (put them in ``settings`` too where they change the result).

        Returns
        -------
        Provenance
            With this Maker's ``campaign`` and ``spec_hash`` and ``calc_key`` =
            :func:`~li_campaign.execution.reuse.calculation_key` of (``kind``, structure hash,
            ``model_sha256``, ``settings``). Fields that are None are left unset, as are the
            ones a result without them never set.
        """
        digest = structure_hash(structure) if structure is not None else None
        fields = {
            "model_sha256": model_sha256,
            "dft_settings": dft_settings,
            "structure_hash": digest,
            "calc_key": calculation_key(kind, digest, model_sha256, settings) if kind else None,
        }
        return Provenance(
            campaign=self.campaign, spec_hash=self.spec_hash, **{k: v for k, v in fields.items() if v is not None}
        )

    def reuse_or_compute(
        self, provenance: Provenance, compute: Callable[[], Doc], update: Mapping[str, Any] | None = None
    ) -> Doc:
        """Return the stored result of ``provenance.calc_key``, or ``compute()`` it.

        See :func:`li_campaign.execution.reuse.reuse_or_compute` (``update``: fields that name a
        reused result within this campaign, e.g. a frame's id).
        """
        return reuse_or_compute(provenance, compute, update=update)
