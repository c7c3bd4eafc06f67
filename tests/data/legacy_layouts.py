"""Run with main's code (22f466f): writes the layout files of the current format used by tests/test_estimators.py."""

import sys

import numpy as np

from omicsfusion.data import OmicsTable
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import OmicsPreprocessor

out = sys.argv[1]
rna = modular_table(40, 90, n_modules=4, seed=1)
cnv = modular_table(40, 30, n_modules=3, seed=2)
cnv.columns = [f"C{j}" for j in range(cnv.shape[1])]
table = OmicsTable({"rna": rna, "cnv": cnv})
ids = table.sample_ids()
per_type = OmicsPreprocessor().fit(
    table, ids[:30], metric="abs_correlation", max_features=60, n_epochs=20, random_state=0
)
shared = OmicsPreprocessor().fit(table, ids[:30], shared=True, method="random", grid=(11, 11))
per_type.save(f"{out}/legacy_per_type.npz")
shared.save(f"{out}/legacy_shared.npz")
np.savez(
    f"{out}/legacy_images.npz", per_type=per_type.transform(table, ids[30:]), shared=shared.transform(table, ids[30:])
)
