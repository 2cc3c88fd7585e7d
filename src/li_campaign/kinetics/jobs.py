"""Makers of the surface kinetics: NEB barriers of a facet, adatom MD diffusion (small and large cell), its Arrhenius
fit, step-edge barriers.

Each loads the deployed model (sha256-checked), keys its calculation for reuse
(:mod:`li_campaign.execution.reuse`) and returns one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import job
from pymatgen.core import Structure

from li_campaign.core.errors import MdInstabilityError
from li_campaign.execution.maker import CalculationMaker
from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.kinetics.diffusion import NoBarrierError, diffusion_barriers, surface_barriers
from li_campaign.kinetics.large_cell import ase_frames, large_cell_diffusion_md, receptive_field_A, wide_slab
from li_campaign.kinetics.md_diffusion import adatom_diffusion_md, arrhenius_fit
from li_campaign.kinetics.step_edges import across_step_barriers
from li_campaign.mlip.calculator import load_model
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.flags import FlaggedResultDoc
from li_campaign.schemas.kinetics import (
    AdatomArrheniusDoc,
    AdatomDiffusionDoc,
    DiffusionDoc,
    LargeCellDiffusionDoc,
    StepEdgeDiffusionDoc,
)
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.spec import (
    FanOutSpec,
    LargeCellDiffusionSpec,
    MdDiffusionSpec,
    MillerIndex,
    NebConvergenceSpec,
    NebSpec,
    RelaxSpec,
    SurfaceMechanismSpec,
    facet_label,
)
from li_campaign.schemas.surfaces import AdsorptionDoc


@dataclass
class SurfaceNebMaker(CalculationMaker):
    """CI-NEB over every distinct hop between neighbouring stable sites of one facet, and its exchange paths.

    Each band's image count is converged with ``neb_convergence`` (None: one band of
    ``fanout.neb.n_images``); exchanges are computed when ``mechanisms.exchange`` is set and
    the facet is one of ``mechanisms.exchange_facets`` (None: hops only).
    The relaxed NEB images (``images``) go to the large-data store.
    """

    name: str = "surface neb"
    fanout: FanOutSpec = field(default_factory=FanOutSpec)
    neb_convergence: NebConvergenceSpec | None = None
    mechanisms: SurfaceMechanismSpec | None = None

    @job(data="images")
    def make(self, model: ModelDoc, adsorption: AdsorptionDoc) -> DiffusionDoc:
        """Run the NEBs; return the hops and the minimum barrier of the facet."""
        if adsorption is None:
            raise ValueError(
                "no adsorption-site result to start the NEBs from: that calculation failed "
                "(its reason is listed by `li-campaign status`)"
            )
        mechanisms = self.mechanisms
        exchange = mechanisms is not None and mechanisms.exchange and adsorption.facet in {
            facet_label(hkl) for hkl in mechanisms.exchange_facets
        }
        settings = {
            **self.fanout.model_dump(mode="json", include={"relax", "neb"}),
            "hops": self.fanout.hops.model_dump(mode="json"),  # the site graph's cutoff decides which hops exist
            # the sites' own key; documents from before keys existed: their sites (the slab is the structure hash)
            "sites": adsorption.provenance.calc_key or adsorption.model_dump_json(exclude={"provenance", "slab_structure"}),
        }
        if self.neb_convergence is not None:  # keys only when used: results computed without them keep their key
            settings["neb_convergence"] = self.neb_convergence.model_dump(mode="json")
        if exchange:
            settings["exchange"] = True
        provenance = self.provenance(
            "surface_neb", settings, structure=adsorption.slab_structure, model_sha256=model.sha256
        )

        def compute() -> DiffusionDoc:
            result = adsorption.model_dump(exclude={"slab_structure", "provenance"})
            result["slab_structure"] = adsorption.slab_structure.as_dict()
            try:
                result = diffusion_barriers(load_model(model), result, self.fanout, self.neb_convergence, exchange)
            except NoBarrierError as exc:  # no hop network, or every path rejected: said so, not a failed job
                return DiffusionDoc(
                    facet=adsorption.facet,
                    miller_index=adsorption.miller_index,
                    hops=[],
                    rejected_hops=[str(exc)],
                    min_barrier_eV=None,
                    min_hop=None,
                    min_mechanism=None,
                    percolates={"a": False, "b": False},
                    effective_barrier_by_direction_eV={"a": None, "b": None},
                    hop_cutoff_A=exc.cutoff_A,
                    provenance=provenance,
                )
            summary = surface_barriers(result, adsorption.min_site)
            return DiffusionDoc(
                facet=adsorption.facet,
                miller_index=adsorption.miller_index,
                hops=result.hops,
                rejected_hops=[*result.rejected, *summary.notes],
                min_barrier_eV=summary.min_barrier_eV,
                min_hop=summary.min_hop,
                min_mechanism=summary.min_mechanism,
                effective_barrier_eV=summary.effective_barrier_eV,
                effective_barrier_by_direction_eV=summary.effective_barrier_by_direction_eV,
                effective_path=summary.effective_path,
                effective_mechanism=summary.effective_mechanism,
                percolates=summary.percolates,
                hop_cutoff_A=summary.hop_cutoff_A,
                provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)


def facet_barrier_eV(diffusion: DiffusionDoc | None) -> float | None:
    """The barrier of long-range transport of a facet: its ``effective_barrier_eV`` (minimax over the hop
    network) where the document has one, else its lowest single-hop ``min_barrier_eV``; None without a document."""
    if diffusion is None:
        return None
    effective = getattr(diffusion, "effective_barrier_eV", None)
    if effective is not None:
        return float(effective)
    return float(diffusion.min_barrier_eV) if diffusion.min_barrier_eV is not None else None


@dataclass
class AdatomDiffusionMDMaker(CalculationMaker):
    """Adatom self-diffusion coefficient on one facet at one temperature, for one adatom count (NVT MD).

    One job per (facet, temperature, adatom count): each run is an independent calculation
    with its own reuse key and a flat, queryable document, and the runs spread over workers.
    Given the facet's :class:`~li_campaign.schemas.kinetics.DiffusionDoc`, the production
    length follows from its barrier (:func:`facet_barrier_eV`,
    :func:`~li_campaign.kinetics.md_diffusion.planned_production_steps`); the barrier is part
    of the reuse key. The strided frames (``trajectory``) go to the large-data store. A run
    stopped by its stability guard (``md.guard``) returns a
    :class:`~li_campaign.schemas.flags.FlaggedResultDoc`.
    """

    name: str = "adatom diffusion md"
    md: MdDiffusionSpec = field(default_factory=MdDiffusionSpec)

    @job(data="trajectory")
    def make(
        self,
        model: ModelDoc,
        bulk: BulkDoc,
        miller: MillerIndex,
        temperature_K: float,
        n_adatoms: int,
        diffusion: DiffusionDoc | None = None,
    ) -> AdatomDiffusionDoc:
        """Run the MD at ``temperature_K`` with ``n_adatoms`` adatoms; return D, hops, validity and flags.

        ``diffusion``: the facet's NEB result, whose barrier sets the run length (None: ``md.production_steps``).
        """
        md = self.md
        barrier = facet_barrier_eV(diffusion)
        slab = make_symmetric_slab(bulk.lattice_constant_A, tuple(miller), md.min_slab_size_A, md.min_vacuum_A)
        settings = {
            "md": md.model_dump(mode="json", exclude={"facets", "temperatures_K", "n_adatoms"}),
            "temperature_K": float(temperature_K),
            "n_adatoms": int(n_adatoms),
            "barrier_eV": barrier,
        }
        provenance = self.provenance("adatom_diffusion_md", settings, structure=slab, model_sha256=model.sha256)

        def compute() -> AdatomDiffusionDoc | FlaggedResultDoc:
            try:
                result = adatom_diffusion_md(
                    load_model(model), bulk.lattice_constant_A, tuple(miller), temperature_K, n_adatoms, md, barrier
                )
            except MdInstabilityError as exc:  # flagged with the reason and last good frame, not a D
                return FlaggedResultDoc.from_instability(
                    "adatom_diffusion", exc, provenance,
                    facet=facet_label(miller), temperature_K=float(temperature_K), n_adatoms=int(n_adatoms),
                )
            return AdatomDiffusionDoc(
                facet=facet_label(miller), miller_index=tuple(miller), **result, provenance=provenance
            )

        return self.reuse_or_compute(provenance, compute)


@dataclass
class AdatomArrheniusMaker(CalculationMaker):
    """Arrhenius fit of the MD diffusivities of one facet and adatom count, compared with the NEB barrier."""

    name: str = "adatom arrhenius"

    @job
    def make(
        self, runs: list[AdatomDiffusionDoc | FlaggedResultDoc | None], neb: DiffusionDoc | None = None
    ) -> AdatomArrheniusDoc:
        """Fit the valid runs with a positive D; return Ea, D0, r², n and Ea − NEB barrier.

        A None entry is a failed job, a :class:`FlaggedResultDoc` a run stopped by its guard;
        both are listed in ``excluded``, as are invalid runs (adatom events, too few hops, an MSD
        within a few hop lengths², the slab temperature off: ``invalid_reasons``) and runs with
        D ≤ 0. The NEB barrier compared with is the facet's effective barrier where the
        document has one (:func:`facet_barrier_eV`).

        Raises
        ------
        ValueError
            If no run finished, or the runs mix facets or adatom counts.
        """
        flagged = [run for run in runs if isinstance(run, FlaggedResultDoc)]
        done = [run for run in runs if isinstance(run, AdatomDiffusionDoc)]
        if not done:
            raise ValueError(
                f"adatom Arrhenius fit: none of the {len(runs)} MD runs finished ({len(flagged)} flagged unstable); "
                "see `li-campaign status`"
            )
        kinds = {(run.facet, run.n_adatoms) for run in done}
        if len(kinds) != 1:
            raise ValueError(f"adatom Arrhenius fit: the runs mix facets and adatom counts {sorted(kinds)}")
        facet, n_adatoms = kinds.pop()
        keys = sorted(run.provenance.calc_key or "" for run in done)
        neb_key = neb.provenance.calc_key if neb is not None else None
        settings = {"runs": keys, "neb": neb_key, "unfinished_runs": len(runs) - len(done)}
        provenance = self.provenance("adatom_arrhenius", settings, model_sha256=done[0].provenance.model_sha256)

        def compute() -> AdatomArrheniusDoc:
            excluded = [f"{flag.context.get('temperature_K')} K: unstable, {flag.flag_reason}" for flag in flagged]
            if len(runs) > len(done) + len(flagged):
                excluded.append(f"{len(runs) - len(done) - len(flagged)} run(s) failed")
            valid = []
            for run in sorted(done, key=lambda r: r.temperature_K):
                if not run.valid:
                    why = run.invalid_reasons or run.events or ["too short to analyse"]
                    excluded.append(f"{run.temperature_K:g} K: {'; '.join(why)}")
                elif run.diffusivity_cm2_s <= 0:
                    excluded.append(f"{run.temperature_K:g} K: D = {run.diffusivity_cm2_s:.2e} cm²/s, no hop resolved")
                else:
                    valid.append(run)
            temperatures = [run.temperature_K for run in valid]
            diffusivities = [run.diffusivity_cm2_s for run in valid]
            fit = {"n": len(valid)}
            if len(set(temperatures)) >= 2:
                fit = arrhenius_fit(temperatures, diffusivities)
            barrier = facet_barrier_eV(neb)
            ea = fit.get("activation_energy_eV")
            return AdatomArrheniusDoc(
                facet=facet,
                miller_index=done[0].miller_index,
                n_adatoms=n_adatoms,
                temperatures_K=temperatures,
                diffusivities_cm2_s=diffusivities,
                excluded=excluded,
                **fit,
                neb_min_barrier_eV=neb.min_barrier_eV if neb is not None else None,
                neb_min_mechanism=neb.min_mechanism if neb is not None else None,
                neb_effective_barrier_eV=getattr(neb, "effective_barrier_eV", None),
                activation_minus_neb_eV=ea - barrier if ea is not None and barrier is not None else None,
                provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)


@dataclass
class LargeCellDiffusionMaker(CalculationMaker):
    """Adatom diffusion on one facet at one temperature in a wide slab with many adatoms (:mod:`li_campaign.kinetics.large_cell`).

    The adatoms start the model's receptive field (from its ``architecture``, ``r_max_A`` and
    ``num_layers``) plus ``large_cell.spacing_margin_A`` apart. The engine is
    ``large_cell.engine``: torch-sim with the model's torch-sim form
    (:func:`~li_campaign.batched.loader.load_batched`, on the worker's GPU), or ASE with its ASE
    calculator; ``auto`` takes torch-sim where the worker has CUDA. The engine is not part of the
    reuse key (both run the same model and settings). A run stopped by its stability checks
    returns a :class:`~li_campaign.schemas.flags.FlaggedResultDoc`.
    """

    name: str = "large-cell adatom diffusion"
    large_cell: LargeCellDiffusionSpec = field(default_factory=LargeCellDiffusionSpec)

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, miller: MillerIndex, temperature_K: float) -> LargeCellDiffusionDoc:
        """Run the MD of ``miller`` at ``temperature_K``; return D ± error, the excluded adatoms and the speed."""
        spec = self.large_cell
        hyper = model.hyperparameters
        field_A = receptive_field_A(model.architecture, hyper["r_max_A"], hyper["num_layers"])
        spacing = field_A + spec.spacing_margin_A
        slab, _ = wide_slab(bulk.lattice_constant_A, tuple(miller), spec)
        settings = {
            "large_cell": spec.model_dump(mode="json", exclude={"enabled", "facets", "temperatures_K", "engine"}),
            "temperature_K": float(temperature_K),
            "adatom_spacing_A": spacing,
        }
        provenance = self.provenance("large_cell_diffusion", settings, structure=slab, model_sha256=model.sha256)
        facet = facet_label(miller)

        def compute() -> LargeCellDiffusionDoc | FlaggedResultDoc:
            total = spec.equilibration_steps + spec.production_steps
            seed = spec.seed * 1000 + int(round(temperature_K))
            engine, device, execution = spec.engine, "cpu", None
            if engine != "ase":
                # deferred: heavy (torch), and only a torch-sim run needs it
                from li_campaign.batched.executor import worker_device

                device = worker_device()
                engine = "ase" if engine == "auto" and device == "cpu" else "torch_sim"
            if engine == "torch_sim":
                # deferred: heavy (torch, torch-sim, nequip)
                from li_campaign.batched.langevin import langevin_frames
                from li_campaign.batched.loader import load_batched

                batched = load_batched(model, device)
                execution = batched.record()

                def frames(atoms, friction, fixed):
                    return langevin_frames(
                        batched.model, atoms, friction, fixed, temperature_K, spec.timestep_fs, total, spec.sample_every, seed
                    )
            else:
                calc, device = load_model(model), model.compile_device

                def frames(atoms, friction, fixed):
                    return ase_frames(atoms, calc, friction, temperature_K, spec.timestep_fs, total, spec.sample_every, seed)

            try:
                result = large_cell_diffusion_md(frames, bulk.lattice_constant_A, tuple(miller), temperature_K, spacing, spec)
            except MdInstabilityError as exc:  # flagged with the reason and last good frame, not a D
                return FlaggedResultDoc.from_instability(
                    "adatom_diffusion", exc, provenance, facet=facet, temperature_K=float(temperature_K), cell="large"
                )
            return LargeCellDiffusionDoc(
                facet=facet, miller_index=tuple(miller), receptive_field_A=field_A, **result, engine=engine,
                device=device, execution=execution, provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)


@dataclass
class StepEdgeNebMaker(CalculationMaker):
    """Descending hop and exchange at one step edge of a stepped slab (CI-NEB), and the Ehrlich–Schwoebel barrier.

    The NEB images (``images``) go to the large-data store.
    """

    name: str = "step edge neb"
    relax: RelaxSpec = field(default_factory=RelaxSpec)
    neb: NebSpec = field(default_factory=NebSpec)
    neb_convergence: NebConvergenceSpec = field(default_factory=NebConvergenceSpec)
    exchange: bool = True
    fix_bottom_A: float | None = None

    @job(data="images")
    def make(
        self,
        model: ModelDoc,
        stepped_slab: Structure,
        upper_site: list[float],
        lower_site: list[float],
        terrace: str,
        step: str = "",
        terrace_sites: list[list[float]] | None = None,
        terrace_barrier_eV: float | None = None,
    ) -> StepEdgeDiffusionDoc:
        """Run the across-step NEBs (see :func:`~li_campaign.kinetics.step_edges.across_step_barriers`).

        ``terrace_sites`` (two upper-terrace sites) computes the terrace hop on this slab;
        otherwise ``terrace_barrier_eV`` (e.g. the flat facet's ``min_barrier_eV``) is compared with.
        """
        settings = {
            "relax": self.relax.model_dump(mode="json"),
            "neb": self.neb.model_dump(mode="json"),
            "neb_convergence": self.neb_convergence.model_dump(mode="json"),
            "exchange": self.exchange,
            "fix_bottom_A": self.fix_bottom_A,
            "sites": [list(upper_site), list(lower_site)],
            "terrace_sites": terrace_sites,
            "terrace_barrier_eV": terrace_barrier_eV,
        }
        provenance = self.provenance("step_edge_neb", settings, structure=stepped_slab, model_sha256=model.sha256)

        def compute() -> StepEdgeDiffusionDoc:
            result = across_step_barriers(
                load_model(model),
                stepped_slab,
                upper_site,
                lower_site,
                self.relax,
                self.neb,
                self.neb_convergence,
                fix_bottom_A=self.fix_bottom_A,
                exchange=self.exchange,
                terrace_sites=tuple(terrace_sites) if terrace_sites is not None else None,
                terrace_barrier_eV=terrace_barrier_eV,
            )
            source = "stepped_slab" if terrace_sites is not None else ("given" if terrace_barrier_eV is not None else None)
            return StepEdgeDiffusionDoc(
                terrace=terrace,
                step=step,
                hops=result.hops,
                rejected_hops=result.rejected,
                terrace_hop=result.terrace_hop,
                terrace_barrier_eV=result.terrace_barrier_eV,
                terrace_barrier_source=source,
                step_edge_barrier_eV=result.step_edge_barrier_eV,
                step_edge_mechanism=result.step_edge_mechanism,
                es_barrier_eV=result.es_barrier_eV,
                provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)
