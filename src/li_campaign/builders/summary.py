"""Builders that join the per-facet collections: facet summaries, the BEP regression, the Wulff shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np
from maggma.core import Builder, Store
from maggma.utils import to_dt, to_isoformat_ceil_ms
from pymatgen.core import Lattice

from li_campaign.builders.base import LAST_UPDATED, newest_doc, newest_time, stale_keys, strip_ids
from li_campaign.geometry.facets import is_high_index  # reduced Miller index: (002) is (001), low-index
from li_campaign.schemas.registry import BEP_FIT_FIELDS, EFFECTIVE_BARRIER_FIELDS, VALIDATION_COUNTS

_VALIDATION_SUMMARY = ("passed", *VALIDATION_COUNTS)
_BUILT = {"state": "successful", "model_sha256": {"$ne": None}}


def _field(doc: dict | None, name: str) -> object:
    """Return ``doc[name]``, or None if the document or the field is missing."""
    return None if doc is None else doc.get(name)


class FacetSummaryBuilder(Builder):
    """Join surface, adsorption and diffusion results into one document per model and facet.

    The target ``facet_summary`` is keyed by ``summary_id = "<model_sha256>:<facet>"`` and holds
    the newest surface energy, minimum adsorption energy (``min_adsorption_energy_eV`` with its
    ``min_adsorption_basis``, the pinned ``min_pinned_adsorption_energy_eV`` and
    ``n_stable_sites``), the effective barrier of long-range transport
    (``effective_barrier_eV``, ``effective_barrier_by_direction_eV``, ``effective_path``,
    ``effective_mechanism``, ``percolates``, ``hop_cutoff_A``; None in diffusion results
    stored before them), the lowest single hop (``min_barrier_eV``, ``min_hop``,
    ``min_mechanism``), the invalid NEB bands (``invalid_hops``: hop, mechanism, reason) of
    the facet, and the model's lattice constant from ``bulk``.

    This is not a maggma ``GroupBuilder``: a group here is made from three collections (plus
    ``bulk``), and GroupBuilder's incremental logic only looks for source keys missing from the
    target's member list of one source, so a re-computed or updated member would be missed.
    Instead :meth:`get_items` compares, per group, the newest ``last_updated`` of every source
    document with the target's ``last_updated``, which :meth:`process_item` sets to that newest
    time rounded up to the next millisecond (maggma's ``to_isoformat_ceil_ms``, as the derived
    collections do; BSON datetimes keep milliseconds). A second build with
    no new results therefore yields no items. When several documents of one source exist for
    the same model and facet (a re-run), the newest is used.

    With the optional ``adatom_diffusion`` and ``step_energies`` collections the summary also
    holds ``diffusivity_cm2_s`` (temperature in K, as a string -> D of the single-adatom MD
    runs that measured one) and ``step_energy_eV_per_A`` (the facet as a step terrace).

    Parameters
    ----------
    surface_energies, adsorption_energies, diffusion_barriers, bulk
        The derived collections written by the property MapBuilders.
    facet_summary
        The target collection.
    adatom_diffusion, step_energies
        Optional derived collections of the MD and step results.
    **kwargs
        Passed to :class:`maggma.core.Builder` (e.g. ``chunk_size``).
    """

    def __init__(
        self,
        surface_energies: Store,
        adsorption_energies: Store,
        diffusion_barriers: Store,
        bulk: Store,
        facet_summary: Store,
        adatom_diffusion: Store | None = None,
        step_energies: Store | None = None,
        **kwargs,
    ):
        self.surface_energies = surface_energies
        self.adsorption_energies = adsorption_energies
        self.diffusion_barriers = diffusion_barriers
        self.bulk = bulk
        self.facet_summary = facet_summary
        self.adatom_diffusion = adatom_diffusion
        self.step_energies = step_energies
        self.facet_sources = ("surface_energies", "adsorption_energies", "diffusion_barriers") + tuple(
            name for name in ("adatom_diffusion", "step_energies") if getattr(self, name) is not None
        )
        self.kwargs = kwargs
        super().__init__(
            sources=[surface_energies, adsorption_energies, diffusion_barriers, bulk]
            + [store for store in (adatom_diffusion, step_energies) if store is not None],
            targets=[facet_summary],
            **kwargs,
        )

    def _group_times(self) -> dict[str, datetime]:
        """Return ``summary_id -> newest last_updated`` over the group's facet and bulk documents."""
        props = ["model_sha256", "facet", LAST_UPDATED]
        times: dict[str, datetime] = {}
        for name in self.facet_sources:
            for doc in getattr(self, name).query(criteria=_BUILT, properties=props):
                sid = f"{doc['model_sha256']}:{doc['facet']}"
                times[sid] = max(times.get(sid, datetime.min), to_dt(doc[LAST_UPDATED]))
        bulk_times: dict[str, datetime] = {}
        for doc in self.bulk.query(criteria=_BUILT, properties=props):
            sha = doc["model_sha256"]
            bulk_times[sha] = max(bulk_times.get(sha, datetime.min), to_dt(doc[LAST_UPDATED]))
        return {
            sid: max(newest, bulk_times.get(sid.split(":", 1)[0], datetime.min)) for sid, newest in times.items()
        }

    def get_items(self) -> Iterator[dict]:
        """Yield, per stale (model, facet) group, all of its source documents.

        Yields
        ------
        dict
            ``model_sha256``, ``facet`` and one list of documents per source collection.
        """
        stale = stale_keys(self._group_times(), self.facet_summary)
        self.total = len(stale)
        self.logger.info(f"{type(self).__name__}: processing {self.total} items")
        for sid in stale:
            sha, facet = sid.split(":", 1)
            criteria = {**_BUILT, "model_sha256": sha}
            item = {"model_sha256": sha, "facet": facet}
            for name in self.facet_sources:
                item[name] = strip_ids(getattr(self, name).query(criteria={**criteria, "facet": facet}))
            item["bulk"] = strip_ids(self.bulk.query(criteria=criteria))
            yield item

    def process_item(self, item: dict) -> dict:
        """Return the facet summary of one group (pure: no database access)."""
        names = ("surface_energies", "adsorption_energies", "diffusion_barriers", "bulk")
        surface, adsorption, diffusion, bulk = (newest_doc(item[name]) for name in names)
        step = newest_doc(item.get("step_energies", []))
        first = next((doc for doc in (surface, adsorption, diffusion, step) if doc is not None), None) or newest_doc(
            item.get("adatom_diffusion", [])
        )
        newest = newest_time(doc for name in (*self.facet_sources, "bulk") for doc in item[name])
        return {
            "summary_id": f"{item['model_sha256']}:{item['facet']}",
            "campaign": first["campaign"],
            "model_sha256": item["model_sha256"],
            "facet": item["facet"],
            "miller_index": first.get("miller_index"),
            "lattice_constant_A": _field(bulk, "lattice_constant_A"),
            "surface_energy_J_m2": _field(surface, "surface_energy_J_m2"),
            "min_adsorption_energy_eV": _field(adsorption, "min_adsorption_energy_eV"),
            "min_site": _field(adsorption, "min_site"),
            "min_adsorption_basis": _field(adsorption, "min_adsorption_basis"),
            "min_pinned_adsorption_energy_eV": _field(adsorption, "min_pinned_adsorption_energy_eV"),
            "n_stable_sites": _stable_sites(adsorption),
            "min_barrier_eV": _field(diffusion, "min_barrier_eV"),
            "min_hop": _field(diffusion, "min_hop"),
            "min_mechanism": _field(diffusion, "min_mechanism"),
            **{name: _field(diffusion, name) for name in EFFECTIVE_BARRIER_FIELDS},
            "invalid_hops": _invalid_hops(diffusion),
            "step_energy_eV_per_A": _field(step, "step_energy_eV_per_A"),
            "diffusivity_cm2_s": _diffusivities(item.get("adatom_diffusion", [])),
            "source_uuids": {
                name: doc["uuid"]
                for name, doc in zip(names, (surface, adsorption, diffusion, bulk))
                if doc is not None
            },
            LAST_UPDATED: to_dt(to_isoformat_ceil_ms(newest)),
        }

    def update_targets(self, items: list[dict]) -> None:
        """Write the summaries in one bulk update."""
        if items:
            self.facet_summary.update(items)




def _stable_sites(adsorption: dict | None) -> int | None:
    """Number of stable adsorption sites of the facet (None without an adsorption result)."""
    if adsorption is None:
        return None
    if adsorption.get("n_stable_sites") is not None:
        return int(adsorption["n_stable_sites"])
    return sum(bool(site.get("stable")) for site in adsorption.get("sites", []))


def _invalid_hops(diffusion: dict | None) -> list[dict]:
    """The facet's NEB bands marked invalid (``Hop.valid`` false): ``hop`` ("start->end"), ``mechanism``, ``reason``."""
    if diffusion is None:
        return []
    return [
        {
            "hop": f"{hop['start']}->{hop['end']}",
            "mechanism": hop.get("mechanism", "hop"),
            "reason": hop.get("invalid_reason") or "marked invalid (no reason given)",
        }
        for hop in diffusion.get("hops", [])
        if hop.get("valid", True) is False
    ]


def _diffusivities(runs: list[dict]) -> dict[str, float]:
    """Temperature (K, as a string key) -> D (cm²/s) of the newest valid single-adatom small-cell run at that temperature."""
    newest: dict[float, dict] = {}
    for run in runs:
        small = run.get("cell", "small") == "small"
        if not small or run.get("n_adatoms") != 1 or not run.get("valid") or run.get("diffusivity_cm2_s") is None:
            continue
        temperature = float(run["temperature_K"])
        if temperature not in newest or to_dt(run[LAST_UPDATED]) > to_dt(newest[temperature][LAST_UPDATED]):
            newest[temperature] = run
    return {f"{t:g}": newest[t]["diffusivity_cm2_s"] for t in sorted(newest)}


#: Fewest valid facets of a BEP fit: with n − 2 = 2 degrees of freedom the t-based interval of the slope is
#: finite but wide (t = 4.30); at n = 3 it is ±12.7 standard errors and at n = 2 the line has no residual.
MIN_BEP_POINTS = 4
#: Effective barriers below this (eV) are not a transport barrier but a numerical artefact (or a flat
#: landscape the NEB cannot resolve); such facets are excluded from the BEP fit.
MIN_BEP_BARRIER_EV = 0.01


def bep_fit(x: list[float], y: list[float]) -> dict:
    """Ordinary least-squares line ``y = slope * x + intercept`` with its standard errors, t interval and p-value.

    Parameters
    ----------
    x, y
        Minimum adsorption energies and effective barriers (eV), one pair per valid facet.

    Returns
    -------
    dict
        ``slope``, ``slope_stderr``, ``intercept``, ``intercept_stderr``, ``r2``, ``ci95``,
        ``p_value``, ``spearman``, ``n`` and ``reason``, from :func:`scipy.stats.linregress`:
        ``slope_stderr`` = sqrt(SS_res / (n − 2) / Σ(x − x̄)²), ``ci95`` = slope ± t₀.₉₇₅(n − 2) ×
        ``slope_stderr`` (:func:`scipy.stats.t.ppf`), ``p_value`` the two-sided p of the t test
        of slope = 0, ``r2`` = r² (Pearson), ``spearman`` the rank correlation. With fewer
        than :data:`MIN_BEP_POINTS` points, equal adsorption energies or equal barriers there
        is no fit: the numbers are None and ``reason`` says why.
    """
    # deferred: scipy.stats takes ~0.6 s to import and `li-campaign build` imports every builder, fit or not
    from scipy import stats

    n = len(x)
    no_fit = {**dict.fromkeys(BEP_FIT_FIELDS), "n": n}
    if n < MIN_BEP_POINTS:
        return {
            **no_fit,
            "reason": f"need at least {MIN_BEP_POINTS} valid facets for a fit with a t-based slope interval "
            f"(n − 2 ≥ 2 degrees of freedom), have {n}",
        }
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if np.ptp(xs) == 0:
        return {**no_fit, "reason": "all adsorption energies are equal"}
    if np.ptp(ys) == 0:
        return {**no_fit, "reason": "all effective barriers are equal"}
    line = stats.linregress(xs, ys)
    half = float(stats.t.ppf(0.975, n - 2) * line.stderr)
    return {
        "slope": float(line.slope),
        "slope_stderr": float(line.stderr),
        "intercept": float(line.intercept),
        "intercept_stderr": float(line.intercept_stderr),
        "r2": float(line.rvalue**2),
        "ci95": [float(line.slope) - half, float(line.slope) + half],
        "p_value": float(line.pvalue),
        "spearman": float(stats.spearmanr(xs, ys).statistic),
        "n": n,
        "reason": None,
    }


def _path_steps(path: list[str] | None) -> list[tuple[frozenset[str], str | None]]:
    """The steps of an effective path as (site pair, mechanism or None).

    A path is a list of steps ``"start->end (mechanism)"`` (the mechanism optional), or a
    sequence of site labels.
    """
    if not path:
        return []
    if all("->" in step for step in path):
        steps = []
        for step in path:
            start, _, rest = step.partition("->")
            end, _, mechanism = rest.strip().partition(" ")
            steps.append((frozenset((start.strip(), end)), mechanism.strip("() ") or None))
        return steps
    return [(frozenset(pair), None) for pair in zip(path, path[1:])]


def _invalid_path_hops(doc: dict) -> list[dict]:
    """The invalid NEB bands (``invalid_hops``) that are steps of the effective path (same sites and mechanism)."""
    steps = _path_steps(doc.get("effective_path"))
    out = []
    for hop in doc.get("invalid_hops") or []:
        start, _, end = hop["hop"].partition("->")
        pair, mechanism = frozenset((start, end)), hop.get("mechanism", "hop")
        for step_pair, step_mechanism in steps:
            known = step_mechanism or doc.get("effective_mechanism")
            if step_pair == pair and (known is None or mechanism in known):
                out.append(hop)
                break
    return out


def bep_exclusions(doc: dict) -> list[str]:
    """Why a facet summary cannot be a BEP point (empty if it can).

    A point needs an adsorption energy from a relaxed stable minimum and an effective barrier
    of at least :data:`MIN_BEP_BARRIER_EV` of a hop network that percolates, with every hop
    of its effective path a valid NEB band.
    """
    reasons = []
    if doc.get("min_adsorption_energy_eV") is None:
        reasons.append("missing adsorption energy")
    elif doc.get("min_adsorption_basis") == "pinned_all_sites" or doc.get("n_stable_sites") == 0:
        reasons.append("no stable adsorption site (the minimum is a laterally pinned energy)")
    elif doc.get("min_adsorption_basis") is None:
        reasons.append("adsorption result stored before the free-relaxed minimum (pinned minimum only)")
    barrier = doc.get("effective_barrier_eV")
    percolates = doc.get("percolates")
    if doc.get("min_barrier_eV") is None and barrier is None and percolates is None:
        reasons.append("missing diffusion barriers")
    elif barrier is None:
        if percolates is not None and not any(percolates.values()):
            reasons.append("no effective barrier: the hop network does not percolate in either surface direction")
        else:
            reasons.append("no effective barrier")
    elif barrier < MIN_BEP_BARRIER_EV:
        reasons.append(f"effective barrier {barrier:.4f} eV below {MIN_BEP_BARRIER_EV} eV")
    invalid = _invalid_path_hops(doc) if barrier is not None else []
    if invalid:
        reasons.append(
            "invalid NEB band on the effective path: " + "; ".join(f"{hop['hop']} ({hop['reason']})" for hop in invalid)
        )
    return reasons


def _fit_points(points: list[dict]) -> dict:
    """:func:`bep_fit` of facet points (x: min adsorption energy, y: effective barrier), with the facets used."""
    fit = bep_fit([p["min_adsorption_energy_eV"] for p in points], [p["effective_barrier_eV"] for p in points])
    mechanisms: dict[str, int] = {}
    for point in points:
        key = str(point.get("effective_mechanism"))
        mechanisms[key] = mechanisms.get(key, 0) + 1
    return {**fit, "facets": [p["facet"] for p in points], "mechanisms": mechanisms}


class _PerModelFacetBuilder(Builder):
    """One target document per model from all of that model's facet summaries.

    Incremental in the same way as :class:`FacetSummaryBuilder`: a model is rebuilt only if
    one of its facet summaries is newer than its target document. Subclasses implement
    :meth:`process_item`.

    Parameters
    ----------
    facet_summary
        The source collection.
    target
        The target collection, keyed by the model's sha256.
    **kwargs
        Passed to :class:`maggma.core.Builder` (e.g. ``chunk_size``).
    """

    def __init__(self, facet_summary: Store, target: Store, validation: Store | None = None, **kwargs):
        self.facet_summary = facet_summary
        self.target = target
        self.validation = validation
        self.kwargs = kwargs
        sources = [facet_summary] if validation is None else [facet_summary, validation]
        super().__init__(sources=sources, targets=[target], **kwargs)

    def _validations(self) -> dict[str, dict]:
        """Model sha256 -> its newest teacher spot-check document (none without a ``validation`` store)."""
        newest: dict[str, dict] = {}
        if self.validation is None:
            return newest
        for doc in strip_ids(self.validation.query(properties=[*_VALIDATION_SUMMARY, "model_sha256", "uuid", LAST_UPDATED])):
            sha = doc.get("model_sha256")
            if sha and (sha not in newest or to_dt(doc[LAST_UPDATED]) > to_dt(newest[sha][LAST_UPDATED])):
                newest[sha] = doc
        return newest

    def get_items(self) -> Iterator[dict]:
        """Yield, per stale model, its facet summaries.

        Yields
        ------
        dict
            ``model_sha256``, ``facets`` (the model's facet summary documents) and
            ``validation`` (its newest teacher spot-check summary, or None).
        """
        times: dict[str, datetime] = {}
        for doc in self.facet_summary.query(properties=["model_sha256", LAST_UPDATED]):
            sha = doc["model_sha256"]
            times[sha] = max(times.get(sha, datetime.min), to_dt(doc[LAST_UPDATED]))
        validations = self._validations()
        for sha, doc in validations.items():
            if sha in times:  # a model's spot checks finishing after its facets make its documents stale
                times[sha] = max(times[sha], to_dt(doc[LAST_UPDATED]))
        stale = stale_keys(times, self.target)
        self.total = len(stale)
        self.logger.info(f"{type(self).__name__}: processing {self.total} items")
        for sha in stale:
            facets = strip_ids(self.facet_summary.query(criteria={"model_sha256": sha}))
            yield {"model_sha256": sha, "facets": facets, "validation": validations.get(sha)}

    def update_targets(self, items: list[dict]) -> None:
        """Write the documents in one bulk update."""
        if items:
            self.target.update(items)


class BepRegressionBuilder(_PerModelFacetBuilder):
    """Bell–Evans–Polanyi regression of the effective barrier vs the adsorption energy, one per model.

    The target ``bep_regression`` is keyed by ``regression_id = model_sha256``. It fits
    ``effective_barrier_eV`` (y; the minimax barrier of long-range transport, the lower of
    the two surface directions) against ``min_adsorption_energy_eV`` (x; the free-relaxed
    stable minimum) by ordinary least squares (:func:`bep_fit`) over the model's facets that
    pass :func:`bep_exclusions`. The others are listed in ``excluded`` with their reasons;
    each point carries its mechanism (``effective_mechanism``). The fit is repeated over the
    high-index facets only (``high_index``; see :func:`is_high_index`), where the paper
    reports a weak relation. Below :data:`MIN_BEP_POINTS` points there is no fit and
    ``reason`` says why. ``validated`` is true only when the model's teacher spot checks
    (collection ``validation``) all passed (:func:`validation_verdict`).
    """

    def process_item(self, item: dict) -> dict:
        """Return the regression document of one model (pure: no database access)."""
        docs = sorted(item["facets"], key=lambda doc: doc["facet"])
        points, excluded, high = [], [], []
        for doc in docs:
            reasons = bep_exclusions(doc)
            high_index = doc.get("miller_index") is not None and is_high_index(doc["miller_index"])
            if reasons:
                excluded.append(
                    {
                        "facet": doc["facet"],
                        "reason": "; ".join(reasons),
                        "high_index": high_index,
                        "min_adsorption_energy_eV": doc.get("min_adsorption_energy_eV"),
                        "effective_barrier_eV": doc.get("effective_barrier_eV"),
                        "min_barrier_eV": doc.get("min_barrier_eV"),
                    }
                )
                continue
            point = {key: doc.get(key) for key in _POINT_FIELDS}
            points.append(point)
            if high_index:
                high.append(point)
        return {
            "regression_id": item["model_sha256"],
            "campaign": docs[0]["campaign"],
            "model_sha256": item["model_sha256"],
            **_fit_points(points),
            "points": points,
            "excluded": excluded,
            "min_points": MIN_BEP_POINTS,
            "min_effective_barrier_eV": MIN_BEP_BARRIER_EV,
            "high_index": {**_fit_points(high), "excluded": [e for e in excluded if e["high_index"]]},
            **validation_verdict(item.get("validation")),
            LAST_UPDATED: to_dt(
                to_isoformat_ceil_ms(newest_time([*docs, *([item["validation"]] if item.get("validation") else [])]))
            ),
        }


def validation_verdict(validation: dict | None) -> dict:
    """``validated`` (bool) and ``validation`` (the spot-check counts and why not validated) of a BEP document.

    Validated means the model's teacher spot checks ran and every one passed
    (:class:`~li_campaign.schemas.validation.ValidationDoc` ``passed``).
    """
    if validation is None:
        reason = "no teacher spot checks for this model (validation disabled, not run yet, or failed)"
        return {"validated": False, "validation": {"uuid": None, **dict.fromkeys(_VALIDATION_SUMMARY), "reason": reason}}
    summary = {"uuid": validation.get("uuid"), **{field: validation.get(field) for field in _VALIDATION_SUMMARY}}
    passed = bool(validation.get("passed"))
    reason = None
    if not passed:
        reason = (
            f"{summary['n_failed']} failed, {summary['n_refused']} refused and {summary['n_skipped']} skipped "
            f"of {summary['n_checks']} teacher spot checks"
        )
    return {"validated": passed, "validation": {**summary, "reason": reason}}


_POINT_FIELDS = (
    "facet",
    "min_adsorption_energy_eV",
    "min_site",
    "min_adsorption_basis",
    "effective_barrier_eV",
    "effective_barrier_by_direction_eV",
    "effective_path",
    "effective_mechanism",
    "min_barrier_eV",
    "min_hop",
    "min_mechanism",
)


class WulffShapeBuilder(_PerModelFacetBuilder):
    """The equilibrium crystal shape of each model from its surface energies (pymatgen ``WulffShape``).

    The target ``wulff_shape`` is keyed by ``wulff_id = model_sha256`` and holds the area
    fraction of every facet on the shape, the area-weighted surface energy, the shape factor
    and the anisotropy, from the facets that have a surface energy.
    """

    def process_item(self, item: dict) -> dict:
        """Return the Wulff shape document of one model (pure: no database access)."""
        # deferred: pymatgen's wulff module pulls in matplotlib, plotly and scipy (~1 s); `li-campaign build`
        # imports every builder, shape or not
        from pymatgen.analysis.wulff import WulffShape

        docs = sorted(
            (doc for doc in item["facets"] if doc.get("surface_energy_J_m2") is not None), key=lambda doc: doc["facet"]
        )
        out = {
            "wulff_id": item["model_sha256"],
            "campaign": item["facets"][0]["campaign"],
            "model_sha256": item["model_sha256"],
            "facets": [doc["facet"] for doc in docs],
            "miller_indices": [list(doc["miller_index"]) for doc in docs],
            "surface_energies_J_m2": [doc["surface_energy_J_m2"] for doc in docs],
            LAST_UPDATED: to_dt(to_isoformat_ceil_ms(newest_time(item["facets"]))),
        }
        lattice_constant = next((doc["lattice_constant_A"] for doc in docs if doc.get("lattice_constant_A")), None)
        if not docs or lattice_constant is None:
            return {**out, "area_fractions": {}, "reason": "no surface energies (or no bulk lattice constant) for this model"}
        shape = WulffShape(
            Lattice.cubic(lattice_constant), [tuple(m) for m in out["miller_indices"]], out["surface_energies_J_m2"]
        )
        fractions = shape.area_fraction_dict
        return {
            **out,
            "lattice_constant_A": lattice_constant,
            "area_fractions": {doc["facet"]: float(fractions[tuple(doc["miller_index"])]) for doc in docs},
            "weighted_surface_energy_J_m2": float(shape.weighted_surface_energy),
            "shape_factor": float(shape.shape_factor),
            "anisotropy": float(shape.anisotropy),
            "reason": None,
        }
