"""Dictionary wrappers of the array transforms, for MONAI pipelines.

A datalist row ``{"image": path, "omics": sample_id, "label": k}`` becomes the
network input with::

    LoadImaged(keys="image"), EnsureChannelFirstd(keys="image"),
    OmicsChannelsd(keys="omics", tables={"rna": "rna.csv", "cnv": "cnv.csv"},
                   preprocessor="models/layout.npz", ref_key="image"),
    FuseChannelsd(keys=["image", "omics"], name="image")

``OmicsChannelsd`` goes from the sample id to omics channels on the image's
grid in one step, so nothing travels beside the data between transforms; it
and ``AlignToReferenced`` are invertible (back to the layout grid) and
lazy-aware (they align to the image's pending shape in a lazy ``Compose``).
``CheckImageSized`` (before ``LoadImaged``) refuses pixel bombs by their header.
Volume checks for 3-D MRI (``CheckDicomSeriesd`` before ``LoadImaged``,
``CheckVolumed`` and ``MatchSequencesd`` after ``EnsureChannelFirstd``) raise
named errors instead of failing later without naming the file.
``LoadSpotPatchd`` reads a spot's patch from its slide. ``TileBagd`` cuts a sample's tile(s) into a
bag of patches (``SlideBagd``: the darkest cells of a whole slide, read lazily); MONAI's
``SplitDimd(dim=0, keepdim=False, list_output=True)`` then gives one dictionary per patch for the
per-tile transforms, and ``StackPatchesd`` stacks them back into one sample ``(N, C, H, W)``. ``MacenkoNormalized`` and
``RandHEDJitterd`` normalise and augment H&E stain on image keys only.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import InvertibleTransform, LazyTransform, MapTransform, RandomizableTransform
from monai.utils import convert_to_tensor

from omicsfusion.data.pixel_limit import MAX_PIXELS
from omicsfusion.errors import TransformError
from omicsfusion.transforms.array import AlignToReference, FuseChannels, OmicsChannels
from omicsfusion.transforms.bags import SlideBag, TileBag
from omicsfusion.transforms.inputs import CheckDicomSeries, CheckImageSize
from omicsfusion.transforms.patches import LoadSpotPatch
from omicsfusion.transforms.stain import MacenkoNormalize, RandHEDJitter
from omicsfusion.transforms.volume import CheckVolume, MatchSequences, source_name

__all__ = [
    "AlignToReferenceD",
    "AlignToReferenceDict",
    "AlignToReferenced",
    "CheckDicomSeriesD",
    "CheckDicomSeriesDict",
    "CheckDicomSeriesd",
    "CheckImageSizeD",
    "CheckImageSizeDict",
    "CheckImageSized",
    "CheckVolumeD",
    "CheckVolumeDict",
    "CheckVolumed",
    "FuseChannelsD",
    "FuseChannelsDict",
    "FuseChannelsd",
    "LoadSpotPatchD",
    "LoadSpotPatchDict",
    "LoadSpotPatchd",
    "MacenkoNormalizeD",
    "MacenkoNormalizeDict",
    "MacenkoNormalized",
    "MatchSequencesD",
    "MatchSequencesDict",
    "MatchSequencesd",
    "OmicsChannelsD",
    "OmicsChannelsDict",
    "OmicsChannelsd",
    "RandHEDJitterD",
    "RandHEDJitterDict",
    "RandHEDJitterd",
    "SlideBagD",
    "SlideBagDict",
    "SlideBagd",
    "StackPatchesD",
    "StackPatchesDict",
    "StackPatchesd",
    "TileBagD",
    "TileBagDict",
    "TileBagd",
]


class _EndsInAlignment(MapTransform, InvertibleTransform, LazyTransform):
    """What the dictionary transforms ending in an :class:`AlignToReference` (``aligner``) share.

    The lazy flag is passed down to the aligner, and ``inverse`` takes every key back to the layout grid.
    """

    aligner: AlignToReference

    @LazyTransform.lazy.setter  # type: ignore
    def lazy(self, value: bool) -> None:
        self._lazy = value
        self.aligner.lazy = value

    def inverse(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.aligner.inverse(d[key])
        return d


class AlignToReferenced(_EndsInAlignment):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.array.AlignToReference` (invertible, lazy-aware).

    Args:
        keys: omics image keys to align.
        ref_key: key of the (channel-first) reference image.
        mode: ``"nearest"`` (default), ``"bilinear"`` or ``"trilinear"``.
        axis: broadcast axis for a 2-D map on a 3-D reference (default -1).
        allow_skip: accept a resize that skips grid pixels (warned with the count);
            by default it raises :class:`~omicsfusion.transforms.array.SkippedPixelsError`.
        allow_missing_keys: don't raise when a key is missing.
        lazy: let a lazy ``Compose`` keep the reference's pending operations (read through its pending shape).
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
        lazy: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        LazyTransform.__init__(self, lazy=lazy)
        self.ref_key = ref_key
        self.aligner = AlignToReference(mode, axis, allow_skip, lazy)

    def __call__(self, data: Mapping[Hashable, Any], lazy: bool | None = None) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.aligner(d[key], d[self.ref_key], lazy=self.lazy if lazy is None else lazy)
        return d


class OmicsChannelsd(_EndsInAlignment):
    """Sample id under ``keys`` -> omics channels on the grid of the image under ``ref_key``.

    Calls :class:`~omicsfusion.transforms.array.OmicsChannels` (``channels``) then
    :class:`~omicsfusion.transforms.array.AlignToReference` (``aligner``, which code
    that looks for a pipeline's alignment reads), so a bundle's omics chain is one
    block. Invertible and lazy-aware as :class:`AlignToReferenced`: the inverse
    takes the channels back to the layout grid.

    Args:
        keys: keys holding sample ids (each replaced by its channels).
        tables: mapping omics type -> table file (read once per process) or an ``OmicsTable``.
        preprocessor: the fitted ``OmicsPreprocessor`` or its layout file (``models/layout.npz``).
        ref_key: key of the (channel-first) reference image.
        omics_types: types that become channels, in order (default all of the preprocessor's).
        mode: ``"nearest"`` (default), ``"bilinear"`` or ``"trilinear"``.
        axis: broadcast axis for a 2-D map on a 3-D reference (default -1).
        allow_skip: accept a resize that skips grid pixels (warned with the count).
        id_column: sample-id column of the table files.
        layer: AnnData layer to read instead of ``X``.
        exclude: table columns that are not features.
        on_missing: ``"raise"`` or ``"zeros"`` (a type without the sample's row
            becomes an all-zero channel, ``omics_missing`` in the meta).
        fill_value: value (normalised units) of layout features absent from a table.
        min_overlap: least share of layout features a table must hold.
        allow_missing_keys: don't raise when a key is missing.
        lazy: let a lazy ``Compose`` keep the reference's pending operations (read through its pending shape).
    """

    backend = OmicsChannels.backend

    def __init__(
        self,
        keys: KeysCollection,
        tables: Any,
        preprocessor: Any,
        ref_key: str,
        omics_types: Sequence[str] | None = None,
        mode: str = "nearest",
        axis: int = -1,
        allow_skip: bool = False,
        id_column: str | Mapping[str, str] | None = None,
        layer: str | Mapping[str, str] | None = None,
        exclude: Sequence[str] | Mapping[str, Sequence[str]] = (),
        on_missing: str = "raise",
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
        allow_missing_keys: bool = False,
        lazy: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        LazyTransform.__init__(self, lazy=lazy)
        self.ref_key = ref_key
        self.channels = OmicsChannels(
            tables, preprocessor, omics_types, id_column, layer, exclude, on_missing, fill_value, min_overlap
        )
        self.aligner = AlignToReference(mode, axis, allow_skip, lazy)

    def __call__(self, data: Mapping[Hashable, Any], lazy: bool | None = None) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.aligner(self.channels(d[key]), d[self.ref_key], lazy=self.lazy if lazy is None else lazy)
        return d


class FuseChannelsd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.array.FuseChannels`.

    Args:
        keys: items to concatenate, image keys first, then omics keys.
        name: key of the result; its meta records ``channel_names`` and
            ``n_image_channels`` and it keeps the first item's ``applied_operations``.
        image_channel_names: names of the image channels (default ``image_0``, ...).
        allow_missing_keys: don't raise when a key is missing.
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


class CheckDicomSeriesd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.inputs.CheckDicomSeries` (before ``LoadImaged``).

    Args:
        keys: keys holding image paths (folders must hold one DICOM series).
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = CheckDicomSeries.backend

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.checker = CheckDicomSeries()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key])
        return d


class CheckImageSized(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.inputs.CheckImageSize` (before ``LoadImaged``).

    Args:
        keys: keys holding image paths (arrays pass untouched).
        max_pixels: most pixels (voxels) an image header may claim.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = CheckImageSize.backend

    def __init__(self, keys: KeysCollection, max_pixels: int = MAX_PIXELS, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.checker = CheckImageSize(max_pixels)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key])
        return d


class CheckVolumed(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.volume.CheckVolume`.

    Args:
        keys: keys of channel-first loaded volumes.
        spatial_dims: spatial dimensions required (3 for MRI volumes).
        min_size: least size of every spatial axis.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = CheckVolume.backend

    def __init__(
        self, keys: KeysCollection, spatial_dims: int = 3, min_size: int = 2, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.checker = CheckVolume(spatial_dims, min_size)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.checker(d[key])
        return d


class MatchSequencesd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.volume.MatchSequences`.

    Args:
        keys: keys of one subject's sequences; the first present is the reference grid of the others.
        resample: resample mismatching sequences onto the first instead of raising.
        atol: affine tolerance in mm.
        mode: interpolation used when resampling.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = MatchSequences.backend

    def __init__(
        self,
        keys: KeysCollection,
        resample: bool = False,
        atol: float = 1e-3,
        mode: str = "bilinear",
        allow_missing_keys: bool = False,
    ) -> None:
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


class LoadSpotPatchd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.patches.LoadSpotPatch`.

    Replaces the slide path under ``keys`` by its spot patch; a value that is
    not a path is an already cut patch (:meth:`LoadSpotPatch.from_array`),
    for which the spot centre keys are not needed.

    Args:
        keys: key(s) holding the slide path (usually ``"image"``).
        size_um: patch edge in microns.
        size_px: patch edge in pixels.
        x_key, y_key: keys of the spot centre (level-0 pixels).
        mpp_key: key of the microns per pixel (``None`` or absent: the slide file's own).
        backend: slide backend (``"auto"``: tifffile, openslide, cuCIM for TIFF/SVS; PIL for JPEG/PNG).
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = LoadSpotPatch.backend

    def __init__(
        self,
        keys: KeysCollection,
        size_um: float,
        size_px: int,
        x_key: str = "x",
        y_key: str = "y",
        mpp_key: str | None = "mpp",
        backend: str = "auto",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadSpotPatch(size_um, size_px, backend)
        self.x_key, self.y_key, self.mpp_key = x_key, y_key, mpp_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        mpp = d.get(self.mpp_key) if self.mpp_key else None
        for key in self.key_iterator(d):
            if isinstance(d[key], (str, os.PathLike)):
                d[key] = self.loader(d[key], d[self.x_key], d[self.y_key], None if mpp is None else float(mpp))
            else:
                d[key] = self.loader.from_array(d[key])
        return d


class MacenkoNormalized(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.stain.MacenkoNormalize` (RGB in 0..255).

    Args:
        keys: keys of channel-first RGB patches (image keys only).
        target_he: reference stain matrix; None: MONAI's default.
        max_cref: reference maximum H and E concentrations; None: MONAI's default.
        on_failure: ``"skip"`` (keep and count a patch that cannot be normalised) or ``"raise"``.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = MacenkoNormalize.backend

    def __init__(
        self,
        keys: KeysCollection,
        target_he=None,
        max_cref=None,
        on_failure: str = "skip",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.normalizer = MacenkoNormalize(target_he, max_cref, on_failure)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.normalizer(d[key])
        return d


class RandHEDJitterd(RandomizableTransform, MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.stain.RandHEDJitter` (RGB in [0, 1]).

    Every key gets the same draw (one patch seen at several keys stays one stain).

    Args:
        keys: keys of channel-first RGB patches (image keys only).
        sigma: each stain is multiplied by ``alpha ~ U(1 - sigma, 1 + sigma)``.
        bias: then shifted by ``beta ~ U(-bias, bias)``.
        prob: probability of jittering a sample.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = RandHEDJitter.backend

    def __init__(
        self,
        keys: KeysCollection,
        sigma: float = 0.05,
        bias: float = 0.05,
        prob: float = 0.5,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.jitter = RandHEDJitter(sigma, bias, prob=1.0)

    def set_random_state(self, seed: int | None = None, state=None) -> RandHEDJitterd:
        super().set_random_state(seed, state)
        self.jitter.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize(None)
        if not self._do_transform:
            for key in self.key_iterator(d):
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta())
            return d
        self.jitter.randomize()
        for key in self.key_iterator(d):
            d[key] = self.jitter(d[key], randomize=False)
        return d


class TileBagd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.bags.TileBag`.

    Replaces the image path(s) (or loaded image(s)) under ``keys`` by the bag
    ``(num_patches, C, patch_px, patch_px)``; a list of files gives one bag drawn from all.

    Args:
        keys: key(s) holding a path, a list of paths or channel-first images (usually ``"image"``).
        num_patches, patch_px, background: see :class:`~omicsfusion.transforms.bags.TileBag`.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = TileBag.backend

    def __init__(
        self,
        keys: KeysCollection,
        num_patches: int,
        patch_px: int,
        background: float = 255.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.bag = TileBag(num_patches, patch_px, background)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.bag(d[key])
        return d


class SlideBagd(MapTransform):
    """Dictionary-based wrapper of :class:`omicsfusion.transforms.bags.SlideBag`.

    Replaces the slide file under ``keys`` by the bag ``(num_patches, 3, patch_px, patch_px)`` of its darkest
    ``patch_um`` cells (the slide read lazily, never whole).

    Args:
        keys: key(s) holding a slide path (usually ``"image"``).
        num_patches, patch_um, patch_px, mpp, max_side, background: see :class:`~omicsfusion.transforms.bags.SlideBag`.
        allow_missing_keys: don't raise when a key is missing.
    """

    backend = SlideBag.backend

    def __init__(
        self,
        keys: KeysCollection,
        num_patches: int,
        patch_um: float,
        patch_px: int,
        mpp: float | None = None,
        max_side: int = 2048,
        background: float = 255.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.bag = SlideBag(num_patches, patch_um, patch_px, mpp, max_side, background)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.bag(d[key])
        return d


class StackPatchesd(MapTransform):
    """One sample's patch dictionaries (``SplitDimd`` with ``list_output``) -> one dictionary.

    The values under ``keys`` are stacked along a new first axis (``(N, C, H, W)``, with the
    first patch's meta, which holds the bag's ``patch_*`` keys); every other key must hold the
    same value in every patch (the label, the sample id) and is kept once.

    Raises:
        TransformError: an empty list, or a key whose value differs between patches (names it).
    """

    def __call__(self, data: Sequence[Mapping[Hashable, Any]]) -> dict[Hashable, Any]:
        if isinstance(data, Mapping) or not data:
            raise TransformError(f"StackPatchesd needs a non-empty list of patch dictionaries, got {type(data)}")
        d = dict(data[0])
        for key in set(d).difference(self.key_iterator(d)):
            if any(not _same(d[key], patch.get(key)) for patch in data[1:]):
                raise TransformError(f"StackPatchesd: {key!r} differs between the patches of one sample")
        for key in self.key_iterator(d):
            stacked = torch.stack([convert_to_tensor(patch[key], track_meta=False) for patch in data])
            first = data[0][key]
            keep_meta = get_track_meta() and isinstance(first, MetaTensor)
            d[key] = MetaTensor(stacked, meta=dict(first.meta)) if keep_meta else stacked
        return d


def _same(a: Any, b: Any) -> bool:
    """Whether two values of a patch dictionary are equal (arrays and tensors element-wise)."""
    if isinstance(a, (np.ndarray, torch.Tensor)) or isinstance(b, (np.ndarray, torch.Tensor)):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return bool(a == b)


AlignToReferenceD = AlignToReferenceDict = AlignToReferenced
OmicsChannelsD = OmicsChannelsDict = OmicsChannelsd
FuseChannelsD = FuseChannelsDict = FuseChannelsd
CheckDicomSeriesD = CheckDicomSeriesDict = CheckDicomSeriesd
CheckImageSizeD = CheckImageSizeDict = CheckImageSized
CheckVolumeD = CheckVolumeDict = CheckVolumed
MatchSequencesD = MatchSequencesDict = MatchSequencesd
LoadSpotPatchD = LoadSpotPatchDict = LoadSpotPatchd
MacenkoNormalizeD = MacenkoNormalizeDict = MacenkoNormalized
RandHEDJitterD = RandHEDJitterDict = RandHEDJitterd
TileBagD = TileBagDict = TileBagd
SlideBagD = SlideBagDict = SlideBagd
StackPatchesD = StackPatchesDict = StackPatchesd
