"""Dictionary wrappers of :mod:`omicsfusion.transforms.array`, for MONAI pipelines.

A datalist row ``{"image": path, "omics": sample_id, "label": k}`` becomes the
network input with::

    LoadImaged(keys="image"), EnsureChannelFirstd(keys="image"),
    LoadOmicsd(keys="omics", tables={"rna": "rna.csv", "cnv": "cnv.csv"}),
    OmicsToImaged(keys="omics", layout="models/layout.npz"),
    AlignToReferenced(keys="omics", ref_key="image"),
    FuseChannelsd(keys=["image", "omics"], name="image")

``CheckImageSized`` (before ``LoadImaged``) refuses pixel bombs by their header.
Volume checks for 3-D MRI (``CheckDicomSeriesd`` before ``LoadImaged``,
``CheckVolumed`` and ``MatchSequencesd`` after ``EnsureChannelFirstd``) raise
named errors instead of failing later without naming the file.

``LoadOmicsd`` stores its meta under ``"<key>_meta_dict"`` (MONAI's convention
for non-tensor data); ``OmicsToImaged`` consumes and removes it, so the
batch collates as usual.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

from omicsfusion.data.dicom import check_dicom_series
from omicsfusion.data.images import MAX_PIXELS, check_image_size
from omicsfusion.data.slices import is_slice_folder
from omicsfusion.transforms.array import AlignToReference, FuseChannels, LoadOmics, OmicsToImage
from omicsfusion.transforms.volume import CheckVolume, MatchSequences, source_name

__all__ = [
    "LoadOmicsd", "LoadOmicsD", "LoadOmicsDict",
    "OmicsToImaged", "OmicsToImageD", "OmicsToImageDict",
    "AlignToReferenced", "AlignToReferenceD", "AlignToReferenceDict",
    "FuseChannelsd", "FuseChannelsD", "FuseChannelsDict",
    "CheckDicomSeriesd", "CheckDicomSeriesD", "CheckDicomSeriesDict",
    "CheckImageSized", "CheckImageSizeD", "CheckImageSizeDict",
    "CheckVolumed", "CheckVolumeD", "CheckVolumeDict",
    "MatchSequencesd", "MatchSequencesD", "MatchSequencesDict",
]


class LoadOmicsd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.array.LoadOmics`.

    Replaces each sample id under ``keys`` by ``{type: float32 vector}`` and
    writes the meta to ``"<key>_<meta_key_postfix>"``. Other arguments: see
    :class:`~omicsfusion.transforms.array.LoadOmics`.
    """

    backend = LoadOmics.backend

    def __init__(
        self,
        keys: KeysCollection,
        tables: Any,
        preprocessor: Any = None,
        id_column: str | Mapping[str, str] | None = None,
        layer: str | Mapping[str, str] | None = None,
        exclude: Sequence[str] | Mapping[str, Sequence[str]] = (),
        on_missing: str = "raise",
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
        meta_key_postfix: str = "meta_dict",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadOmics(tables, preprocessor, id_column, layer, exclude, on_missing, fill_value, min_overlap)
        self.meta_key_postfix = meta_key_postfix

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key], d[f"{key}_{self.meta_key_postfix}"] = self.loader(d[key])
        return d


class OmicsToImaged(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.array.OmicsToImage`.

    Reads (and removes) the ``"<key>_<meta_key_postfix>"`` entry written by
    :class:`LoadOmicsd`; the result is a ``(C_omics, *grid)`` MetaTensor whose
    meta holds ``omics_channels``, ``omics_sample_id``, ``omics_missing``.
    """

    backend = OmicsToImage.backend

    def __init__(
        self,
        keys: KeysCollection,
        layout: Any,
        omics_types: Sequence[str] | None = None,
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
        meta_key_postfix: str = "meta_dict",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = OmicsToImage(layout, omics_types, fill_value, min_overlap)
        self.meta_key_postfix = meta_key_postfix

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            meta = d.pop(f"{key}_{self.meta_key_postfix}", None)
            d[key] = self.converter(d[key], meta)
        return d


class AlignToReferenced(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.array.AlignToReference`.

    Args:
        keys: omics image keys to align.
        ref_key: key of the (channel-first) reference image.
        mode: ``"nearest"`` (default), ``"bilinear"`` or ``"trilinear"``.
        axis: broadcast axis for a 2-D map on a 3-D reference (default -1).
        allow_skip: accept a resize that skips grid pixels (warned with the count);
            by default it raises :class:`~omicsfusion.transforms.array.SkippedPixelsError`.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = AlignToReference.backend

    def __init__(
        self,
        keys: KeysCollection,
        ref_key: str,
        mode: str = "nearest",
        axis: int = -1,
        allow_skip: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key
        self.aligner = AlignToReference(mode, axis, allow_skip)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.aligner(d[key], d[self.ref_key])
        return d


class FuseChannelsd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.array.FuseChannels`.

    Concatenates ``keys`` (image keys first, then omics keys) into ``name``;
    the meta of the result records ``channel_names`` and ``n_image_channels``.
    """

    backend = FuseChannels.backend

    def __init__(
        self,
        keys: KeysCollection,
        name: str,
        image_channel_names: Sequence[str] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.name = name
        self.fuser = FuseChannels(image_channel_names)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        items = [d[key] for key in self.key_iterator(d)]
        if items:
            d[self.name] = self.fuser(items)
        return d


LoadOmicsD = LoadOmicsDict = LoadOmicsd
OmicsToImageD = OmicsToImageDict = OmicsToImaged
AlignToReferenceD = AlignToReferenceDict = AlignToReferenced
FuseChannelsD = FuseChannelsDict = FuseChannelsd


class CheckDicomSeriesd(MapTransform):
    """Before ``LoadImaged``: every value under ``keys`` that is a folder must hold one DICOM series.

    Files, folders of TIFF slices (:mod:`omicsfusion.data.slices`, checked by
    ``CheckImageSized``) and images already loaded as arrays (MONAI Label's in-memory
    requests) pass through untouched. Raises
    :class:`~omicsfusion.data.errors.MixedSeriesError` naming the folder and its series.
    """

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            value = d[key]
            if isinstance(value, (str, os.PathLike)) and os.path.isdir(value) and not is_slice_folder(value):
                check_dicom_series(value)
        return d


class CheckImageSized(MapTransform):
    """Before ``LoadImaged``: refuse an image file whose header claims more than ``max_pixels`` pixels.

    Reads headers only (PNG/JPEG, TIFF, NIfTI, every slice of a TIFF slice folder; other
    formats and DICOM folders pass), so a tiny file claiming 50,000 x 50,000 pixels never
    reaches a decoder. Raises :class:`~omicsfusion.data.errors.ImageTooLargeError` naming
    the file and its shape, and for a slice folder the errors of
    :func:`~omicsfusion.data.slices.check_slice_folder` (gaps, shapes).
    """

    def __init__(self, keys: KeysCollection, max_pixels: int = MAX_PIXELS, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.max_pixels = int(max_pixels)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if isinstance(d[key], (str, os.PathLike)):
                check_image_size(d[key], self.max_pixels)
        return d


class CheckVolumed(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.volume.CheckVolume`."""

    backend = CheckVolume.backend

    def __init__(self, keys: KeysCollection, spatial_dims: int = 3, min_size: int = 2,
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.checker = CheckVolume(spatial_dims, min_size)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key])
        return d


class MatchSequencesd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.volume.MatchSequences`.

    The first of ``keys`` present is the reference grid of the others.
    """

    backend = MatchSequences.backend

    def __init__(self, keys: KeysCollection, resample: bool = False, atol: float = 1e-3, mode: str = "bilinear",
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.matcher = MatchSequences(resample, atol, mode)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        if len(keys) > 1:
            names = [source_name(d[k], str(k)) for k in keys]
            for key, img in zip(keys, self.matcher([d[k] for k in keys], names), strict=True):
                d[key] = img
        return d


CheckDicomSeriesD = CheckDicomSeriesDict = CheckDicomSeriesd
CheckImageSizeD = CheckImageSizeDict = CheckImageSized
CheckVolumeD = CheckVolumeDict = CheckVolumed
MatchSequencesD = MatchSequencesDict = MatchSequencesd
