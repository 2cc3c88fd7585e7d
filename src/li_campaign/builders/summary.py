"""Builders that join the per-facet collections: facet summaries, the BEP regression, the Wulff shape."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

import numpy as np
from maggma.core import Builder, Store
from maggma.utils import to_dt

LAST_UPDATED = "last_updated"
_BUILT = {"state": "successful", "model_sha256": {"$ne": None}}


def _ceil_ms(value: datetime) -> datetime:
    """Round up to a whole millisecond, the precision of BSON datetimes (exact values are kept)."""
    extra = value.microsecond % 1000
    return value + timedelta(microseconds=1000 - extra) if extra else value


def _newest(docs: list[dict]) -> dict | None:
    """Return the most recently updated document, or None if there is none."""
    return max(docs, key=lambda doc: to_dt(doc[LAST_UPDATED]), default=None)


def _newest_time(docs: Iterable[dict]) -> datetime:
    """Return the newest ``last_updated`` of ``docs`` (``datetime.min`` if none)."""
    return max((to_dt(doc[LAST_UPDATED]) for doc in docs), default=datetime.min)


def _field(doc: dict | None, name: str) -> object:
    """Return ``doc[name]``, or None if the document or the field is missing."""
    return None if doc is None else doc.get(name)


def _stale(group_times: dict[str, datetime], target: Store) -> list[str]:
    """Return the target keys whose newest source time is newer than the target document."""
    docs = target.query(properties=[target.key, LAST_UPDATED])
    built = {doc[target.key]: to_dt(doc.get(LAST_UPDATED)) for doc in docs}
    return sorted(key for key, newest in group_times.items() if built.get(key) is None or newest > built[key])


def _strip_ids(docs: Iterable[dict]) -> list[dict]:
    """Return the documents without their database ``_id``."""
    return [{k: v for k, v in doc.items() if k != "_id"} for doc in docs]


class FacetSummaryBuilder(Builder):
    """Join surface, adsorption and diffusion results into one document per model and facet.

    The target ``facet_summary`` is keyed by ``summary_id = "<model_sha256>:<facet>"`` and holds
    the newest surface energy, minimum adsorption energy and minimum barrier of the facet, and
    the model's lattice constant from ``bulk``.

    This is not a maggma ``GroupBuilder``: a group here is made from three collections (plus
    ``bulk``), and GroupBuilder's incremental logic only looks for source keys missing from the
    target's member list of one source, so a re-computed or updated member would be missed.
    Instead :meth:`get_items` compares, per group, the newest ``last_updated`` of every source
    document with the target's ``last_updated``, which :meth:`process_item` sets to that newest
    time rounded up to the millisecond (BSON datetimes keep milliseconds). A second build with
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
        stale = _stale(self._group_times(), self.facet_summary)
        self.total = len(stale)
        self.logger.info(f"{type(self).__name__}: processing {self.total} items")
        for sid in stale:
            sha, facet = sid.split(":", 1)
            criteria = {**_BUILT, "model_sha256": sha}
            item = {"model_sha256": sha, "facet": facet}
            for name in self.facet_sources:
                item[name] = _strip_ids(getattr(self, name).query(criteria={**criteria, "facet": facet}))
            item["bulk"] = _strip_ids(self.bulk.query(criteria=criteria))
            yield item

    def process_item(self, item: dict) -> dict:
        """Return the facet summary of one group (pure: no database access)."""
        names = ("surface_energies", "adsorption_energies", "diffusion_barriers", "bulk")
        surface, adsorption, diffusion, bulk = (_newest(item[name]) for name in names)
        step = _newest(item.get("step_energies", []))
        first = next((doc for doc in (surface, adsorption, diffusion, step) if doc is not None), None) or _newest(
            item.get("adatom_diffusion", [])
        )
        newest = _newest_time(doc for name in (*self.facet_sources, "bulk") for doc in item[name])
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
            "min_barrier_eV": _field(diffusion, "min_barrier_eV"),
            "min_hop": _field(diffusion, "min_hop"),
            "min_mechanism": _field(diffusion, "min_mechanism"),
            "step_energy_eV_per_A": _field(step, "step_energy_eV_per_A"),
            "diffusivity_cm2_s": _diffusivities(item.get("adatom_diffusion", [])),
            "source_uuids": {
                name: doc["uuid"]
                for name, doc in zip(names, (surface, adsorption, diffusion, bulk))
                if doc is not None
            },
            LAST_UPDATED: _ceil_ms(newest),
        }

    def update_targets(self, items: list[dict]) -> None:
        """Write the summaries in one bulk update."""
        if items:
            self.facet_summary.update(items)


def _diffusivities(runs: list[dict]) -> dict[str, float]:
    """Temperature (K, as a string key) -> D (cm²/s) of the newest valid single-adatom run at that temperature."""
    newest: dict[float, dict] = {}
    for run in runs:
        if run.get("n_adatoms") != 1 or not run.get("valid") or run.get("diffusivity_cm2_s") is None:
            continue
        temperature = float(run["temperature_K"])
        if temperature not in newest or to_dt(run[LAST_UPDATED]) > to_dt(newest[temperature][LAST_UPDATED]):
            newest[temperature] = run
    return {f"{t:g}": newest[t]["diffusivity_cm2_s"] for t in sorted(newest)}


#: Bootstrap resamples of the BEP slope's confidence interval (seeded: builds are reproducible).
BOOTSTRAP_SAMPLES = 2000


def bep_fit(x: list[float], y: list[float], seed: int = 0) -> dict:
    """Least-squares line ``y = slope * x + intercept`` with r², Spearman ρ and a bootstrap CI.

    Parameters
    ----------
    x, y
        Minimum adsorption energies and minimum barriers (eV), one pair per facet.
    seed
        Seed of the bootstrap resampling.

    Returns
    -------
    dict
        ``slope``, ``intercept``, ``r2``, ``spearman``, ``ci95``, ``n`` and ``reason``.
        ``r2 = 1 - SS_res / SS_tot``; it is 1.0 when the line passes through every point (two
        facets, or equal barriers). ``spearman`` is the rank correlation (scipy), None for
        fewer than 3 points or constant values. ``ci95`` is the 2.5–97.5 % percentile interval
        of the slope over :data:`BOOTSTRAP_SAMPLES` resamples of the facets with replacement
        (resamples whose adsorption energies are all equal are skipped); None for fewer than 3
        points. With fewer than two points, or equal adsorption energies, there is no fit: the
        numbers are None and ``reason`` says why.
    """
    n = len(x)
    no_fit = {"slope": None, "intercept": None, "r2": None, "spearman": None, "ci95": None, "n": n}
    if n < 2:
        return {**no_fit, "reason": f"need at least 2 facets with an adsorption energy and a barrier, have {n}"}
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if np.ptp(xs) == 0:
        return {**no_fit, "reason": "all adsorption energies are equal"}
    slope, intercept = np.polyfit(xs, ys, 1)
    ss_res = float(np.sum((ys - (slope * xs + intercept)) ** 2))
    ss_tot = float(np.sum((ys - ys.mean()) ** 2))
    r2 = 1.0 if n == 2 or ss_tot == 0 else 1.0 - ss_res / ss_tot
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "r2": r2,
        "spearman": _spearman(xs, ys),
        "ci95": _bootstrap_slope_ci(xs, ys, seed),
        "n": n,
        "reason": None,
    }


def _spearman(xs: np.ndarray, ys: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(xs) < 3 or np.ptp(ys) == 0:
        return None
    return float(spearmanr(xs, ys).statistic)


def _bootstrap_slope_ci(xs: np.ndarray, ys: np.ndarray, seed: int) -> list[float] | None:
    if len(xs) < 3:
        return None
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(BOOTSTRAP_SAMPLES):
        pick = rng.integers(0, len(xs), len(xs))
        if np.ptp(xs[pick]) > 0:
            slopes.append(np.polyfit(xs[pick], ys[pick], 1)[0])
    low, high = np.percentile(slopes, [2.5, 97.5])
    return [float(low), float(high)]


def is_high_index(miller_index) -> bool:
    """True for facets other than the low-index (100), (110), (111): a Miller index above 1."""
    return max(abs(int(i)) for i in miller_index) > 1


def _fit_points(points: list[dict]) -> dict:
    """:func:`bep_fit` of facet points, with the facets used."""
    fit = bep_fit([p["min_adsorption_energy_eV"] for p in points], [p["min_barrier_eV"] for p in points])
    return {**fit, "facets": [p["facet"] for p in points]}


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

    def __init__(self, facet_summary: Store, target: Store, **kwargs):
        self.facet_summary = facet_summary
        self.target = target
        self.kwargs = kwargs
        super().__init__(sources=[facet_summary], targets=[target], **kwargs)

    def get_items(self) -> Iterator[dict]:
        """Yield, per stale model, its facet summaries.

        Yields
        ------
        dict
            ``model_sha256`` and ``facets``, the model's facet summary documents.
        """
        times: dict[str, datetime] = {}
        for doc in self.facet_summary.query(properties=["model_sha256", LAST_UPDATED]):
            sha = doc["model_sha256"]
            times[sha] = max(times.get(sha, datetime.min), to_dt(doc[LAST_UPDATED]))
        stale = _stale(times, self.target)
        self.total = len(stale)
        self.logger.info(f"{type(self).__name__}: processing {self.total} items")
        for sha in stale:
            yield {"model_sha256": sha, "facets": _strip_ids(self.facet_summary.query(criteria={"model_sha256": sha}))}

    def update_targets(self, items: list[dict]) -> None:
        """Write the documents in one bulk update."""
        if items:
            self.target.update(items)


class BepRegressionBuilder(_PerModelFacetBuilder):
    """Brønsted–Evans–Polanyi regression of barrier vs adsorption energy, one per model.

    The target ``bep_regression`` is keyed by ``regression_id = model_sha256``. It fits
    ``min_barrier_eV`` (y) against ``min_adsorption_energy_eV`` (x) over the model's facets that
    have both (see :func:`bep_fit`), keeps the points, and repeats the fit over the high-index
    facets only (``high_index``; see :func:`is_high_index`), where the paper reports a weak relation.
    """

    def process_item(self, item: dict) -> dict:
        """Return the regression document of one model (pure: no database access)."""
        docs = sorted(item["facets"], key=lambda doc: doc["facet"])
        usable = [
            doc for doc in docs if doc.get("min_adsorption_energy_eV") is not None and doc.get("min_barrier_eV") is not None
        ]
        points = [
            {key: doc[key] for key in ("facet", "min_adsorption_energy_eV", "min_barrier_eV", "min_site", "min_hop")}
            for doc in usable
        ]
        high = [p for p, doc in zip(points, usable) if is_high_index(doc["miller_index"])]
        return {
            "regression_id": item["model_sha256"],
            "campaign": docs[0]["campaign"],
            "model_sha256": item["model_sha256"],
            **_fit_points(points),
            "points": points,
            "high_index": _fit_points(high),
            LAST_UPDATED: _ceil_ms(_newest_time(docs)),
        }


class WulffShapeBuilder(_PerModelFacetBuilder):
    """The equilibrium crystal shape of each model from its surface energies (pymatgen ``WulffShape``).

    The target ``wulff_shape`` is keyed by ``wulff_id = model_sha256`` and holds the area
    fraction of every facet on the shape, the area-weighted surface energy, the shape factor
    and the anisotropy, from the facets that have a surface energy.
    """

    def process_item(self, item: dict) -> dict:
        """Return the Wulff shape document of one model (pure: no database access)."""
        from pymatgen.analysis.wulff import WulffShape
        from pymatgen.core import Lattice

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
            LAST_UPDATED: _ceil_ms(_newest_time(item["facets"])),
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
