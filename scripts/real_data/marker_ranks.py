"""Rank of known marker genes in a saliency run's per-class gene table (``genes.csv``).

    python scripts/real_data/marker_ranks.py SALIENCY_DIR WM=MOBP,PLP1,MBP Layer5=PCP4 ... [--out ranks.md]

Each ``CLASS=GENE,...`` names genes by display name (symbol) or id; ``LABEL:ID`` shows LABEL and matches ID
(e.g. ``WM=MOBP:ENSG00000168314`` where the table knows only Ensembl ids). For every marker (and omics type,
when the table has several) the table gives its rank in its own class (1 = most attributed, of all genes laid
out), as a top share, and beside it its median rank over the other classes, so a marker that is high everywhere
(a generally variable gene) shows as such.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def marker_table(genes: pd.DataFrame, markers: dict[str, list[str]]) -> pd.DataFrame:
    """One row per (class, marker, omics type): rank in that class and type, of how many genes, top share, and the
    median rank in the other classes.

    Ranks count within one class and omics type (``genes.csv`` ranks each type's genes apart); a table without an
    ``omics_type`` column is one type. A class without explained samples (e.g. absent from a test block) gets its
    rows with the rank left blank.
    """
    genes = genes if "omics_type" in genes.columns else genes.assign(omics_type="")
    classes = set(genes["class"])
    rows = []
    for cls, names in markers.items():
        for name in names:
            label, _, key = name.rpartition(":")
            label = label or key
            hits = genes[(genes["display_name"] == key) | (genes["feature"] == key)]
            base = {"class": cls, "gene": label}
            if cls not in classes or hits.empty:
                rank = "class not among the explained samples" if cls not in classes else "not laid out"
                rows.append(base | {"omics_type": "", "rank": rank, "of": "", "top": "", "other_classes_median": ""})
                continue
            for omics_type, of_type in hits.groupby("omics_type", sort=True):
                own = of_type[of_type["class"] == cls]["rank"]
                others = of_type[of_type["class"] != cls]["rank"]
                size = int(((genes["class"] == cls) & (genes["omics_type"] == omics_type)).sum())
                rows.append(
                    base
                    | {
                        "omics_type": omics_type,
                        "rank": int(own.iloc[0]),
                        "of": size,
                        "top": f"{100 * int(own.iloc[0]) / size:.1f} %",
                        "other_classes_median": float(others.median()) if len(others) else float("nan"),
                    }
                )
    frame = pd.DataFrame(rows)
    return frame if (frame["omics_type"] != "").any() else frame.drop(columns="omics_type")


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame``, as in the READMEs."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("saliency_dir", type=Path)
    parser.add_argument("markers", nargs="+", help="CLASS=GENE[,GENE...]")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    path = args.saliency_dir / "genes.csv"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: run the bundle's saliency.json first")
    markers = {}
    for spec in args.markers:
        cls, sep, names = spec.partition("=")
        if not sep or not names:
            raise SystemExit(f"marker spec {spec!r} is not CLASS=GENE[,GENE...]")
        markers.setdefault(cls, []).extend(names.split(","))
    table = markdown_table(marker_table(pd.read_csv(path), markers))
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
