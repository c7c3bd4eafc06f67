"""Dictionary wrappers of :mod:`omicsfusion.transforms.array`, for MONAI pipelines.

A datalist row ``{"image": path, "omics": sample_id, "label": k}`` becomes the
network input with::

    LoadImaged(keys="image"), EnsureChannelFirstd(keys="image"),
    LoadOmicsd(keys="omics", tables={"rna": "rna.csv", "cnv": "cnv.csv"}),
    OmicsToImaged(keys="omics", layout="models/layout.npz"),
    AlignToReferenced(keys="omics", ref_key="image"),
    FuseChannelsd(keys=["image", "omics"], name="image")

``LoadOmicsd`` stores its meta under ``"<key>_meta_dict"`` (MONAI's convention
for non-tensor data); ``OmicsToImaged`` consumes and removes it, so the
batch collates as usual.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

from omicsfusion.transforms.array import AlignToReference, FuseChannels, LoadOmics, OmicsToImage

__all__ = [
    "LoadOmicsd", "LoadOmicsD", "LoadOmicsDict",
    "OmicsToImaged", "OmicsToImageD", "OmicsToImageDict",
    "AlignToReferenced", "AlignToReferenceD", "AlignToReferenceDict",
    "FuseChannelsd", "FuseChannelsD", "FuseChannelsDict",
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
    """

    backend = AlignToReference.backend

    def __init__(
        self,
        keys: KeysCollection,
        ref_key: str,
        mode: str = "nearest",
        axis: int = -1,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key
        self.aligner = AlignToReference(mode, axis)

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
