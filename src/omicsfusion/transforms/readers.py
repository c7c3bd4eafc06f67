"""Readers: a MONAI image reader for a folder of 2-D TIFF slices, and the omics row reader.

``OmicsReader`` follows MONAI's ``ImageReader`` idea for omics tables: built
without reading anything, ``read(sample_id)`` takes the sample's rows from the
tables and ``get_data(rows)`` turns them into normalised vectors and their meta;
:class:`~omicsfusion.transforms.array.OmicsChannels` is the loader transform over it.


``LoadImage(reader=SliceFolderReader(...))`` (or the bundles' ``image_reader``
key) loads a TCGA-LGG case folder as a channel-first MetaTensor whose affine
carries a stated spacing: the files record none. The stacking rules and the
named errors live in :mod:`omicsfusion.data.slices`. ``LoadImage`` turns a
reader's exception into a ``RuntimeError`` after trying its other readers, so
the bundles check folders first with ``CheckImageSized``, which raises the
named error itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from monai.data import ImageReader
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple

from omicsfusion.data.errors import FeatureMismatchError, OmicsDataError, SliceShapeError
from omicsfusion.data.pixel_limit import MAX_PIXELS
from omicsfusion.data.slices import LGG_CHANNELS, is_slice_folder, read_slice_folder, slice_files, slice_number
from omicsfusion.data.tables import OmicsTable
from omicsfusion.preprocessing.missing import refuse_empty_samples
from omicsfusion.preprocessing.preprocess import OmicsPreprocessor
from omicsfusion.preprocessing.rendering import mask_channel

__all__ = ["OmicsReader", "OmicsRows", "SliceFolderReader"]


class SliceFolderReader(ImageReader):
    """Read a folder of ``<case>_<k>.tif`` slices, stacked in ``k`` order, as ``(C, W, H, K)``.

    The affine is ``diag(*spacing, 1)``: axes (column, row, slice) taken as RAS with the
    origin at the first voxel. TCGA-LGG states neither spacing nor orientation, so both
    are nominal: give the spacing you assume (the default 1 mm on every axis keeps voxel
    units), and read ``Orientationd`` as a no-op on these volumes.

    Args:
        channels: channels to keep, by index or name in ``channel_names`` (default all:
            T1 pre, FLAIR, T1 post for TCGA-LGG).
        mask: read the ``<case>_<k>_mask.tif`` files instead, as a one-channel label volume
            (values as stored); the masks are never part of the image.
        spacing: voxel size (mm) along column, row and slice.
        channel_names: names of the stored channels.
        max_pixels: per-slice pixel limit (pixel bombs are refused from the header).
    """

    def __init__(
        self,
        channels: Sequence[int | str] | None = None,
        mask: bool = False,
        spacing: Sequence[float] = (1.0, 1.0, 1.0),
        channel_names: Sequence[str] = LGG_CHANNELS,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        spacing = tuple(float(s) for s in spacing)
        if len(spacing) != 3 or min(spacing) <= 0:
            raise ValueError(f"spacing must be 3 positive sizes (column, row, slice), got {spacing}")
        self.channels = None if channels is None else list(channels)
        self.mask = bool(mask)
        self.spacing = spacing
        self.channel_names = tuple(channel_names)
        self.max_pixels = max_pixels

    def verify_suffix(self, filename: Sequence[str] | str) -> bool:
        """True for folders that hold ``<name>_<k>.tif`` slices."""
        return all(is_slice_folder(f) for f in ensure_tuple(filename))

    def read(self, data: Sequence[str] | str, **kwargs: Any) -> list[tuple[str, np.ndarray]] | tuple[str, np.ndarray]:
        """Decode each folder (named errors of :func:`~omicsfusion.data.slices.check_slice_folder`)."""
        images = [
            (str(f), read_slice_folder(f, self.channels, self.mask, self.channel_names, self.max_pixels))
            for f in ensure_tuple(data)
        ]
        return images if len(images) > 1 else images[0]

    def get_data(self, img: list[tuple[str, np.ndarray]] | tuple[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """Channel-first array (several folders: their channels concatenated) and its meta."""
        images = img if isinstance(img, list) else [img]
        shapes = {a.shape[1:] for _, a in images}
        if len(shapes) > 1:
            raise SliceShapeError(
                f"slice folders {[f for f, _ in images]} stack into different shapes "
                f"{sorted(shapes)}; cannot join them as channels"
            )
        array = np.concatenate([a for _, a in images], axis=0)
        affine = np.diag([*self.spacing, 1.0])
        files = slice_files(images[0][0], self.mask)
        meta = {
            MetaKeys.AFFINE: affine,
            MetaKeys.ORIGINAL_AFFINE: affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.asarray(array.shape[1:]),
            MetaKeys.ORIGINAL_CHANNEL_DIM: 0,
            MetaKeys.SPACE: SpaceKeys.RAS,
            "slice_first": slice_number(files[0]),  # k of the first and last slice (of the first folder)
            "slice_last": slice_number(files[-1]),
        }
        return array, meta


class OmicsRows(NamedTuple):
    """What :meth:`OmicsReader.read` returns: the sample id and each type's raw row (``None``: no row)."""

    sample_id: str
    rows: dict[str, np.ndarray | None]


class _OpenedTables(NamedTuple):
    """What :class:`OmicsReader` reads and computes once: the layout, the types, the table and the feature index."""

    preprocessor: OmicsPreprocessor | None
    types: list[str]
    table: OmicsTable
    features: dict[str, np.ndarray]  # type -> the feature names of its vectors
    index: dict[str, np.ndarray] | None  # type -> table column of each layout feature (0 where absent)
    absent: dict[str, np.ndarray] | None  # type -> layout features the table lacks


class OmicsReader:
    """Read a sample's omics rows, optionally aligned by name to a fitted layout's features and normalised.

    Nothing is read when the reader is built: the tables (and a layout given as a
    file) are read on the first :meth:`read` and kept by this reader, with the
    feature index onto the layout computed then, once. Without ``preprocessor``
    :meth:`get_data` gives the tables' raw rows (in the table's feature order;
    ``meta["omics_features"]`` names them); with it, the rows aligned to its
    features, their empty (NaN/inf) cells filled with the training fills the layout
    file stores (``OmicsPreprocessor(missing_values=...)``; refused, naming the sample,
    type and features, when it was fitted with "raise") and normalised, ready for its
    layout matrices; with its missing indicator also each type's mask vector
    (``<type>_missing``: 1 where the cell was empty, all ones for a type without a row).
    A sample with no value in any type is refused by name.

    Args:
        tables: an :class:`OmicsTable` or a mapping type -> file path or DataFrame.
        preprocessor: optional fitted :class:`OmicsPreprocessor` or its ``.npz`` file.
        omics_types: the types to read, in order (default: all the preprocessor's
            types, or all the tables'); a mapping of files is read for these types only.
        id_column: sample-id column of the table files (see ``OmicsTable``).
        layer: AnnData layer to read instead of ``X``.
        exclude: table columns to leave out (see ``OmicsTable``).
        on_missing: ``"raise"`` (default) raises :class:`MissingSampleError` naming
            the sample and file; ``"zeros"`` yields a zero vector and lists the type
            in ``meta["omics_missing"]``.
        fill_value: value (in normalised units: 0 is the training mean under
            z-score) for layout features absent from the table.
        min_overlap: least share of layout features the table must hold.

    Raises (on the first read):
        OmicsDataError: an omics type is not in the preprocessor (or tables).
        FeatureMismatchError: the table lacks a type of the preprocessor, or
            holds fewer than ``min_overlap`` of its features.
    """

    def __init__(
        self,
        tables: OmicsTable | Mapping[str, Any],
        preprocessor: OmicsPreprocessor | str | os.PathLike | None = None,
        omics_types: Sequence[str] | None = None,
        id_column: str | Mapping[str, str] | None = None,
        layer: str | Mapping[str, str] | None = None,
        exclude: Sequence[str] | Mapping[str, Sequence[str]] = (),
        on_missing: str = "raise",
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
    ) -> None:
        if on_missing not in ("raise", "zeros"):
            raise ValueError(f"on_missing must be 'raise' or 'zeros', got {on_missing!r}")
        self.tables = tables
        self.preprocessor_source = preprocessor  # the fitted preprocessor or its layout file, as given
        self.omics_types = None if omics_types is None else [str(t) for t in omics_types]
        self.id_column, self.layer, self.exclude = id_column, layer, exclude
        self.on_missing = on_missing
        self.fill_value = float(fill_value)
        self.min_overlap = float(min_overlap)
        self._opened: _OpenedTables | None = None

    @property
    def preprocessor(self) -> OmicsPreprocessor | None:
        """The fitted preprocessor (read from its file on first use), or ``None``."""
        return self._open().preprocessor

    @property
    def types(self) -> list[str]:
        """The omics types read, in order."""
        return self._open().types

    @property
    def table(self) -> OmicsTable:
        """The omics table this reader reads (read from its files on first use)."""
        return self._open().table

    def _open(self) -> _OpenedTables:
        """Read the layout file and the tables, check them and index the layout's features, once."""
        if self._opened is not None:
            return self._opened
        pre = self.preprocessor_source
        if pre is not None and not isinstance(pre, OmicsPreprocessor):
            pre = OmicsPreprocessor.load(pre)
        types = _types(self.omics_types, self.tables, pre)
        tables = self.tables
        if not isinstance(tables, OmicsTable):
            tables = OmicsTable(
                {t: tables[t] for t in types if t in tables},
                id_column=self.id_column,
                layer=self.layer,
                exclude=self.exclude,
            )
        if pre is None:
            features = {t: tables.features(t) for t in types}
            self._opened = _OpenedTables(None, types, tables, features, None, None)
            return self._opened
        absent = [t for t in types if t not in tables.types]
        if absent:
            raise FeatureMismatchError(f"preprocessor types {absent} are not in the omics table {tables.types}")
        features = {t: pre.feature_names(t) for t in types}
        index = {t: tables.feature_index(t, features[t], self.min_overlap) for t in types}
        self._opened = _OpenedTables(
            pre,
            types,
            tables,
            features,
            {t: np.maximum(i, 0) for t, i in index.items()},
            {t: np.flatnonzero(i < 0) for t, i in index.items()},
        )
        return self._opened

    def read(self, sample_id: str) -> OmicsRows:
        """The sample's raw row of every type (``None`` where it has none and ``on_missing="zeros"``).

        Raises:
            MissingSampleError: a type has no row for the sample and ``on_missing="raise"``.
        """
        opened = self._open()
        sample_id = str(sample_id)
        rows = {}
        for t in opened.types:
            if opened.table.has(t, sample_id) or self.on_missing == "raise":
                rows[t] = opened.table.row(t, sample_id)  # raises MissingSampleError naming id and file
            else:
                rows[t] = None
        return OmicsRows(sample_id, rows)

    def get_data(self, rows: OmicsRows) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``({channel: float32 vector}, meta)``: rows aligned, filled and normalised (zeros for a missing row),
        and the mask vectors when the preprocessor has the missing indicator.

        The meta holds ``omics_sample_id``, ``omics_features`` (type -> feature names)
        and ``omics_missing`` (the types without a row).

        Raises:
            MissingValuesError: an empty cell and the layout file was fitted with ``missing_values="raise"``.
            EmptySampleError: the sample has no value in any type.
        """
        opened = self._open()
        refuse_empty_samples({t: {rows.sample_id: r} for t, r in rows.rows.items()}, [rows.sample_id])
        vectors, missing = {}, []
        indicator = opened.preprocessor is not None and opened.preprocessor.missing_indicator_
        for t in opened.types:
            row = rows.rows[t]
            if row is None:
                vectors[t] = np.zeros(opened.features[t].size, np.float32)
                if indicator:
                    vectors[mask_channel(t)] = np.ones(opened.features[t].size, np.float32)
                missing.append(t)
                continue
            if opened.preprocessor is not None:
                row = row[opened.index[t]]  # a copy
                row[opened.absent[t]] = 0.0  # absent from the table: set to fill_value below, never an empty cell
                if indicator:
                    vectors[mask_channel(t)] = (~np.isfinite(row)).astype(np.float32)
                row = opened.preprocessor.fill_missing(t, row, rows.sample_id)
                row = opened.preprocessor.normalize(t, row, rows.sample_id)
                row[opened.absent[t]] = self.fill_value
            vectors[t] = row
        return vectors, {"omics_sample_id": rows.sample_id, "omics_features": opened.features, "omics_missing": missing}


def _types(omics_types: Sequence[str] | None, tables: Any, preprocessor: OmicsPreprocessor | None) -> list[str]:
    """The requested omics types, checked against the preprocessor (or, without one, the tables)."""
    known = (
        preprocessor.fitted_types()
        if preprocessor is not None
        else list(tables.types if isinstance(tables, OmicsTable) else tables)
    )
    types = list(known) if omics_types is None else list(omics_types)
    unknown = [t for t in types if t not in known]
    if unknown:
        where = "the layout file" if preprocessor is not None else "the omics tables"
        raise OmicsDataError(f"omics types {unknown} not in {where}; it has {list(known)}")
    return types
