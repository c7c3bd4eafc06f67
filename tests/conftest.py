"""Fixtures the test modules share: the tiny bundle runs, each bundle in turn, a two-type omics table.

A tiny run trains a bundle for one epoch on a phantom of a few samples per
class: every config section runs and every file is written, in seconds. Tests
that need a trained model to be good (the saliency checks) state their own
longer settings.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omicsfusion.data import OmicsTable
from omicsfusion.phantoms import modular_table

#: per bundle: the overrides of a tiny run (``phantom_size`` is phantom samples per class)
TINY_RUNS = {
    "pan_cancer_classification": {"phantom_size": 6, "max_epochs": 1, "batch_size": 8},
    "pathology_spatial_transcriptomics": {"phantom_size": 8, "max_epochs": 1, "batch_size": 32},
    "neuro_mri_molecular": {"phantom_size": 4, "max_epochs": 1, "batch_size": 8},
}


@pytest.fixture(scope="session")
def tiny() -> Callable[..., dict]:
    """``tiny(bundle, **extra)``: a new dict of the bundle's tiny-run overrides, updated with ``extra``."""

    def overrides(bundle: str, **extra) -> dict:
        return {**TINY_RUNS[bundle], **extra}

    return overrides


@pytest.fixture(scope="module", params=list(TINY_RUNS))
def bundle(request) -> str:
    """Each bundle in turn, for a module whose tests hold for every bundle."""
    return request.param


@pytest.fixture(scope="module")
def rna_cnv_table() -> OmicsTable:
    """Two omics types of 40 samples with gene modules: rna 90 features, cnv 30 (named C0...)."""
    rna = modular_table(40, 90, n_modules=4, seed=1)
    cnv = modular_table(40, 30, n_modules=3, seed=2)
    cnv.columns = [f"C{j}" for j in range(cnv.shape[1])]
    return OmicsTable({"rna": rna, "cnv": cnv})
