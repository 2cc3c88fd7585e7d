"""Campaign spec validation: every bad input names its field (or file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from li_campaign.core.errors import InputError
from li_campaign.schemas.spec import CampaignSpec, facet_label, load_spec, parse_miller, spec_from_dict

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "workflows").glob("*.yaml")) + [REPO / "tests/data/e2e_morse.yaml", REPO / "tests/data/pipeline_morse.yaml"])
def test_shipped_specs_are_valid(path):
    spec = load_spec(path)
    assert isinstance(spec, CampaignSpec)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("110", (1, 1, 0)), ("1 1 0", (1, 1, 0)), ("-1,1,0", (-1, 1, 0)), ([2, 1, 1], (2, 1, 1)), ("-211", (-2, 1, 1))],
)
def test_parse_miller(value, expected):
    assert parse_miller(value) == expected


def test_facet_label_is_the_cubic_family():
    assert facet_label((0, -1, 1)) == "110"
    assert facet_label((1, 2, 3)) == "321"
    assert facet_label((10, 1, 0)) == "10_1_0"


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"fanout": {"facets": ["1x0"]}}, "fanout.facets", "unknown facet '1x0'"),
        ({"fanout": {"facets": ["000"]}}, "fanout.facets", "impossible facet"),
        ({"fanout": {"facets": ["110", "011"]}}, "fanout.facets", "listed twice"),
        ({"training_set": {"slabs": {"facets": [[1, 1]]}}}, "training_set.slabs.facets", "3 integers"),
        ({"training_set": {"slabs": {"facets": None}}}, "training_set.slabs.facets", "must be a list of Miller indices"),
        ({"fanout": {"facets": "110"}}, "fanout.facets", "must be a list of Miller indices"),
        ({"dft": {"engine": "vasp5"}}, "dft.engine", "Input should be"),
        ({"dft": {"gpaw": {"ecutt": 300}}}, "dft.gpaw.ecutt", "Extra inputs"),
        ({"dft": {"gpaw": {"kspacing_inv_A": -1}}}, "dft.gpaw.kspacing_inv_A", "greater than"),
        ({"mlip": {"split": {"train": 0.5, "val": 0.1, "test": 0.1}}}, "mlip.split", "must be 1"),
        ({"name": "bad name!"}, "name", "pattern"),
        ({"bulk": {"vacancy": {"supercell_sizes": [3, 2]}}}, "bulk.vacancy", "must be increasing"),
        ({"bulk": {"finite_temperature": {"temperatures_K": [-5]}}}, "bulk.finite_temperature", "temperatures must be > 0 K"),
        ({"bulk": {"phonons": {"displacement_A": 0}}}, "bulk.phonons.displacement_A", "greater than"),
        ({"bulk": {"elastic": {"strains": [0.2]}}}, "bulk.elastic.strains", "(0, 0.05]"),
        ({"bulk": {"dft_elastic_kspacing_inv_A": 0}}, "bulk.dft_elastic_kspacing_inv_A", "greater than"),
        ({"validation": {"adsorption_tol_eV": 0}}, "validation.adsorption_tol_eV", "greater than"),
        ({"validation": {"max_band_images": 2}}, "validation.max_band_images", "greater than or equal to 3"),
        ({"validation": {"thresholds": {}}}, "validation.thresholds", "Extra inputs"),
        ({"mlip": {"architecture": "mace"}}, "mlip.architecture", "Input should be 'nequip' or 'allegro'"),
        ({"mlip": {"architecture": "allegro", "allegro": {"num_bessel": 8}}}, "mlip.allegro.num_bessel", "Extra inputs"),
        ({"mlip": {"architecture": "allegro", "allegro": {"num_scalar_features": 2}}}, "mlip.allegro.num_scalar_features",
         "greater than or equal to 4"),
        ({"mlip": {"architecture": "allegro", "allegro": {"readout_mlp_nonlinearity": "relu"}}},
         "mlip.allegro.readout_mlp_nonlinearity", "Input should be 'silu', 'mish' or 'gelu'"),
        ({"mlip": {"architecture": "allegro", "allegro": {"two_body_mlp_depth": 0}}}, "mlip.allegro.two_body_mlp_depth",
         "greater than or equal to 1"),
        ({"mlip": {"allegro": {"num_tensor_features": 8}}}, "mlip.allegro",
         "Allegro hyperparameters are only used with mlip.architecture: allegro (it is 'nequip')"),
    ],
)
def test_bad_fields_are_named(patch, field, message):
    data = {"name": "t", **patch}
    with pytest.raises(InputError, match=re.escape(f"{field}:")) as info:
        spec_from_dict(data, source="spec.yaml")
    text = str(info.value)
    assert "spec.yaml" in text
    assert f"{field}:" in text
    assert message in text


def test_allegro_section_defaults_and_values():
    from li_campaign.schemas.spec import AllegroSpec

    assert spec_from_dict({"name": "t"}).mlip.allegro is None  # NequIP: no Allegro settings
    default = spec_from_dict({"name": "t", "mlip": {"architecture": "allegro"}}).mlip
    assert default.allegro == AllegroSpec() and default.allegro.num_scalar_features == 32
    assert default.allegro.num_tensor_features == 8 and default.allegro.tp_path_channel_coupling is True
    given = spec_from_dict({"name": "t", "mlip": {"architecture": "allegro", "allegro": {"num_tensor_features": 12}}}).mlip
    assert given.allegro.num_tensor_features == 12 and given.allegro.num_scalar_features == 32
    assert default.model_dump()["allegro"]["readout_mlp_width"] == 16


def test_missing_name_is_reported():
    with pytest.raises(InputError, match="name: Field required"):
        spec_from_dict({})


def test_malformed_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfanout: [unclosed\n")
    with pytest.raises(InputError, match="bad.yaml: not valid YAML"):
        load_spec(bad)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_spec(tmp_path / "nope.yaml")


def test_non_mapping(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(InputError, match="must be a YAML mapping"):
        load_spec(bad)


def test_spec_hash_is_stable_and_sensitive():
    a = spec_from_dict({"name": "t"})
    assert a.spec_hash() == spec_from_dict({"name": "t"}).spec_hash()
    assert a.spec_hash() != spec_from_dict({"name": "t", "seed": 8}).spec_hash()


def test_spec_sections_survive_mson_round_trip():
    from monty.json import MontyDecoder, jsanitize

    spec = spec_from_dict({"name": "t", "fanout": {"facets": ["210"]}})
    back = MontyDecoder().process_decoded(jsanitize(spec.fanout, strict=True))
    assert back == spec.fanout


@pytest.mark.parametrize("path", sorted((REPO / "workflows").glob("*.yaml")) + sorted((REPO / "tests" / "data").glob("*.yaml")))
def test_every_shipped_spec_survives_the_serialization_round_trip_of_fireworks(path):
    """Jobs hold spec sections and are rebuilt from their dicts by every FireWorks refresh."""
    from monty.json import MontyDecoder, jsanitize

    spec = load_spec(path)
    rebuilt = MontyDecoder().process_decoded(jsanitize(spec, strict=True))
    assert rebuilt == spec and rebuilt.spec_hash() == spec.spec_hash()


def test_an_isolated_atom_energy_shift_needs_its_frame():
    with pytest.raises(InputError, match=r"spec.yaml: invalid campaign spec") as info:
        spec_from_dict({"name": "t", "training_set": {"isolated_atom_box_A": None}}, source="spec.yaml")
    assert "mlip.energy_shift = 'isolated_atom' needs the isolated-atom frame: set training_set.isolated_atom_box_A" in str(
        info.value
    )
    spec = spec_from_dict({"name": "t", "training_set": {"isolated_atom_box_A": None}, "mlip": {"energy_shift": "mean"}})
    assert spec.training_set.isolated_atom_box_A is None
    with pytest.raises(InputError, match=r"training_set.isolated_atom_box_A: Input should be greater than or equal to 8"):
        spec_from_dict({"name": "t", "training_set": {"isolated_atom_box_A": 5.0}})
