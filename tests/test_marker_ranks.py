"""scripts/real_data/marker_ranks.py: a known gene's rank within its class and omics type."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "real_data" / "marker_ranks.py"


def _module():
    spec = importlib.util.spec_from_file_location("marker_ranks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _genes(types: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for omics_type in types:
        for cls, order in (("kidney", ["VHL", "KRAS", "APC", "TP53"]), ("lung", ["KRAS", "TP53", "APC", "VHL"])):
            for rank, gene in enumerate(order, 1):
                rows.append(
                    {"class": cls, "omics_type": omics_type, "feature": gene, "display_name": gene, "rank": rank}
                )
    return pd.DataFrame(rows)


def test_ranks_count_within_each_class_and_omics_type():
    table = _module().marker_table(_genes(("mutation", "cnv")), {"kidney": ["VHL"], "lung": ["KRAS", "EGFR"]})
    vhl = table[table["gene"] == "VHL"]
    assert vhl["omics_type"].tolist() == ["cnv", "mutation"] and vhl["rank"].tolist() == [1, 1]
    assert vhl["of"].tolist() == [4, 4] and vhl["top"].tolist() == ["25.0 %", "25.0 %"]
    assert vhl["other_classes_median"].tolist() == [4.0, 4.0]  # VHL ranks last in lung
    assert table[table["gene"] == "EGFR"]["rank"].tolist() == ["not laid out"]


def test_a_table_of_one_type_keeps_the_old_columns_and_an_absent_class_is_said():
    genes = _genes(("rna",)).drop(columns="omics_type")
    table = _module().marker_table(genes, {"kidney": ["APC"], "WM": ["MOBP"]})
    assert "omics_type" not in table.columns
    assert table["rank"].tolist() == [3, "class not among the explained samples"]
