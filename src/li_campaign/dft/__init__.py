"""DFT labelling behind one engine interface (dft.engine): GPAW PBE (local, CI), VASP PBE through atomate2 + custodian (production), analytic Morse (tests)."""
