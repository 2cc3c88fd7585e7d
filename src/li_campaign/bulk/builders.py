"""Builders of the bulk stage: the equation of state, one collection per calculation kind, then ``bulk_properties``.

The MapBuilders copy each document's scalar fields (their field lists come from the
schema, less the large data: trajectories, NEB images); the phonon band and DOS are kept,
since the report plots them. :class:`BulkPropertiesBuilder` joins, per model, the newest
EOS, vacancy, phonon, 0 K elastic and per-temperature MD results with the DFT teacher's EOS
and elastic constants into one document, the source of the report's bulk page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from maggma.core import Builder, Store
from maggma.utils import to_dt, to_isoformat_ceil_ms

from li_campaign.builders.base import (
    LAST_UPDATED,
    JobOutputMapBuilder,
    newest_doc,
    newest_time,
    pick,
    provenance_fields,
    stale_keys,
    strip_ids,
)
from li_campaign.builders.flagged import report_flagged
from li_campaign.schemas.bulk import ElasticDoc, FiniteTemperatureDoc, PhononDoc, VacancyDoc

_BUILT = {"state": "successful"}
_BULK_FIELDS = (
    "source",
    "lattice_constant_A",
    "energy_per_atom_eV",
    "bulk_modulus_GPa",
    "bulk_modulus_derivative",
    "volumes_A3_atom",
    "energies_eV_atom",
)


class BulkBuilder(JobOutputMapBuilder):
    """``bulk`` outputs -> ``bulk`` (equation-of-state fit per model)."""

    doc_type = "bulk"
    output_fields = (*_BULK_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.bulk.BulkDoc`."""
        out = item["output"]
        return {**pick(out, _BULK_FIELDS), **provenance_fields(out)}


def _scalar_fields(doc_class, exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The schema fields a derived document keeps: all but provenance and ``exclude``."""
    return tuple(name for name in doc_class.model_fields if name not in ("provenance", *exclude))


class _SchemaMapBuilder(JobOutputMapBuilder):
    """Copy the :attr:`fields` of one document type, plus the flattened provenance.

    Flagged calculations of that type (:mod:`li_campaign.schemas.flags`) are left out; each
    build logs how many (:func:`~li_campaign.builders.flagged.report_flagged`) and keeps the
    number in :attr:`n_flagged`.
    """

    fields: tuple[str, ...] = ()
    n_flagged: int = 0

    def get_items(self) -> Iterator[dict]:
        """Report the flagged results left out, then yield the new results (see the base class)."""
        self.n_flagged = report_flagged(self.source, self.doc_type, type(self).__name__)
        yield from super().get_items()

    def unary_function(self, item: dict) -> dict:
        """Flatten one document."""
        out = item["output"]
        return {**{name: out.get(name) for name in self.fields}, **provenance_fields(out)}


class VacancyBuilder(_SchemaMapBuilder):
    """``vacancy`` outputs -> ``vacancies`` (per-size table, migration barrier; no NEB images)."""

    doc_type = VacancyDoc.model_fields["doc_type"].default
    fields = _scalar_fields(VacancyDoc, exclude=("neb_images",))
    output_fields = (*fields, "provenance")


class PhononBuilder(_SchemaMapBuilder):
    """``phonons`` outputs -> ``phonons`` (frequencies at H, N, P, band and DOS, harmonic thermodynamics)."""

    doc_type = PhononDoc.model_fields["doc_type"].default
    fields = _scalar_fields(PhononDoc)
    output_fields = (*fields, "provenance")


class FiniteTemperatureBuilder(_SchemaMapBuilder):
    """``finite_temperature`` outputs -> ``finite_temperature`` (one per temperature; no trajectory)."""

    doc_type = FiniteTemperatureDoc.model_fields["doc_type"].default
    fields = _scalar_fields(FiniteTemperatureDoc, exclude=("trajectory",))
    output_fields = (*fields, "provenance")


class ElasticBuilder(_SchemaMapBuilder):
    """``elastic`` outputs (model and DFT teacher) -> ``elastic_constants``."""

    doc_type = ElasticDoc.model_fields["doc_type"].default
    fields = _scalar_fields(ElasticDoc)
    output_fields = (*fields, "provenance")


def _temperature_key(value: float) -> str:
    """JSON-object key of a temperature: ``300.0`` -> ``"300"``."""
    return f"{value:g}"


class BulkPropertiesBuilder(Builder):
    """Join the bulk-stage collections into one ``bulk_properties`` document per model.

    Incremental like :class:`~li_campaign.builders.summary.FacetSummaryBuilder`: a model's
    document is rebuilt when any of its source documents (or its campaign's DFT teacher
    documents) is newer than it. Per temperature the newest MD result is used.

    Parameters
    ----------
    bulk, vacancies, phonons, finite_temperature, elastic_constants
        The derived collections of the bulk MapBuilders.
    bulk_properties
        The target, keyed by ``model_sha256``.
    **kwargs
        Passed to :class:`maggma.core.Builder`.
    """

    model_sources = ("vacancies", "phonons", "finite_temperature", "elastic_constants")

    def __init__(
        self,
        bulk: Store,
        vacancies: Store,
        phonons: Store,
        finite_temperature: Store,
        elastic_constants: Store,
        bulk_properties: Store,
        **kwargs,
    ):
        self.bulk = bulk
        self.vacancies = vacancies
        self.phonons = phonons
        self.finite_temperature = finite_temperature
        self.elastic_constants = elastic_constants
        self.bulk_properties = bulk_properties
        self.kwargs = kwargs
        super().__init__(
            sources=[bulk, vacancies, phonons, finite_temperature, elastic_constants],
            targets=[bulk_properties],
            **kwargs,
        )

    def _group_times(self) -> dict[str, datetime]:
        """``model_sha256 -> newest last_updated`` over its stage documents and its campaign's teacher."""
        props = ["model_sha256", "campaign", LAST_UPDATED]
        times: dict[str, datetime] = {}
        campaigns: dict[str, str] = {}
        for name in self.model_sources:
            for doc in getattr(self, name).query(criteria={**_BUILT, "model_sha256": {"$ne": None}}, properties=props):
                sha = doc["model_sha256"]
                times[sha] = max(times.get(sha, datetime.min), to_dt(doc[LAST_UPDATED]))
                campaigns[sha] = doc["campaign"]
        teacher: dict[str, datetime] = {}
        for store in (self.bulk, self.elastic_constants):
            for doc in store.query(criteria={**_BUILT, "source": "dft"}, properties=props):
                teacher[doc["campaign"]] = max(teacher.get(doc["campaign"], datetime.min), to_dt(doc[LAST_UPDATED]))
        for doc in self.bulk.query(criteria={**_BUILT, "model_sha256": {"$in": list(times)}}, properties=props):
            sha = doc["model_sha256"]
            times[sha] = max(times[sha], to_dt(doc[LAST_UPDATED]))
        return {sha: max(newest, teacher.get(campaigns[sha], datetime.min)) for sha, newest in times.items()}

    def get_items(self) -> Iterator[dict]:
        """Yield, per stale model, its documents of every source and its campaign's teacher documents."""
        stale = stale_keys(self._group_times(), self.bulk_properties)
        self.total = len(stale)
        self.logger.info(f"{type(self).__name__}: processing {self.total} items")
        for sha in stale:
            item = {"model_sha256": sha}
            for name in ("bulk", *self.model_sources):
                item[name] = strip_ids(getattr(self, name).query(criteria={**_BUILT, "model_sha256": sha}))
            campaign = next(doc["campaign"] for name in self.model_sources for doc in item[name])
            teacher = {**_BUILT, "campaign": campaign, "source": "dft"}
            item["dft_bulk"] = strip_ids(self.bulk.query(criteria=teacher))
            item["dft_elastic"] = strip_ids(self.elastic_constants.query(criteria=teacher))
            yield item

    def process_item(self, item: dict) -> dict:
        """Return the ``bulk_properties`` document of one model (pure: no database access)."""
        bulk = newest_doc([doc for doc in item["bulk"] if doc.get("source", "mlip") == "mlip"])
        vacancy, phonons = newest_doc(item["vacancies"]), newest_doc(item["phonons"])
        elastic = newest_doc([doc for doc in item["elastic_constants"] if doc["source"] == "mlip"])
        dft_bulk, dft_elastic = newest_doc(item["dft_bulk"]), newest_doc(item["dft_elastic"])
        per_t: dict[str, dict] = {}
        for doc in sorted(item["finite_temperature"], key=lambda d: to_dt(d[LAST_UPDATED])):
            per_t[_temperature_key(doc["temperature_K"])] = doc  # newest wins
        everything = [doc for name in ("bulk", *self.model_sources, "dft_bulk", "dft_elastic") for doc in item[name]]
        first = next(doc for doc in everything if doc.get("model_sha256") == item["model_sha256"])
        return {
            "model_sha256": item["model_sha256"],
            "campaign": first["campaign"],
            **_eos(bulk),
            "vacancy_formation_eV": _get(vacancy, "formation_energy_eV"),
            "vacancy_formation_converged": _get(vacancy, "converged"),
            "vacancy_formation_by_size": None if vacancy is None else [
                {key: size[key] for key in ("n", "n_atoms", "formation_energy_eV")} for size in vacancy["sizes"]
            ],
            "vacancy_migration_eV": _get(vacancy, "migration_barrier_eV"),
            "phonon_THz": _get(phonons, "frequencies_THz"),
            "min_phonon_THz": _get(phonons, "min_frequency_THz"),
            "imaginary_phonons": _get(phonons, "imaginary_modes"),
            "phonon_band": None if phonons is None else _band(phonons["band"]),
            "phonon_dos": None if phonons is None else {
                "frequencies_THz": phonons["dos"]["frequencies_THz"], "dos": phonons["dos"]["dos_states_THz"]
            },
            "heat_capacity_harmonic_kB": None if phonons is None else _harmonic_cv(phonons["thermal"]),
            "elastic_0K_GPa": _cij(elastic),
            "elastic_GPa": {t: _cij_t(doc) for t, doc in per_t.items()},
            "thermal_expansion": {t: doc["lattice_constant_A"] for t, doc in per_t.items()},
            "thermal_expansion_err": {t: doc["lattice_constant_err_A"] for t, doc in per_t.items()},
            "heat_capacity_md_kB": {t: doc["heat_capacity_kB_per_atom"] for t, doc in per_t.items()},
            "md_converged": {t: doc["convergence"]["converged"] for t, doc in per_t.items()},
            "dft_reference": {**_eos(dft_bulk), "elastic_0K_GPa": _cij(dft_elastic)},
            "source_uuids": {
                "bulk": _get(bulk, "uuid"), "vacancy": _get(vacancy, "uuid"), "phonons": _get(phonons, "uuid"),
                "elastic": _get(elastic, "uuid"), "finite_temperature": {t: doc["uuid"] for t, doc in per_t.items()},
            },
            LAST_UPDATED: to_dt(to_isoformat_ceil_ms(newest_time(everything))),
        }

    def update_targets(self, items: list[dict]) -> None:
        """Write the documents in one bulk update."""
        if items:
            self.bulk_properties.update(items)


def _get(doc: dict | None, name: str) -> object:
    return None if doc is None else doc.get(name)


def _eos(doc: dict | None) -> dict:
    return {
        "a0_A": _get(doc, "lattice_constant_A"),
        "B0_GPa": _get(doc, "bulk_modulus_GPa"),
        "B0_prime": _get(doc, "bulk_modulus_derivative"),
    }


def _cij(doc: dict | None) -> dict | None:
    if doc is None:
        return None
    return {"C11": doc["c11_GPa"], "C12": doc["c12_GPa"], "C44": doc["c44_GPa"], "born_stable": doc["born_stable"]}


def _cij_t(doc: dict) -> dict:
    out = {}
    for name in ("C11", "C12", "C44"):
        out[name], out[f"{name}_err"] = doc[f"{name}_GPa"], doc[f"{name}_err_GPa"]
    out["born_stable"] = doc["born_stable"]
    return out


def _band(band: dict) -> dict:
    """Split phonopy's band path into segments between special points, for plotting."""
    distances, freqs = band["distances_inv_A"], band["frequencies_THz"]
    n_segments = len(band["labels"]) - 1
    per = len(distances) // n_segments
    return {
        "distances": [distances[k * per:(k + 1) * per] for k in range(n_segments)],
        "frequencies_THz": [freqs[k * per:(k + 1) * per] for k in range(n_segments)],
        "labels": band["labels"],
        "label_positions": band["label_distances_inv_A"],
    }


def _harmonic_cv(thermal: dict) -> dict:
    """Harmonic C_V per temperature in k_B per atom (phonopy gives J/(K mol) of atoms)."""
    gas_constant = 8.314462618
    return {_temperature_key(t): cv / gas_constant for t, cv in zip(thermal["temperatures_K"], thermal["heat_capacity_J_K_mol"])}
