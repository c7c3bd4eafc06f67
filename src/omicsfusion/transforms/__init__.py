"""MONAI transforms that make omics rows into image channels aligned with a reference.

``array`` does the work, ``dictionary`` wraps it (MONAI style); ``guard``
enforces the augmentation rule; ``attribution`` maps fused-input
attributions back to omics features; ``inputs`` checks image files before
loading and ``volume`` checks loaded MRI volumes; ``patches`` reads spot
patches from slides; ``stain`` normalises and augments H&E stain;
``bags`` cuts a sample's tile(s) into a bag of patches;
``readers`` reads a folder of TIFF slices as one volume and a sample's omics rows.
"""

from omicsfusion.transforms.array import (
    OMICS_META_KEYS,
    AlignToReference,
    FuseChannels,
    OmicsChannels,
    ReferenceShapeError,
    SkippedPixelsError,
)
from omicsfusion.transforms.attribution import omics_feature_attributions
from omicsfusion.transforms.bags import PATCH_META_KEYS, SlideBag, TileBag
from omicsfusion.transforms.dictionary import (
    AlignToReferenceD,
    AlignToReferenced,
    AlignToReferenceDict,
    CheckDicomSeriesD,
    CheckDicomSeriesd,
    CheckDicomSeriesDict,
    CheckImageSizeD,
    CheckImageSized,
    CheckImageSizeDict,
    CheckVolumeD,
    CheckVolumed,
    CheckVolumeDict,
    FuseChannelsD,
    FuseChannelsd,
    FuseChannelsDict,
    LoadSpotPatchD,
    LoadSpotPatchd,
    LoadSpotPatchDict,
    MacenkoNormalizeD,
    MacenkoNormalized,
    MacenkoNormalizeDict,
    MatchSequencesD,
    MatchSequencesd,
    MatchSequencesDict,
    OmicsChannelsD,
    OmicsChannelsd,
    OmicsChannelsDict,
    RandHEDJitterD,
    RandHEDJitterd,
    RandHEDJitterDict,
    SlideBagD,
    SlideBagd,
    SlideBagDict,
    StackPatchesD,
    StackPatchesd,
    StackPatchesDict,
    TileBagD,
    TileBagd,
    TileBagDict,
)
from omicsfusion.transforms.guard import OmicsAugmentationError, check_omics_augmentation, is_intensity_transform
from omicsfusion.transforms.inputs import CheckDicomSeries, CheckImageSize
from omicsfusion.transforms.patches import LoadSpotPatch
from omicsfusion.transforms.readers import OmicsReader, OmicsRows, SliceFolderReader
from omicsfusion.transforms.stain import MacenkoNormalize, RandHEDJitter, StainNormalizationError
from omicsfusion.transforms.volume import CheckVolume, MatchSequences

__all__ = [
    "OMICS_META_KEYS",
    "PATCH_META_KEYS",
    "AlignToReference",
    "AlignToReferenceD",
    "AlignToReferenceDict",
    "AlignToReferenced",
    "CheckDicomSeries",
    "CheckDicomSeriesD",
    "CheckDicomSeriesDict",
    "CheckDicomSeriesd",
    "CheckImageSize",
    "CheckImageSizeD",
    "CheckImageSizeDict",
    "CheckImageSized",
    "CheckVolume",
    "CheckVolumeD",
    "CheckVolumeDict",
    "CheckVolumed",
    "FuseChannels",
    "FuseChannelsD",
    "FuseChannelsDict",
    "FuseChannelsd",
    "LoadSpotPatch",
    "LoadSpotPatchD",
    "LoadSpotPatchDict",
    "LoadSpotPatchd",
    "MacenkoNormalize",
    "MacenkoNormalizeD",
    "MacenkoNormalizeDict",
    "MacenkoNormalized",
    "MatchSequences",
    "MatchSequencesD",
    "MatchSequencesDict",
    "MatchSequencesd",
    "OmicsAugmentationError",
    "OmicsChannels",
    "OmicsChannelsD",
    "OmicsChannelsDict",
    "OmicsChannelsd",
    "OmicsReader",
    "OmicsRows",
    "RandHEDJitter",
    "RandHEDJitterD",
    "RandHEDJitterDict",
    "RandHEDJitterd",
    "ReferenceShapeError",
    "SkippedPixelsError",
    "SliceFolderReader",
    "SlideBag",
    "SlideBagD",
    "SlideBagDict",
    "SlideBagd",
    "StackPatchesD",
    "StackPatchesDict",
    "StackPatchesd",
    "StainNormalizationError",
    "TileBag",
    "TileBagD",
    "TileBagDict",
    "TileBagd",
    "check_omics_augmentation",
    "is_intensity_transform",
    "omics_feature_attributions",
]
