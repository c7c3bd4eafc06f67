"""Hostile input, one case per test: each is refused before it can do harm, with a named error naming the file."""

from __future__ import annotations

import json
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pandas as pd
import pytest
import torch
from bundle_utils import BUNDLES, error_chain, run_dirs, run_workflow
from monai.bundle import ConfigParser

from omicsfusion.checkpoint import CheckpointError, latest_checkpoint
from omicsfusion.data import (
    DatalistPathError,
    DuplicateSampleError,
    ImageTooLargeError,
    MissingSampleError,
    OmicsDataError,
    OmicsTable,
    TableEncodingError,
    TableTooWideError,
    load_datalist,
    read_table,
)
from omicsfusion.data.spatial import open_slide
from omicsfusion.interpret.weights import load_checkpoint
from omicsfusion.layout import LayoutError
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import CheckImageSize, CheckImageSized

BUNDLE = "pan_cancer_classification"
SIDE = 50_000


# --------------------------------------------------------------------------- files that carry code


def test_layout_file_with_an_object_array_is_refused_by_the_bundle_loader(tmp_path):
    path = tmp_path / "layout.npz"
    np.savez(path, **{"layout/format_version": np.asarray(1), "extras/types": np.asarray([{"rna": 1}], dtype=object)})
    with pytest.raises(LayoutError, match=r"layout\.npz: not a readable layout file \(Object arrays cannot be loaded"):
        OmicsPreprocessor.cached(path)


class _Payload:
    """Unpickling this runs code: it would create ``marker``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


@pytest.fixture
def evil_run(tmp_path):
    """A run folder whose ``model.pt`` and training checkpoint hold pickled code, with a one-row datalist."""
    dirs = run_dirs(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    marker = tmp_path / "code_ran"
    for name in ("model.pt", "checkpoint_epoch=3.pt"):
        torch.save({"model": _Payload(marker)}, models / name)
    row = {"image": "images/x.png", "omics": "x", "label": 0}
    (models / "datalist.json").write_text(json.dumps({"training": [row], "validation": [row], "test": [row]}))
    return dirs, marker


def test_checkpoint_with_pickled_code_is_refused_by_every_loader(evil_run):
    dirs, marker = evil_run
    refused = r"\.pt: refused by torch\.load\(weights_only=True\): Unsupported global: GLOBAL exec"
    with pytest.raises(CheckpointError, match="model" + refused):
        load_checkpoint(f"{dirs['ckpt_dir']}/model.pt")
    with pytest.raises(CheckpointError, match="checkpoint_epoch=3" + refused):
        latest_checkpoint(dirs["ckpt_dir"])
    for configs, kind in ((["train.json", "evaluate.json"], "eval"), (["inference.json"], "infer")):
        with pytest.raises(Exception) as info:  # MONAI's CheckpointLoader: torch.load(weights_only=True)
            run_workflow(BUNDLE, configs, kind, **dirs, modalities=["image"])
        assert "UnpicklingError: Weights only load failed" in error_chain(info.value)
    assert not marker.exists()


# --------------------------------------------------------------------------- paths out of the dataset


def _datalist(tmp_path, image: str):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps({"training": [{"image": image, "omics": "s1", "label": 0}]}))
    return path, data


@pytest.mark.parametrize("image", ["../secret.png", "images/../../secret.png", "/etc/passwd"])
def test_datalist_path_escaping_the_dataset_is_refused(tmp_path, image):
    path, data = _datalist(tmp_path, image)
    with pytest.raises(DatalistPathError, match=r"training\[0\] \(sample 's1'\) image .* outside .*allow_outside"):
        load_datalist(path, base_dir=data)
    assert load_datalist(path, base_dir=data, allow_outside=True)[0]["image"] == str(data / image)


def test_datalist_symlink_out_of_the_dataset_is_refused(tmp_path):
    path, data = _datalist(tmp_path, "linked/secret.png")
    (tmp_path / "elsewhere").mkdir()
    (data / "linked").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DatalistPathError, match=r"elsewhere/secret.png, outside"):
        load_datalist(path, base_dir=data)
    (data / "images").mkdir()
    (data / "inside").symlink_to(data / "images")  # a link that stays inside is fine
    path.write_text(json.dumps({"training": [{"image": "inside/a.png", "omics": "s1", "label": 0}]}))
    assert load_datalist(path, base_dir=data)[0]["image"] == str(data / "inside" / "a.png")


def test_training_prepare_refuses_an_escaping_datalist(tmp_path):
    from omicsfusion.prepare import prepare_classification

    path, data = _datalist(tmp_path, "../secret.png")
    (data / "samples.csv").write_text("sample_id,image,label\n")  # a dataset, so no phantom is made
    with pytest.raises(DatalistPathError, match=r"secret.png"):
        prepare_classification(data, path, tmp_path / "layout.npz", {}, [], ["a"], phantom=None)


def test_bundle_refuses_an_escaping_datalist_unless_allowed(evil_run):
    dirs, _ = evil_run
    datalist = f"{dirs['ckpt_dir']}/datalist.json"
    row = {"image": "../../outside.png", "omics": "x", "label": 0}
    with open(datalist, "w") as f:
        json.dump({"training": [row], "validation": [row], "test": [row]}, f)
    with pytest.raises(Exception) as info:
        run_workflow(BUNDLE, ["inference.json"], "infer", **dirs, modalities=["image"])
    assert "DatalistPathError" in error_chain(info.value)
    with pytest.raises(Exception) as info:  # allowed: the datalist passes, the pickled checkpoint is refused next
        run_workflow(BUNDLE, ["inference.json"], "infer", **dirs, modalities=["image"], allow_outside_dataset=True)
    assert "DatalistPathError" not in error_chain(info.value) and "UnpicklingError" in error_chain(info.value)


# --------------------------------------------------------------------------- pixel bombs


def _png_header(path, width: int, height: int) -> None:
    """A 69-byte PNG claiming width x height RGB pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _tiff_header(path, width: int, height: int) -> None:
    """A 138-byte grey TIFF claiming width x height pixels in one strip of 16 bytes."""
    tags = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, 16),
    ]
    ifd = (
        struct.pack("<H", len(tags))
        + b"".join(
            struct.pack("<HHI", tag, kind, 1)
            + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
            for tag, kind, value in tags
        )
        + struct.pack("<I", 0)
    )
    path.write_bytes(b"II*\x00" + struct.pack("<I", 24) + b"\x00" * 16 + ifd)


@pytest.fixture(params=["png", "tif"])
def bomb(request, tmp_path):
    path = tmp_path / f"bomb.{request.param}"
    (_png_header if request.param == "png" else _tiff_header)(path, SIDE, SIDE)
    assert path.stat().st_size < 200
    return path


def test_pixel_bomb_is_refused_before_the_bundle_loads_it(bomb):
    pattern = rf"bomb\.{bomb.suffix[1:]}: header claims 50000 x 50000 = 2,500,000,000 pixels"
    with pytest.raises(ImageTooLargeError, match=pattern):
        CheckImageSized(keys="image")({"image": str(bomb)})
    with pytest.raises(ImageTooLargeError, match=pattern):
        CheckImageSize()(bomb)
    loaded = np.zeros((3, 8, 8), np.float32)  # an image already in memory (MONAI Label) is not a file to check
    assert CheckImageSize(max_pixels=1)(loaded) is loaded
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / BUNDLE / "configs" / "train.json"))
    loading = parser.get_parsed_content("train#image_preprocessing")  # CheckImageSized, LoadImaged, ...
    started = time.perf_counter()
    with pytest.raises(Exception) as info:
        loading({"image": str(bomb)})
    assert "ImageTooLargeError" in error_chain(info.value) and time.perf_counter() - started < 5


def test_pixel_bomb_is_refused_by_the_slide_readers(bomb):
    with pytest.raises(ImageTooLargeError, match=f"{bomb.name}: .*50000 x 50000"):
        open_slide(bomb, mpp=0.5)


# --------------------------------------------------------------------------- tables


def test_csv_header_of_ten_million_columns_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "wide.csv"
    with path.open("wb") as f:
        f.write(b"sample" + b",g" * 10_000_000 + b"\ns1" + b",0" * 10 + b"\n")
    tracemalloc.start()
    with pytest.raises(TableTooWideError, match=r"wide\.csv: the header has more than 1,000,000 columns"):
        OmicsTable({"rna": path})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    small = tmp_path / "small.csv"
    small.write_text("sample,g1,g2,g3\ns1,1,2,3\n")
    with pytest.raises(TableTooWideError, match="more than 3 columns"):
        read_table(small, max_columns=3)
    assert read_table(small, max_columns=4).values.shape == (1, 3)  # the limit is the caller's to set


def test_non_utf8_table_is_named_and_utf8_ids_round_trip(tmp_path):
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("sample,g1\nS1,1.0\nPatient_é,2.0\n".encode("latin-1"))
    with pytest.raises(TableEncodingError, match=r"latin1\.csv: not UTF-8 text \(line 3: b'Patient_\\xe9,2.0"):
        OmicsTable({"rna": latin})
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text("\ufeffsample,g1\nPatient_é,1.0\n患者-2,2.0\n", encoding="utf-8")  # with a BOM, as Excel writes
    table = OmicsTable({"rna": utf8}, id_column="sample")
    assert table.sample_ids("rna") == ["Patient_é", "患者-2"] and table.row("rna", "患者-2")[0] == 2.0
    frame = pd.DataFrame({"g1": [1.0]}, index=[b"Patient_\xe9"])  # bytes ids (e.g. from parquet binary)
    with pytest.raises(TableEncodingError, match=r"sample id of row 0 is not UTF-8 text: b'Patient_\\xe9'"):
        OmicsTable({"rna": frame})


def test_ids_are_text_as_written_so_lookalikes_never_join(tmp_path):
    (tmp_path / "rna.csv").write_text("sample,g1\n007,1.0\n7,2.0\n")
    (tmp_path / "cnv.csv").write_text("sample,c1\n7,5.0\n7.0,6.0\n")
    table = OmicsTable({"rna": tmp_path / "rna.csv", "cnv": tmp_path / "cnv.csv"})
    assert table.sample_ids("rna") == ["007", "7"] and table.sample_ids("cnv") == ["7", "7.0"]
    assert table.sample_ids() == ["7"]  # only the id both tables spell the same way
    assert table.row("rna", "007")[0] == 1.0 and table.row("cnv", "7")[0] == 5.0
    with pytest.raises(MissingSampleError, match=r"'007' not found in omics table 'cnv'"):
        table.row("cnv", "007")


def test_duplicated_ids_with_conflicting_values_are_refused_in_every_format(tmp_path):
    frame = pd.DataFrame(
        {"g1": [1.0, 9.0, 3.0], "g2": [np.nan, np.nan, 0.0]}, index=pd.Index(["A", "A", "B"], name="sample")
    )
    frame.to_parquet(tmp_path / "rna.parquet")
    for source in (frame, tmp_path / "rna.parquet"):
        with pytest.raises(
            DuplicateSampleError,
            match=r"more than once, e.g. \['A'\].*'A' has 2 rows, which "
            r"disagree on 1 of 2 features",
        ):
            OmicsTable({"rna": source})


@pytest.mark.parametrize(
    "body, message",
    [("S1,1\n,2\n", "row 1 has no sample id"), ("S1,1\nS2 ,2\n", r"sample id 'S2 ' \(row 1\) has leading or trailing")],
)
def test_missing_or_padded_ids_are_refused(tmp_path, body, message):
    (tmp_path / "rna.csv").write_text("sample,g1\n" + body)
    with pytest.raises(OmicsDataError, match=message):
        OmicsTable({"rna": tmp_path / "rna.csv"})
