"""The facet-resolved fan-out with a deployed model, as a jobflow Flow built from the campaign spec.

Four packed stages (:func:`~li_campaign.execution.packing.pack_jobs`), each a list of
independent calculations; on GPU workers each pack's model calls run batched
(:mod:`li_campaign.batched.dispatch`), on CPU workers one by one:

1. per facet its surface energy (thickness- and vacuum-converged with
   ``fanout.facet_enumeration``) and its adsorption sites; per step terrace the step energy
   and the step (and kink) sites;
2. per facet the CI-NEBs between its stable sites (and exchange paths);
3. per step terrace the across-step paths (with the flat terrace's barrier for the
   Ehrlich–Schwoebel barrier); the adatom MD runs, each given its facet's NEB result, whose
   barrier sets the run length (a facet without NEBs in the fan-out runs
   ``md_diffusion.production_steps``);
4. per facet and adatom count the Arrhenius fit of the MD diffusivities, compared with the
   facet's NEB barrier.

With ``fanout.large_cell_diffusion`` enabled, one unpacked job per facet and temperature runs
the large-cell adatom MD (:class:`~li_campaign.kinetics.jobs.LargeCellDiffusionMaker`: a wide
slab with many adatoms, one GPU-sized calculation each, needing only the model and the bulk).

The flow's output maps ``surface``, ``adsorption`` and ``diffusion`` to facet label -> the
reference of that facet's document (the teacher spot checks, :mod:`li_campaign.validation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from jobflow import Flow, Job, Maker, OutputReference, job

from li_campaign.execution.packing import pack_jobs
from li_campaign.geometry.steps import step_edge_pair
from li_campaign.kinetics.jobs import (
    AdatomArrheniusMaker,
    AdatomDiffusionMDMaker,
    LargeCellDiffusionMaker,
    StepEdgeNebMaker,
    SurfaceNebMaker,
)
from li_campaign.schemas.kinetics import DiffusionDoc, StepEdgeDiffusionDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.spec import CampaignSpec, NebConvergenceSpec, facet_label
from li_campaign.schemas.surfaces import StepAdsorptionDoc
from li_campaign.surfaces.jobs import (
    AdsorptionSiteMaker,
    ConvergedSurfaceEnergyMaker,
    StepAdsorptionMaker,
    StepEnergyMaker,
    SurfaceEnergyMaker,
)


@dataclass
class AcrossStepNebMaker(Maker):
    """Across-step paths at one step of the stepped slab of a :class:`StepAdsorptionDoc`.

    The upper-edge and step-foot sites are those the step-adsorption job labelled
    (:func:`~li_campaign.geometry.steps.step_edge_pair`, one step), moved to where that job's
    free relaxation of an adatom there ended: a lattice-continuation site that is not a
    minimum of the model (e.g. an upper-edge adatom that slides back onto the terrace) would
    fail the NEB's endpoint check. They are used on the step-adsorption job's relaxed clean
    slab; the NEBs are :class:`~li_campaign.kinetics.jobs.StepEdgeNebMaker`'s. The
    terrace barrier of the Ehrlich–Schwoebel difference is the flat terrace facet's minimum barrier.
    """

    name: str = "across-step neb"
    edge: StepEdgeNebMaker = field(default_factory=StepEdgeNebMaker)

    @job(data="images")
    def make(self, model: ModelDoc, steps: StepAdsorptionDoc, terrace: DiffusionDoc | None = None) -> StepEdgeDiffusionDoc:
        """Run the descending hop and exchange at the step of ``steps``; ``terrace``: the flat facet's NEBs."""
        if steps is None:
            raise ValueError("no step-adsorption result to take the step sites from: that calculation failed")
        slab = steps.slab_structure
        upper, lower = step_edge_pair(steps.geometry.sites, slab.lattice.matrix)
        moved = {site.label: np.subtract(site.final_position_A, site.position_A) for site in steps.sites}
        first = {cls: next(s.label for s in steps.geometry.sites if s.site_class == cls) for cls in ("step-edge-upper", "step-edge-lower")}
        upper = (np.asarray(upper) + moved.get(first["step-edge-upper"], 0.0)).tolist()
        lower = (np.asarray(lower) + moved.get(first["step-edge-lower"], 0.0)).tolist()
        barrier = terrace.min_barrier_eV if terrace is not None else None
        run = StepEdgeNebMaker.make.original  # the same calculation, with the sites found here
        return run(self.edge, model, slab, upper, lower, steps.terrace, "step-edge-upper-0", None, barrier)


def _named(job_: Job, name: str) -> Job:
    """Set the name of ``job_`` and return it."""
    job_.name = name
    return job_


@dataclass
class FanOutMaker(Maker):
    """Facet-resolved calculations with a deployed model (see the module docstring for the stages).

    Parameters
    ----------
    name
        Flow name.
    spec
        The campaign spec (its ``fanout`` section and provenance fields are used).
    """

    name: str = "fan-out"
    spec: CampaignSpec | None = None

    def make(self, model, bulk) -> Flow:
        """Return the fan-out flow.

        Parameters
        ----------
        model
            The deployed model (a ModelDoc or a reference to one).
        bulk
            The model's :class:`~li_campaign.schemas.bulk.BulkDoc` (or a reference):
            lattice constant of the slabs and the bulk energy reference.
        """
        spec = self.spec
        fan = spec.fanout
        ctx = spec.provenance_context()
        facets = fan.facet_list()
        if fan.facet_enumeration is not None:
            surface_maker = ConvergedSurfaceEnergyMaker(enumeration=fan.facet_enumeration, relax=fan.relax, **ctx)
        else:
            surface_maker = SurfaceEnergyMaker(slab=fan.slab, relax=fan.relax, **ctx)
        sites_maker = AdsorptionSiteMaker(fanout=fan, **ctx)

        first: list[Job] = []
        sites_at: dict[str, int] = {}
        for hkl in facets:
            label = facet_label(hkl)
            first.append(_named(surface_maker.make(model, bulk, hkl), f"surface energy {label}"))
            sites_at[label] = len(first)
            first.append(_named(sites_maker.make(model, bulk, hkl), f"adsorption sites {label}"))
        steps_at: dict[str, int] = {}
        if fan.steps is not None:
            step_energy = StepEnergyMaker(step=fan.steps, relax=fan.relax, **ctx)
            step_sites = StepAdsorptionMaker(step=fan.steps, relax=fan.relax, **ctx)
            for terrace in fan.steps.terraces:
                label = facet_label(terrace)
                first.append(_named(step_energy.make(model, bulk, terrace), f"step energy {label}"))
                steps_at[label] = len(first)
                first.append(_named(step_sites.make(model, bulk, terrace), f"step sites {label}"))
                if fan.steps.kinks:
                    first.append(_named(step_sites.make(model, bulk, terrace, kinked=True), f"kink sites {label}"))
        stage1, out1 = pack_jobs(first, fan.pack_size, "fan-out pack", batched=True)

        neb_maker = SurfaceNebMaker(fanout=fan, neb_convergence=fan.neb_convergence, mechanisms=fan.mechanisms, **ctx)
        nebs = [_named(neb_maker.make(model, out1[i]), f"surface NEB {label}") for label, i in sites_at.items()]
        stage2, out2 = pack_jobs(nebs, fan.pack_size, "fan-out NEB pack", batched=True)
        neb_of: dict[str, OutputReference] = dict(zip(sites_at, out2))

        third: list[Job] = []
        if fan.steps is not None and fan.mechanisms is not None and fan.mechanisms.across_step:
            edge = StepEdgeNebMaker(
                relax=fan.relax,
                neb=fan.neb,
                exchange=fan.mechanisms.exchange,
                neb_convergence=fan.neb_convergence or NebConvergenceSpec(enabled=False),
                **ctx,
            )
            across = AcrossStepNebMaker(edge=edge)
            for label, i in steps_at.items():
                third.append(_named(across.make(model, out1[i], neb_of.get(label)), f"across-step NEB {label}"))
        md_at: dict[tuple[str, int], list[int]] = {}
        if fan.md_diffusion is not None:
            md = AdatomDiffusionMDMaker(md=fan.md_diffusion, **ctx)
            for hkl in fan.md_diffusion.facets:
                label = facet_label(hkl)
                for n_adatoms in fan.md_diffusion.n_adatoms:
                    for temperature in fan.md_diffusion.temperatures_K:
                        md_at.setdefault((label, n_adatoms), []).append(len(third))
                        name = f"adatom MD {label} {n_adatoms} Li {temperature:g} K"
                        run = md.make(model, bulk, hkl, temperature, n_adatoms, neb_of.get(label))
                        third.append(_named(run, name))
        stage3, out3 = pack_jobs(third, fan.pack_size, "fan-out step and MD pack", batched=True)

        arrhenius = AdatomArrheniusMaker(**ctx)
        fourth = [
            _named(arrhenius.make([out3[i] for i in indices], neb_of.get(label)), f"adatom Arrhenius {label} {n_adatoms} Li")
            for (label, n_adatoms), indices in md_at.items()
        ]
        stage4, _ = pack_jobs(fourth, fan.pack_size, "fan-out Arrhenius pack", batched=True)
        large: list[Job] = []
        if fan.large_cell is not None:
            large_cell = LargeCellDiffusionMaker(large_cell=fan.large_cell, **ctx)
            for hkl in fan.large_cell.facets:
                for temperature in fan.large_cell.temperatures_K:
                    name = f"large-cell adatom diffusion {facet_label(hkl)} {temperature:g} K"
                    large.append(_named(large_cell.make(model, bulk, hkl, temperature), name))
        output = {
            "surface": {label: out1[i - 1] for label, i in sites_at.items()},
            "adsorption": {label: out1[i] for label, i in sites_at.items()},
            "diffusion": neb_of,
        }
        return Flow([*stage1, *stage2, *stage3, *stage4, *large], output=output, name=self.name)
