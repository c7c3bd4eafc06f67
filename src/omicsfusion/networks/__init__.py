"""Networks for the bundles' one input contract, ``(N, image channels + one channel per omics type, *spatial)``.

- :mod:`~omicsfusion.networks.fusion`: early fusion (:class:`WithCoordinates`) and mid fusion
  (:class:`MidFusion`, :func:`omics_cnn`) around stock MONAI classifiers;
- :mod:`~omicsfusion.networks.encoders`: pretrained 2-D image encoders (:func:`pretrained_encoder`), loaded
  offline from an installed wheel or a user's state dict, frozen or fine-tuned;
- :mod:`~omicsfusion.networks.bags`: a tile network applied to every patch of a bag, the patch logits pooled
  (:class:`PatchBag`);
- :mod:`~omicsfusion.networks.slices`: the 2-D encoder applied slice by slice to a volume (:class:`SliceEncoder`);
- :mod:`~omicsfusion.networks.training`: optimizer parameter groups (a lower encoder learning rate) and the
  frozen encoder's pooled features for a linear probe.
"""

from omicsfusion.networks.bags import PatchBag
from omicsfusion.networks.encoders import ENCODERS, ImageEncoder, load_encoder_weights, pretrained_encoder
from omicsfusion.networks.errors import EncoderWeightsError
from omicsfusion.networks.fusion import CoordinateChannels, MidFusion, WithCoordinates, omics_cnn
from omicsfusion.networks.slices import SliceEncoder
from omicsfusion.networks.training import encoder_features, param_groups

__all__ = [
    "ENCODERS",
    "CoordinateChannels",
    "EncoderWeightsError",
    "ImageEncoder",
    "MidFusion",
    "PatchBag",
    "SliceEncoder",
    "WithCoordinates",
    "encoder_features",
    "load_encoder_weights",
    "omics_cnn",
    "param_groups",
    "pretrained_encoder",
]
