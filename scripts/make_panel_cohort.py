"""Generate a panel-sequencing cohort: patients x (mutation 0/1, copy number -2..2) x genes, with a study label.

What panel-sequencing consortia hold (~200,000 tumours, mutation calls for a gene panel, copy number
calls) at any size, seeded, written a chunk of patients at a time so that a quarter of a million
patients never sit in memory at once. The statistics follow the real 1,066-gene panel tables in
the shared data (TCGA PanCanAtlas via ``tcga_he_monuseg``, CPTAC via ``cptac_pancancer_omics``),
as measured by ``--measure`` (figures in docs/benchmark.md, "Scale"):

- mutations: per-gene rates log-normal (CPTAC: log10 rate -2.03 ± 0.39, median gene mutated in
  0.9 % of patients, 1.35 % of cells called), times a per-patient burden (log-normal, sd 1.3: calls
  per patient 1 / 6 / 29 / 144 at the 10th / 50th / 90th / 99th percentile); each study has three
  driver genes mutated in 25-55 % of its patients, so the study is learnable;
- copy number: genes belong to arms (a seeded assignment: the panel's columns are alphabetical, not
  in genome order, and neighbouring columns correlate by 0.07 on average, while a gene's best
  partner anywhere correlates by 0.95 at the median), a patient gains or loses whole arms (its
  instability drawn per patient: 1-66 % of its genes altered from the 10th to the 90th percentile,
  two arms per study favoured), almost every gene of an altered arm shares its call, a few genes
  carry focal calls, and 6 % of calls are deep (-2) or high-level (2) (CPTAC: -2 0.6 %, -1 13 %,
  0 73 %, 1 12 %, 2 1.0 % of cells);
- empty cells as the real tables have them: mutation calls missing for whole patients (not
  sequenced: 1 of the 44 TCGA patients), copy number missing for whole genes per study (no call in
  that study's pipeline: 10 genes of every TCGA patient; 2 to 57 genes per CPTAC study, 2.2 % of
  cells), never scattered at random.

Writes ``mutation.parquet`` and ``cnv.parquet`` (float32, NaN = empty; one row group per chunk) or
the same as ``.csv``, ``labels.csv`` (``sample_id``, ``study``) and a fixed 70/30 split
``train.txt`` / ``test.txt``. The output depends on ``--seed`` and ``--chunk``::

    python scripts/make_panel_cohort.py --patients 250000 --out /tmp/panel250k
    python scripts/make_panel_cohort.py --measure ../shared/data/cptac_pancancer_omics
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: measured on the real tables (see ``--measure``); rounded
MUTATION_LOG10_RATE = (-2.05, 0.4)  # mean, sd of log10 of a gene's background mutation rate
BURDEN_SIGMA = 1.3  # sd of the log of a patient's mutation burden multiplier
DRIVER_RATE = (0.25, 0.55)  # a study driver's mutation rate, uniform in this range
ARMS = 39  # chromosome arms the genes fall on
INSTABILITY = (0.6, 1.4)  # Beta(a, b) of the share of arms a patient has altered
GAIN_SHARE = 0.5  # share of arm events that are gains
ARM_COVERAGE = 0.95  # share of an altered arm's genes that carry its call
FOCAL_RATE = 0.01  # per gene, a call outside arm events
DEEP_SHARE = 0.06  # share of calls that are deep deletions / high-level gains (-2 / 2)
NO_MUTATION_ROWS = 0.02  # patients without mutation calls (a whole empty row)
UNCALLED_SHARE = 0.0094  # genes without a copy-number call in any study (TCGA: 10 of 1,066; empty columns)
UNCALLED_PER_STUDY = (0.0, 0.054)  # share of further genes without a call in one study (CPTAC: 2 to 57 of 1,058)


@dataclass(frozen=True)
class Design:
    """The cohort's fixed parts: genes, rates, arms, studies and what marks each study."""

    genes: np.ndarray  # (F,) gene names
    base_rate: np.ndarray  # (F,) background mutation rate
    arm: np.ndarray  # (F,) arm of each gene
    study_names: np.ndarray  # (S,)
    study_share: np.ndarray  # (S,) share of patients
    drivers: np.ndarray  # (S, 3) driver genes per study
    driver_rate: np.ndarray  # (S, 3)
    study_arms: np.ndarray  # (S, 2) favoured arms per study
    study_arm_sign: np.ndarray  # (S, 2) their call, -1 or 1
    uncalled: np.ndarray  # (S, F) bool: copy number never called for this gene in this study


def design(genes: np.ndarray, n_studies: int, seed: int) -> Design:
    """Draw the fixed parts of a cohort (independent of the number of patients)."""
    rng = np.random.default_rng([seed, 0])
    n = genes.size
    base = np.clip(10 ** rng.normal(*MUTATION_LOG10_RATE, n), 1e-4, 0.4)
    arm = rng.permutation(np.sort(rng.integers(0, ARMS, n)))  # unequal arms, not in column order
    frequent = np.argsort(-base)[: max(3 * n_studies, 30)]  # drivers come from the often-mutated genes
    drivers = np.stack([rng.choice(frequent, 3, replace=False) for _ in range(n_studies)])
    share = rng.dirichlet(np.full(n_studies, 2.0))
    uncalled = np.zeros((n_studies, n), bool)
    uncalled[:, rng.choice(n, round(UNCALLED_SHARE * n), replace=False)] = True
    for s in range(n_studies):
        uncalled[s, rng.choice(n, round(rng.uniform(*UNCALLED_PER_STUDY) * n), replace=False)] = True
    return Design(
        genes=genes,
        base_rate=base,
        arm=arm,
        study_names=np.asarray([f"study{s + 1:02d}" for s in range(n_studies)]),
        study_share=share,
        drivers=drivers,
        driver_rate=rng.uniform(*DRIVER_RATE, drivers.shape),
        study_arms=np.stack([rng.choice(ARMS, 2, replace=False) for _ in range(n_studies)]),
        study_arm_sign=rng.choice([-1, 1], (n_studies, 2)),
        uncalled=uncalled,
    )


def draw(d: Design, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` patients: study codes (n,), mutation (n, F) and copy number (n, F), float32 with NaN = empty."""
    n_genes = d.genes.size
    study = rng.choice(d.study_names.size, n, p=d.study_share)
    burden = np.exp(rng.normal(-(BURDEN_SIGMA**2) / 2, BURDEN_SIGMA, (n, 1)))
    rate = np.minimum(d.base_rate * burden, 0.9).astype(np.float32)
    rows = np.arange(n)[:, None]
    rate[rows, d.drivers[study]] = d.driver_rate[study]
    mutation = (rng.random((n, n_genes), dtype=np.float32) < rate).astype(np.float32)

    instability = rng.beta(*INSTABILITY, (n, 1))
    arm_call = np.where(rng.random((n, ARMS)) < instability, np.where(rng.random((n, ARMS)) < GAIN_SHARE, 1, -1), 0)
    favoured = rng.random((n, 2)) < 0.6
    arm_call[rows, d.study_arms[study]] = np.where(
        favoured, d.study_arm_sign[study], arm_call[rows, d.study_arms[study]]
    )
    cnv = arm_call[:, d.arm] * (rng.random((n, n_genes), dtype=np.float32) < ARM_COVERAGE)
    focal = rng.random((n, n_genes), dtype=np.float32) < FOCAL_RATE
    cnv[focal] = rng.choice([-1, 1], int(focal.sum()))
    cnv = cnv * np.where(rng.random((n, n_genes), dtype=np.float32) < DEEP_SHARE, 2, 1)
    cnv = cnv.astype(np.float32)

    mutation[rng.random(n) < NO_MUTATION_ROWS] = np.nan
    cnv[d.uncalled[study]] = np.nan
    return study, mutation, cnv


class _Writer:
    """Appends chunks of one omics type to a parquet file (a row group each) or a CSV file."""

    def __init__(self, path: Path, genes: np.ndarray) -> None:
        self.path, self.genes, self._parquet = path, genes, None
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._pa = pa
            schema = pa.schema([("sample_id", pa.string())] + [(g, pa.float32()) for g in genes.tolist()])
            self._parquet = pq.ParquetWriter(path, schema)
            self._schema = schema
        else:
            pd.DataFrame(columns=["sample_id", *genes.tolist()]).to_csv(path, index=False)

    def write(self, ids: list[str], values: np.ndarray) -> None:
        if self._parquet is not None:
            columns = [self._pa.array(ids)] + [self._pa.array(values[:, j]) for j in range(values.shape[1])]
            self._parquet.write_table(self._pa.Table.from_arrays(columns, schema=self._schema))
        else:
            frame = pd.DataFrame(values, index=pd.Index(ids, name="sample_id"), columns=self.genes)
            frame.to_csv(self.path, mode="a", header=False, float_format="%g", na_rep="")

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()


def write_cohort(out: Path, patients: int, genes: np.ndarray, studies: int, seed: int, chunk: int, fmt: str) -> Design:
    """Write the cohort to ``out`` a chunk of patients at a time; return its design."""
    out.mkdir(parents=True, exist_ok=True)
    d = design(genes, studies, seed)
    writers = {t: _Writer(out / f"{t}.{fmt}", genes) for t in ("mutation", "cnv")}
    labels = []
    try:
        for k, start in enumerate(range(0, patients, chunk)):
            n = min(chunk, patients - start)
            ids = [f"P{start + i:07d}" for i in range(n)]
            study, mutation, cnv = draw(d, n, np.random.default_rng([seed, 1, k]))
            writers["mutation"].write(ids, mutation)
            writers["cnv"].write(ids, cnv)
            labels.append(pd.DataFrame({"sample_id": ids, "study": d.study_names[study]}))
    finally:
        for writer in writers.values():
            writer.close()
    table = pd.concat(labels, ignore_index=True)
    table.to_csv(out / "labels.csv", index=False)
    test = np.random.default_rng([seed, 2]).random(patients) < 0.3
    for name, part in (("train", ~test), ("test", test)):
        (out / f"{name}.txt").write_text("\n".join(table["sample_id"][part]) + "\n")
    return d


def measure(folder: Path) -> dict:
    """The statistics the generator imitates, of a folder's ``mutation.csv`` and ``cnv.csv``."""
    figures: dict = {}
    for omics in ("mutation", "cnv"):
        frame = pd.read_csv(folder / f"{omics}.csv", index_col=0)
        values = frame.to_numpy(np.float64)
        empty = np.isnan(values)
        whole_rows = empty.all(1)
        part = {
            "shape": list(values.shape),
            "empty_cells": round(float(empty.mean()), 4),
            "empty_whole_rows": int(whole_rows.sum()),
            "empty_whole_columns": int(empty.all(0).sum()),
            "empty_cells_outside_whole_rows": round(float(empty[~whole_rows].mean()), 4),
            "rows_with_scattered_empty": int((empty.any(1) & ~whole_rows).sum()),
        }
        called = values[~empty]
        codes, counts = np.unique(called, return_counts=True)
        part["values"] = {f"{c:g}": round(float(k / counts.sum()), 4) for c, k in zip(codes, counts, strict=True)}
        if omics == "mutation":
            rate = np.nanmean(values[~whole_rows], axis=0)
            part["gene_rate_quantiles_50_90_99_max"] = np.quantile(rate, [0.5, 0.9, 0.99, 1]).round(4).tolist()
            part["log10_rate_mean_sd_of_mutated_genes"] = [
                round(float(np.log10(rate[rate > 0]).mean()), 2),
                round(float(np.log10(rate[rate > 0]).std()), 2),
            ]
            part["genes_never_mutated"] = round(float((rate == 0).mean()), 3)
            burden = np.nansum(values[~whole_rows], axis=1)
            part["calls_per_patient_quantiles_10_50_90_99"] = np.quantile(burden, [0.1, 0.5, 0.9, 0.99]).tolist()
            part["identical_gene_profiles"] = int(frame.T.duplicated().sum())
        else:
            filled = np.nan_to_num(values[~whole_rows])
            corr = np.corrcoef(filled, rowvar=False)
            np.fill_diagonal(corr, np.nan)
            best = np.nanmax(np.nan_to_num(corr, nan=-1), axis=0)
            part["best_partner_correlation_quantiles_10_50_90"] = np.quantile(best, [0.1, 0.5, 0.9]).round(3).tolist()
            part["altered_share_per_patient_quantiles_10_50_90"] = (
                np.quantile((filled != 0).mean(1), [0.1, 0.5, 0.9]).round(3).tolist()
            )
            neighbours = np.nanmean([corr[j, j + 1] for j in range(corr.shape[0] - 1)])
            part["column_neighbour_correlation_mean"] = round(float(neighbours), 3)
        figures[omics] = part
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--genes", type=int, default=1066, help="panel size (ignored with --genes-from)")
    parser.add_argument("--genes-from", type=Path, help="take the gene names from this table's header")
    parser.add_argument("--studies", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=10_000, help="patients drawn and written at once")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--measure", type=Path, help="print the statistics of a folder's real tables and stop")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure), indent=1))
        return
    if args.out is None:
        parser.error("--out is required")
    if args.genes_from:
        genes = np.asarray(pd.read_csv(args.genes_from, nrows=0).columns[1:], dtype=str)
    else:
        genes = np.asarray([f"GENE{j + 1:04d}" for j in range(args.genes)])
    write_cohort(args.out, args.patients, genes, args.studies, args.seed, args.chunk, args.format)
    print(f"wrote {args.patients} patients x {genes.size} genes x 2 types to {args.out}")


if __name__ == "__main__":
    main()
