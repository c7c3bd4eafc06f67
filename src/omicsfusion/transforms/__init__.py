"""MONAI transforms that make omics rows into image channels aligned with a reference.

``array`` does the work, ``dictionary`` wraps it (MONAI style); ``guard``
enforces the augmentation rule; ``attribution`` maps fused-input
attributions back to omics features; ``volume`` checks loaded MRI volumes;
``readers`` reads a folder of TIFF slices as one volume.
"""

from omicsfusion.transforms.array import (
    OMICS_META_KEYS,
    AlignToReference,
    FuseChannels,
    LoadOmics,
    OmicsToImage,
    ReferenceShapeError,
    SkippedPixelsError,
)
from omicsfusion.transforms.attribution import omics_feature_attributions
from omicsfusion.transforms.dictionary import (
    CheckDicomSeriesd,
    CheckDicomSeriesD,
    CheckDicomSeriesDict,
    CheckImageSized,
    CheckImageSizeD,
    CheckImageSizeDict,
    CheckVolumed,
    CheckVolumeD,
    CheckVolumeDict,
    MatchSequencesd,
    MatchSequencesD,
    MatchSequencesDict,
    AlignToReferenced,
    AlignToReferenceD,
    AlignToReferenceDict,
    FuseChannelsd,
    FuseChannelsD,
    FuseChannelsDict,
    LoadOmicsd,
    LoadOmicsD,
    LoadOmicsDict,
    OmicsToImaged,
    OmicsToImageD,
    OmicsToImageDict,
)
from omicsfusion.transforms.readers import SliceFolderReader
from omicsfusion.transforms.volume import CheckVolume, MatchSequences
from omicsfusion.transforms.guard import OmicsAugmentationError, check_omics_augmentation, is_intensity_transform

__all__ = [
    "OMICS_META_KEYS",
    "AlignToReference",
    "AlignToReferenceD",
    "AlignToReferenceDict",
    "AlignToReferenced",
    "CheckDicomSeriesD",
    "CheckDicomSeriesDict",
    "CheckDicomSeriesd",
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
    "LoadOmics",
    "LoadOmicsD",
    "LoadOmicsDict",
    "LoadOmicsd",
    "MatchSequences",
    "MatchSequencesD",
    "MatchSequencesDict",
    "MatchSequencesd",
    "OmicsAugmentationError",
    "OmicsToImage",
    "OmicsToImageD",
    "OmicsToImageDict",
    "OmicsToImaged",
    "ReferenceShapeError",
    "SkippedPixelsError",
    "SliceFolderReader",
    "check_omics_augmentation",
    "is_intensity_transform",
    "omics_feature_attributions",
]
