"""Bad input not covered elsewhere: non-periodic or non-structure inputs, submissions that add nothing,
compiled models that are checked by sha256 before anything loads them."""

from __future__ import annotations

import pytest
from ase.build import bulk
from pymatgen.core import Molecule
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.cli.main import main
from li_campaign.core.errors import InputError, ModelIntegrityError
from li_campaign.core.hashing import file_sha256
from li_campaign.core.lithium import check_lithium_structure
from li_campaign.launch.status import campaign_status
from li_campaign.mlip import calculator

pytestmark = pytest.mark.faults


def test_a_non_periodic_structure_is_refused_by_name():
    atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    atoms.pbc = (True, True, False)
    with pytest.raises(InputError, match=r"frame 7: periodic boundary conditions .*a periodic 3D cell is required"):
        check_lithium_structure(AseAtomsAdaptor.get_structure(atoms), "frame 7")


def test_a_molecule_is_refused_by_name():
    with pytest.raises(InputError, match="cluster: a periodic pymatgen Structure is required, got Molecule"):
        check_lithium_structure(Molecule(["Li", "Li"], [[0, 0, 0], [0, 0, 2.7]]), "cluster")


def test_non_lithium_is_refused_by_name():
    nacl = AseAtomsAdaptor.get_structure(bulk("NaCl", "rocksalt", a=5.64))
    with pytest.raises(InputError, match=r"input: li-campaign handles lithium only, got elements \['Cl', 'Na'\]"):
        check_lithium_structure(nacl, "input")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("name: x\nfanout:\n  facets: ['100', '000']\n", "impossible facet"),
        ("name: x\nmlip:\n  split: {train: 0.9, val: 0.2, test: 0.1}\n", "mlip.split"),
        ("name: x\nbulk:\n  vacancy: {supercell_sizes: [3, 2]}\n", "bulk.vacancy"),
        ("name: x\nbulk:\n  finite_temperature: {guard: {min_distance_fraction: 1.5}}\n", "guard.min_distance_fraction"),
    ],
)
def test_bad_or_contradictory_spec_submits_nothing(campaign, tmp_path, capsys, text, named):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    assert main(["--campaign-dir", str(campaign.root), "submit", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and named in err
    assert campaign_status(campaign)["n_fireworks"] == 0


def test_compiled_model_is_hash_checked_before_it_is_loaded(tmp_path, monkeypatch):
    nequip_ase = pytest.importorskip("nequip.integrations.ase")
    loaded = []
    monkeypatch.setattr(nequip_ase.NequIPCalculator, "from_compiled_model", lambda *a, **k: loaded.append(a))
    compiled = tmp_path / "model.nequip.pt2"
    compiled.write_bytes(b"compiled model")
    sha = file_sha256(compiled)
    compiled.write_bytes(b"compiled model, swapped after registration")
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        calculator.load_calculator(compiled, sha, "aotinductor")
    assert loaded == []  # never handed to the loader
    compiled.write_bytes(b"compiled model")
    calculator.load_calculator(compiled, sha, "aotinductor")
    assert len(loaded) == 1


def test_incompatible_compiled_model_is_a_clear_error(tmp_path):
    pytest.importorskip("nequip.integrations.ase")
    wrong = tmp_path / "model.nequip.pt2"
    wrong.write_bytes(b"PK\x03\x04 an archive for another torch or another machine")
    with pytest.raises(ModelIntegrityError, match=rf"{wrong}: cannot load the aotinductor model on cpu"):
        calculator.load_calculator(wrong, file_sha256(wrong), "aotinductor")

