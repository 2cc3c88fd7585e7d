"""Fuzz the campaign-spec loader: whatever it is given, it returns a spec or raises InputError, nothing else."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from li_campaign.core.errors import InputError
from li_campaign.schemas.spec import CampaignSpec, load_spec, spec_from_dict

pytestmark = pytest.mark.faults

FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
DEFAULTS = CampaignSpec(name="fuzz").model_dump(mode="json")


def _paths(tree: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path of the default spec, to nested sections and to leaves."""
    if not isinstance(tree, dict):
        return []
    out = []
    for key, value in tree.items():
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


PATHS = _paths(DEFAULTS)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12
)


def _accepts(load, data) -> None:
    """``load(data)`` returns a CampaignSpec or raises InputError; anything else fails the test."""
    try:
        spec = load(data)
    except InputError as exc:
        assert str(exc)
    else:
        assert isinstance(spec, CampaignSpec)


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(DEFAULTS)) | st.text(max_size=10), values, max_size=6))
def test_random_nested_dicts(data):
    _accepts(spec_from_dict, data)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_random_values_at_known_field_paths(changes):
    data = copy.deepcopy(DEFAULTS)
    for path, value in changes:
        node = data
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    _accepts(spec_from_dict, data)


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_random_yaml_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    _accepts(load_spec, path)


@FUZZ
@given(st.sampled_from(PATHS), values)
def test_random_values_through_yaml_files(tmp_path_factory, path, value):
    data = copy.deepcopy(DEFAULTS)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    spec_file = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    _accepts(load_spec, spec_file)
