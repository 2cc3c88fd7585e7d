"""Moving the Makers onto :class:`~li_campaign.execution.maker.CalculationMaker` changed no stored data.

The literal values below were captured from the code before the base existed (``python -m
tests.execution.maker_cases`` at fc36ec0): for fixed inputs, each Maker's provenance (every stored
field but the package versions, and which fields were set), hence its reuse key, and the fields of
its serialized form (``as_dict``, in order; its whole ``as_dict`` was byte-identical before and
after). A campaign stored before the change finds its results by the same keys, and its serialized
jobs load the same Makers.

The DFT Makers are run with the Morse engine and their *stored* documents' provenance compared:
the provenance they key the look-up with now also records the input structure's hash (it is
never stored: a reused document keeps its own, a computed one is the frame's or the relaxed cell's).
"""

from __future__ import annotations

import inspect

import pytest

from li_campaign.core.hashing import structure_hash
from li_campaign.execution.maker import CalculationMaker
from li_campaign.execution.reuse import calculation_key
from tests.execution import maker_cases
from tests.execution.maker_cases import CAMPAIGN, SPEC_HASH, record, serialized_fields

MODEL = "a" * 64
MORSE = {"cutoff_A": 6.0, "engine": "morse", "epsilon_eV": 0.2, "r0_A": 3.0, "rho0": 3.5}


def _provenance(**fields) -> dict:
    """The record (:func:`~tests.execution.maker_cases.record`) of a provenance with these fields set and no others."""
    return {
        "fields": {
            "campaign": CAMPAIGN, "spec_hash": SPEC_HASH, "model_sha256": None, "dft_settings": None,
            "structure_hash": None, "calc_key": None, "reused_from": None, **fields,
        },
        "set": sorted({"campaign", "spec_hash", *fields}),
    }  # fmt: skip


MLIP = {  # case: (the Maker's serialized fields, in order; the provenance it keys reuse with and stores)
    "adatom_arrhenius": (
        ("name", "campaign", "spec_hash"),
        _provenance(calc_key="6378a92ce9fb4b79d2185b8553b85e3ec4c3b95c734d5ca01e09635b05695e53", model_sha256=MODEL),
    ),
    "adatom_diffusion_md": (
        ("name", "md", "campaign", "spec_hash"),
        _provenance(
            calc_key="6aa9fb86fdc07586b5bee5f6cad82dbd2613f7ba6d43ecc108a8efe2fb85b192",
            structure_hash="74de5c5f226855ccdf98cce5667a2444ce4ced72e40a24bdb5fd612df165600a",
            model_sha256=MODEL,
        ),
    ),
    "adsorption_sites": (
        ("name", "fanout", "campaign", "spec_hash"),
        _provenance(
            calc_key="c788c1e56230a7c2b3c7edb85e8c7d7fb66ac785e5107da1ee8a60cbfe4dede0",
            structure_hash="920756b77b8372045464ea6b9333f8a191aee2c77cb411f7669fb3d214bf7a6e",
            model_sha256=MODEL,
        ),
    ),
    "bulk_lattice": (
        ("name", "eos", "a_guess_A", "campaign", "spec_hash"),
        _provenance(
            calc_key="459d0b1e9a268ed7bcc9d4bf8caf9338ee2bd1dc70b2ce999bd8c875982dedcd",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            model_sha256=MODEL,
        ),
    ),
    "converged_surface_energy": (
        ("name", "enumeration", "relax", "campaign", "spec_hash"),
        _provenance(
            calc_key="b9372f54e491ed3575989b2a7646e912dfb0479200d17c3fd8b2dba623974bbf",
            structure_hash="c43e23c06420eb7de2a06261bea8a462257bf84316640bb85757e21ed3492ba0",
            model_sha256=MODEL,
        ),
    ),
    "elastic": (
        ("name", "elastic", "campaign", "spec_hash"),
        _provenance(
            calc_key="809a053fbfb11bb8b6d8d48c09147e31b8aaa08ebbdcd016368ec005081b0c1e",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            model_sha256=MODEL,
        ),
    ),
    "finite_temperature": (
        ("name", "md", "checkpoint_root", "campaign", "spec_hash"),
        _provenance(
            calc_key="84e32eee02dc38206a173819dd57a4ccc4e7e26962604475dd4f0038f075b970",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            model_sha256=MODEL,
        ),
    ),
    "nequip_fit": (
        ("name", "mlip", "campaign", "spec_hash"),
        _provenance(calc_key="88790c3ff8592dd7fe71d9d8ec2fdd80605f14c01f998b52f3fef70ed6d2011d"),
    ),
    "phonons": (
        ("name", "phonons", "campaign", "spec_hash"),
        _provenance(
            calc_key="3f2bb8003961903512c6352cb82df2272af6f8733af225024657aab12adf55b4",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            model_sha256=MODEL,
        ),
    ),
    "step_adsorption": (
        ("name", "step", "relax", "campaign", "spec_hash"),
        _provenance(
            calc_key="6cf3b221b7965cada5de146ba991530d207e46a015654bddbf080648c7cadc56",
            structure_hash="b05d24fc71dd9d2b7ecf174361aa128c852e4267e077c95dc4c5670d12dc16e7",
            model_sha256=MODEL,
        ),
    ),
    "step_edge_neb": (
        ("name", "relax", "neb", "neb_convergence", "exchange", "fix_bottom_A", "campaign", "spec_hash"),
        _provenance(
            calc_key="c7407e011f99ba3f244ef09a573fb9ae50c85861b53f96f46d742d9562a5297d",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            model_sha256=MODEL,
        ),
    ),
    "step_energy": (
        ("name", "step", "relax", "campaign", "spec_hash"),
        _provenance(
            calc_key="a9696c3a83f4d055cf7b74ac0e6476fc3edd01cb8c6e01b2ced39dd87046be3a",
            structure_hash="c18bcaa85d3ae52b687298ee38fce55f795be314c08680c888320be52dbbf856",
            model_sha256=MODEL,
        ),
    ),
    "surface_energy": (
        ("name", "slab", "relax", "campaign", "spec_hash"),
        _provenance(
            calc_key="4bf6d58203162d3699d4b11e475e810d9e75a2f53bebf13117c0f835ac3cce1d",
            structure_hash="5e6d99dd21e235833f3ddfe39ff0f43b3f5f821520838ce1473586a4916e9bdd",
            model_sha256=MODEL,
        ),
    ),
    "surface_neb": (
        ("name", "fanout", "neb_convergence", "mechanisms", "campaign", "spec_hash"),
        _provenance(
            calc_key="2012505952ae9d57b3fa159754910804ea897918aeacb18873ed57106aa8cdce",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            model_sha256=MODEL,
        ),
    ),
    "vacancy": (
        ("name", "vacancy", "campaign", "spec_hash"),
        _provenance(
            calc_key="51b3e363f49d90cda802e28a9d330495141757cd1a783a75fd58ff5852b2115e",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            model_sha256=MODEL,
        ),
    ),
}

DFT = {  # case: (the Maker's serialized fields, in order; its reuse key; the provenance of the stored document)
    "dft_bulk_eos": (
        ("name", "dft", "eos", "a_guess_A", "campaign", "spec_hash"),
        "11adddb72233b7f5b905ebeffeed228d7a1719109311d8e3a41916b9a93d3b07",
        _provenance(
            calc_key="11adddb72233b7f5b905ebeffeed228d7a1719109311d8e3a41916b9a93d3b07",
            structure_hash="cc66a103a15b7192031ed73fcfa6851491c771a758c22ec812891ac6f3b1c758",
            dft_settings=MORSE,
        ),
    ),
    "dft_elastic": (
        ("name", "dft", "elastic", "campaign", "spec_hash"),
        "146d6e67876fc63db8b2955e14d5473af80b4d1bc3bb8d95dfa868051a0a28dc",
        _provenance(
            calc_key="146d6e67876fc63db8b2955e14d5473af80b4d1bc3bb8d95dfa868051a0a28dc",
            structure_hash="cc66a103a15b7192031ed73fcfa6851491c771a758c22ec812891ac6f3b1c758",
            dft_settings=MORSE,
        ),
    ),
    "dft_frame": (
        ("name", "dft", "campaign", "spec_hash"),
        "da07c4ea3b017d12aa411db543e98d1d43254d9c0a2bfc22bed6017ffa562db7",
        _provenance(
            calc_key="da07c4ea3b017d12aa411db543e98d1d43254d9c0a2bfc22bed6017ffa562db7",
            structure_hash="1618f7e62abd6f3a60a3258abfdc0fbab56d745b4f50455523718e091639b131",
            dft_settings=MORSE,
        ),
    ),
    "dft_frame_slab_kpts": (
        ("name", "dft", "campaign", "spec_hash"),
        "89c1e94f8e2915ee3cb31d8131a63ac3f393af6ede9bb421e1ed35f865a12b0b",
        _provenance(
            calc_key="89c1e94f8e2915ee3cb31d8131a63ac3f393af6ede9bb421e1ed35f865a12b0b",
            structure_hash="6002cbd2785494c1aff972c656890c39260c60a37b23824d02d8617838c031ea",
            dft_settings=MORSE,
        ),
    ),
}


@pytest.fixture(scope="module")
def mlip_cases() -> dict:
    cases = maker_cases.mlip_cases()
    cases["nequip_fit"] = maker_cases.fit_case()
    return cases


@pytest.mark.parametrize("name", sorted(MLIP))
def test_model_makers_key_and_record_their_calculations_as_before(name, mlip_cases):
    maker, provenance = mlip_cases[name]
    fields, expected = MLIP[name]
    assert record(provenance) == expected
    assert serialized_fields(maker) == fields


@pytest.fixture(scope="module")
def dft_cases() -> dict:
    return maker_cases.dft_cases()


@pytest.mark.parametrize("name", sorted(DFT))
def test_dft_makers_key_and_store_their_calculations_as_before(name, dft_cases):
    maker, provenance, stored = dft_cases[name]
    fields, key, expected = DFT[name]
    assert provenance.calc_key == key
    assert record(stored) == expected
    assert serialized_fields(maker) == fields


def test_the_base_fields_stay_the_last_arguments_of_every_maker(mlip_cases, dft_cases):
    for maker, *_ in [*mlip_cases.values(), *dft_cases.values()]:
        assert isinstance(maker, CalculationMaker)
        parameters = list(inspect.signature(type(maker)).parameters.values())
        assert [p.name for p in parameters[-2:]] == ["campaign", "spec_hash"]
        assert parameters[0].name == "name" and parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert type(maker).from_dict(maker.as_dict()).as_dict() == maker.as_dict()


def test_provenance_keys_only_with_a_kind_and_leaves_none_unset():
    maker = CalculationMaker(campaign=CAMPAIGN, spec_hash=SPEC_HASH)
    plain = maker.provenance(model_sha256=MODEL)
    assert plain.calc_key is None and plain.model_fields_set == {"campaign", "spec_hash", "model_sha256"}
    keyed = maker.provenance("phonons", {"x": 1}, structure=maker_cases.li_cell(), model_sha256=MODEL)
    digest = structure_hash(maker_cases.li_cell())
    assert keyed.structure_hash == digest
    assert keyed.calc_key == calculation_key("phonons", digest, MODEL, {"x": 1})
