"""Property calculations on ASE calculators (EOS, elastic, surfaces, NEB, phonons, MD) and their jobflow jobs."""
