"""VASP input sets for metallic Li: atomate2's generators with the settings of :class:`VaspSpec`.

atomate2's :class:`~atomate2.vasp.sets.core.StaticSetGenerator`,
:class:`~atomate2.vasp.sets.core.RelaxSetGenerator` and
:class:`~atomate2.vasp.sets.core.MDSetGenerator` write the files; the spec's values go in
through ``user_incar_settings`` (which override atomate2's defaults: its base set is
PBEsol, spin-polarised, ISMEAR = -5 for statics). Written here: a Γ-centred k-mesh from
the spec's k-spacing with VASP's KSPACING rule (:func:`li_campaign.dft.kpoints.kmesh_from_spacing`),
written as a KPOINTS file so that slabs and adatom cells get one k-point along the vacuum
axis, and the slab dipole correction.

Examples
--------
>>> from li_campaign.core.lithium import bcc_li_conventional
>>> from li_campaign.schemas.spec import VaspSpec
>>> gen = static_set_generator(VaspSpec(), slab=False)
>>> vis = gen.get_input_set(bcc_li_conventional(3.44), potcar_spec=True)
>>> vis.incar["ENCUT"], vis.kpoints.kpts
(600.0, [(13, 13, 13)])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from atomate2.vasp.sets.core import MDSetGenerator, RelaxSetGenerator, StaticSetGenerator
from pymatgen.io.vasp import Kpoints

from li_campaign.dft.kpoints import kmesh_from_spacing

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from li_campaign.schemas.spec import VaspSpec


def li_kpoints(structure: Structure, kspacing_inv_A: float, slab: bool, kpts=None) -> Kpoints:
    """Return the Γ-centred mesh n_i = ceil(2π|b_i|/k) (1 along z for a slab), or the explicit mesh ``kpts``."""
    mesh = kpts if kpts is not None else kmesh_from_spacing(structure.lattice.matrix, kspacing_inv_A, (True, True, not slab))
    return Kpoints.gamma_automatic(tuple(int(k) for k in mesh))


@dataclass
class _LiKpoints:
    """Mixin: the Li k-mesh (``kspacing_inv_A``, ``slab``) in place of atomate2's default k-points."""

    kspacing_inv_A: float = 0.15
    slab: bool = False
    kpts: tuple[int, int, int] | None = None

    @property
    def kpoints_updates(self) -> Kpoints:
        """The Γ-centred mesh of :func:`li_kpoints` (``kpts`` if set: a commensurate slab/supercell mesh)."""
        return li_kpoints(self.structure, self.kspacing_inv_A, self.slab, self.kpts)


@dataclass
class LiStaticSetGenerator(_LiKpoints, StaticSetGenerator):
    """atomate2's static set with the Li k-mesh."""


@dataclass
class LiRelaxSetGenerator(_LiKpoints, RelaxSetGenerator):
    """atomate2's relaxation set with the Li k-mesh."""


@dataclass
class LiMDSetGenerator(_LiKpoints, MDSetGenerator):
    """atomate2's MD set with the Li k-mesh (MD cells are bulk: ``slab`` stays False)."""


def li_incar(vasp: VaspSpec, slab: bool) -> dict:
    """Return the INCAR settings shared by every Li calculation (``None`` removes a key)."""
    incar = {
        "GGA": vasp.gga,
        "ENCUT": vasp.encut_eV,
        "PREC": vasp.prec,
        "ISMEAR": vasp.ismear,
        "SIGMA": vasp.sigma_eV,
        "EDIFF": vasp.ediff_eV,
        "NELM": vasp.nelm,
        "ALGO": vasp.algo,
        "LREAL": vasp.lreal,
        "ISPIN": vasp.ispin,
        "MAGMOM": None,
        "KSPACING": None,
        "LCHARG": False,
        "LWAVE": False,
        "LORBIT": None,
        "LAECHG": False,  # atomate2's base set writes AECCARs, LOCPOT and uses meta-GGA mixing: not needed here
        "LVTOT": False,
        "LMIXTAU": None,
    }
    if slab and vasp.slab_dipole_correction:
        incar.update(LDIPOL=True, IDIPOL=3)
    return incar


def _common(vasp: VaspSpec, slab: bool, kpts=None) -> dict:
    config = StaticSetGenerator().config_dict  # atomate2's base configuration, with the POTCAR of the spec
    return {
        "config_dict": {**config, "POTCAR": {**config["POTCAR"], "Li": vasp.potcar}},
        "user_incar_settings": li_incar(vasp, slab),
        "user_potcar_functional": vasp.potcar_functional,
        "kspacing_inv_A": vasp.kspacing_inv_A,
        "slab": slab,
        "kpts": None if kpts is None else tuple(int(k) for k in kpts),
    }


def static_set_generator(vasp: VaspSpec, slab: bool, kpts=None) -> LiStaticSetGenerator:
    """Single point (NSW = 0); ``kpts``: an explicit mesh in place of the k-spacing rule."""
    return LiStaticSetGenerator(**_common(vasp, slab, kpts))


def relax_set_generator(
    vasp: VaspSpec, slab: bool, max_steps: int, fmax_eV_A: float, kpts=None
) -> LiRelaxSetGenerator:
    """Relaxation by conjugate gradients (IBRION = 2); fixed cell for slabs (``slab_isif``)."""
    kwargs = _common(vasp, slab, kpts)
    kwargs["user_incar_settings"].update(
        ISIF=vasp.slab_isif if slab else vasp.bulk_isif, IBRION=2, NSW=max_steps, EDIFFG=-fmax_eV_A
    )
    return LiRelaxSetGenerator(**kwargs)


def md_set_generator(vasp: VaspSpec, temperature_K: float, n_steps: int, time_step_fs: float) -> LiMDSetGenerator:
    """NVT molecular dynamics at ``temperature_K`` (TEBEG = TEEND), ``n_steps`` of ``time_step_fs``."""
    kwargs = _common(vasp, slab=False)
    kwargs["user_incar_settings"].update(MDALGO=vasp.md_algo, SMASS=vasp.md_smass, ISIF=vasp.md_isif)
    return LiMDSetGenerator(
        ensemble="nvt", start_temp=temperature_K, end_temp=temperature_K, nsteps=n_steps, time_step=time_step_fs, **kwargs
    )
