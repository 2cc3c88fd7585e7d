"""The result registry is the one list of result types: nothing that writes, builds or checks results misses it.

Each test reads the code it guards (the result documents, the Makers' source, the builder classes) rather
than a copy of the registry, so a result type that is added without its entry, or an entry that is removed,
fails here.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path

import pytest
from maggma.core import Builder
from pydantic import BaseModel

import li_campaign
import li_campaign.builders
import li_campaign.schemas
from li_campaign.builders import all_builders
from li_campaign.builders.base import JobOutputMapBuilder
from li_campaign.db.indexes import DERIVED_INDEXES
from li_campaign.db.verify import verify_campaign
from li_campaign.schemas import registry
from li_campaign.schemas.registry import FLAGGED_DOC_TYPE, RESULT_TYPES, STRUCTURE_HASH_DOC_TYPES, result_type

SRC = Path(li_campaign.__file__).parent
#: Result documents that no builder reads: the committee and the training set are inputs of later jobs, a
#: flagged result stands in for the result named by its ``result_doc_type``.
NOT_BUILT = {"committee", "training_set", FLAGGED_DOC_TYPE}
#: Result types that carry a structure hash but were not checked by ``db verify`` before the registry.
ONCE_SKIPPED = ("step_energy", "step_adsorption", "step_edge_diffusion", "adatom_diffusion", "training_frames")
HASH = "a" * 64


def _modules(package) -> list:
    names = [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]
    return [importlib.import_module(name) for name in names]


def _result_documents() -> dict[str, str]:
    """Class name -> ``doc_type`` of every pydantic result document (a ``doc_type`` and a provenance)."""
    return {
        name: cls.model_fields["doc_type"].default
        for module in _modules(li_campaign.schemas)
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, BaseModel) and {"doc_type", "provenance"} <= set(cls.model_fields)
    }


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _hashes_a_structure(node: ast.AST) -> bool:
    """Whether the code computes an input-structure hash for a provenance (``structure_hash(...)``,
    ``self.provenance(..., structure=...)`` of a :class:`~li_campaign.execution.maker.CalculationMaker`,
    or a ``structure_hash=`` argument)."""
    calls = [call for call in ast.walk(node) if isinstance(call, ast.Call)]
    return any(
        _called_name(call) == "structure_hash"
        or any(k.arg == "structure_hash" for k in call.keywords)
        or (_called_name(call) == "provenance" and any(k.arg == "structure" for k in call.keywords))
        for call in calls
    )


def _documents_made(node: ast.AST, documents: dict[str, str]) -> set[str]:
    """``doc_type`` of the result documents that the code constructs (``Doc(...)`` or ``Doc.from_...(...)``)."""
    made = set()
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            func = func.value
        if isinstance(func, ast.Name) and func.id in documents:
            made.add(documents[func.id])
    return made


def structure_hashed_doc_types() -> set[str]:
    """``doc_type`` of every result document made, in ``src/``, by a Maker class or function that hashes its structure.

    The unit is a top-level class (a Maker and its helper methods) or a top-level function.
    """
    documents = _result_documents()
    found: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and _hashes_a_structure(node):
                found |= _documents_made(node, documents)
    return found


def _builder_modules() -> list:
    """:mod:`li_campaign.builders` and every domain's ``builders`` module (``li_campaign.<domain>.builders``)."""
    domains = [info.name for info in pkgutil.iter_modules(li_campaign.__path__) if info.ispkg]
    found = [f"li_campaign.{name}.builders" for name in domains if importlib.util.find_spec(f"li_campaign.{name}.builders")]
    return [*_modules(li_campaign.builders), *map(importlib.import_module, found)]


def _concrete_builders() -> set[type]:
    """Every builder class that :mod:`li_campaign.builders` or a domain's ``builders`` module defines and that can
    run (public, not abstract)."""
    return {
        cls
        for module in _builder_modules()
        for name, cls in vars(module).items()
        if inspect.isclass(cls)
        and issubclass(cls, Builder)
        and cls.__module__ == module.__name__
        and not name.startswith("_")
        and not inspect.isabstract(cls)
    }


def test_the_registry_examples_run():
    assert doctest.testmod(registry).failed == 0


def test_every_structure_hashed_result_is_checked_by_db_verify():
    found = structure_hashed_doc_types()
    assert {"bulk", "training_frame", FLAGGED_DOC_TYPE} <= found  # the scan sees the Makers
    # a flagged result is checked as the result it stands in for (test_db_verify_checks_a_flagged_result...)
    assert found - {FLAGGED_DOC_TYPE} == STRUCTURE_HASH_DOC_TYPES
    assert set(ONCE_SKIPPED) <= STRUCTURE_HASH_DOC_TYPES


def test_every_result_document_is_registered():
    registered = {doc_type for result in RESULT_TYPES for doc_type in result.doc_types}
    assert set(_result_documents().values()) - NOT_BUILT == registered


def test_every_builder_is_registered():
    assert {result.builder_class() for result in RESULT_TYPES} == _concrete_builders()


@pytest.mark.parametrize("result", RESULT_TYPES, ids=lambda result: result.collection)
def test_every_collection_has_a_key_indexes_and_a_builder(result):
    indexes = {(spec.fields, spec.unique) for spec in DERIVED_INDEXES if spec.collection == result.collection}
    assert ((result.key,), True) in indexes and (("last_updated",), False) in indexes
    assert result.indexes and {(fields, False) for fields in result.indexes} <= indexes
    cls = result.builder_class()
    assert issubclass(cls, Builder) and not inspect.isabstract(cls)
    assert result_type(result.collection) is result
    if result.maps_job_outputs:
        assert issubclass(cls, JobOutputMapBuilder) and cls.doc_type == result.doc_types[0]
        assert cls.target_key_path.rsplit(".", 1)[-1] == result.key
        assert not result.optional_sources
    else:
        assert not result.doc_types and not result.structure_hash
        assert set(result.optional_sources) <= set(inspect.signature(cls).parameters)


def test_the_registry_is_in_build_order():
    names = [result.collection for result in RESULT_TYPES]
    assert len(set(names)) == len(names)
    for position, result in enumerate(RESULT_TYPES):
        assert set(result.sources + result.optional_sources) <= set(names[:position]), result.collection


def test_an_unknown_collection_is_refused(campaign):
    with pytest.raises(KeyError, match="unknown derived collection 'nope'; known: .*'step_energies'"):
        campaign.derived_store("nope")


def test_all_builders_are_the_registered_ones(campaign):
    builders = all_builders(campaign)
    assert [type(builder) for builder in builders] == [result.builder_class() for result in RESULT_TYPES]
    for builder, result in zip(builders, RESULT_TYPES):
        assert [store.collection_name for store in builder.targets] == [result.collection]
        assert builder.targets[0].key == result.key
        sources = [getattr(store, "docs_store", store).collection_name for store in builder.sources]  # a JobStore: its docs
        assert sources == (["outputs"] if result.maps_job_outputs else [*result.sources, *result.optional_sources])


def _output(uuid: str, doc_type: str, structure_hash: str | None, **fields) -> dict:
    provenance = {"campaign": "r", "spec_hash": "f" * 64, "structure_hash": structure_hash}
    return {"uuid": uuid, "index": 1, "output": {"doc_type": doc_type, "provenance": provenance, **fields}}


def _hash_problems(campaign, *docs: dict) -> set[tuple[str, str]]:
    campaign.database()["outputs"].insert_many(list(docs))
    return {(p.uuid, p.field) for p in verify_campaign(campaign) if p.check == "structure_hash_missing"}


@pytest.mark.parametrize("doc_type", ONCE_SKIPPED)
def test_db_verify_names_a_result_without_its_structure_hash(campaign, doc_type):
    problems = _hash_problems(campaign, _output("no-hash", doc_type, None), _output("hashed", doc_type, HASH))
    assert problems == {("no-hash", "output.provenance.structure_hash")}


def test_db_verify_checks_the_members_of_a_pack(campaign):
    pack = {
        "uuid": "pack",
        "index": 1,
        "output": {
            "doc_type": "pack",
            "member_uuids": ["m0", "m1"],
            "result_doc_types": ["step_adsorption", "step_adsorption"],
            "results": [_output("m0", "step_adsorption", HASH)["output"], _output("m1", "step_adsorption", "")["output"]],
        },
    }
    assert _hash_problems(campaign, pack) == {("m1", "output.results.1.provenance.structure_hash")}


def test_db_verify_checks_a_flagged_result_as_the_result_it_stands_in_for(campaign):
    problems = _hash_problems(
        campaign,
        _output("md", FLAGGED_DOC_TYPE, None, result_doc_type="adatom_diffusion"),
        _output("fit", FLAGGED_DOC_TYPE, None, result_doc_type="adatom_arrhenius"),  # a fit: no structure of its own
        _output("ok", FLAGGED_DOC_TYPE, HASH, result_doc_type="finite_temperature"),
    )
    assert problems == {("md", "output.provenance.structure_hash")}


def test_db_verify_asks_no_hash_of_a_result_without_a_structure(campaign):
    fit, iteration = _output("fit", "adatom_arrhenius", None), _output("it", "active_learning_iteration", None)
    assert _hash_problems(campaign, fit, iteration) == set()
