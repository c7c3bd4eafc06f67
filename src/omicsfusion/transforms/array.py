"""Array transforms that turn omics rows into image channels aligned with a reference.

``OmicsChannels`` (sample id -> ``(C, *grid)`` via the fitted layouts; it
reads rows with :class:`~omicsfusion.transforms.readers.OmicsReader`) ->
``AlignToReference`` (-> the reference image's spatial grid, 2-D or 3-D, with
its meta and affine; invertible) -> ``FuseChannels`` (image channels first,
omics channels last).
Following MONAI, these classes do the work and
:mod:`omicsfusion.transforms.dictionary` wraps them; with ``get_track_meta()``
off they return plain tensors.

Meta keys written (all omics keys start with ``omics_``):
``omics_channels`` (list of omics types in channel order),
``omics_sample_id`` (str), ``omics_missing`` (bool: some type had no row and
was zero-filled), ``omics_missing_channels`` (bool array, one per channel);
after fusion also ``channel_names`` (list, image channels then omics types)
and ``n_image_channels`` (int).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import InvertibleTransform, LazyTransform, Transform
from monai.transforms.lazy.functional import apply_pending
from monai.utils import TraceKeys, TransformBackends, convert_to_dst_type, convert_to_tensor

from omicsfusion.data.tables import OmicsTable
from omicsfusion.errors import TransformError
from omicsfusion.preprocessing.preprocess import OmicsPreprocessor
from omicsfusion.transforms.readers import OmicsReader

__all__ = [
    "OMICS_META_KEYS",
    "AlignToReference",
    "FuseChannels",
    "OmicsChannels",
    "ReferenceShapeError",
    "SkippedPixelsError",
]

PathLike = str | os.PathLike
#: meta keys the omics transforms write (carried through alignment and fusion)
OMICS_META_KEYS = ("omics_channels", "omics_sample_id", "omics_missing", "omics_missing_channels")
_MODES = ("nearest", "bilinear", "trilinear")


class ReferenceShapeError(TransformError):
    """The reference (or omics) image has an unexpected number of spatial dims or shape."""


class SkippedPixelsError(ReferenceShapeError):
    """Resizing an omics map onto the reference would skip grid pixels, so their features never reach the network."""


class OmicsChannels(Transform):
    """Sample id -> ``(C_omics, *grid)`` float32 omics channels through the fitted layouts.

    One step from the datalist's sample id to the channels, so no vectors
    travel between transforms: each type's table row is aligned to the
    layout's features by name (index computed once, when built), its empty cells
    filled with the training fills of the layout file (``missing_values``), normalised
    with the training statistics and mapped through the layout matrix
    (``image = reshape(A_c @ x_c)``). A type without a row (``on_missing=
    "zeros"``) becomes an all-zero channel. A preprocessor with the missing
    indicator adds, after the type channels, each type's mask channel
    ``<type>_missing`` (``A_c @ m_c``: 1 on the pixels of the genes whose cell was
    empty; all ones through ``A_c`` for a type without a row).

    Args:
        tables: an :class:`OmicsTable` or a mapping type -> file path or DataFrame.
        preprocessor: fitted :class:`OmicsPreprocessor` or its layout file (the
            bundle's ``models/layout.npz``).
        omics_types: which types become channels, in order (default all the
            preprocessor's types), e.g. a modality subset for an ablation.
        Other arguments: see :class:`~omicsfusion.transforms.readers.OmicsReader`,
            which reads the files on the first call (nothing is read when this is built).

    With ``get_track_meta()`` the result is a MetaTensor whose meta holds
    ``omics_channels``, ``omics_sample_id``, ``omics_missing`` and
    ``omics_missing_channels``; otherwise a plain tensor.
    """

    backend = [TransformBackends.NUMPY]

    def __init__(
        self,
        tables: OmicsTable | Mapping[str, Any],
        preprocessor: OmicsPreprocessor | PathLike,
        omics_types: Sequence[str] | None = None,
        id_column: str | Mapping[str, str] | None = None,
        layer: str | Mapping[str, str] | None = None,
        exclude: Sequence[str] | Mapping[str, Sequence[str]] = (),
        on_missing: str = "raise",
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
    ) -> None:
        self.reader = OmicsReader(
            tables, preprocessor, omics_types, id_column, layer, exclude, on_missing, fill_value, min_overlap
        )

    @property
    def preprocessor(self) -> OmicsPreprocessor:
        """The fitted layouts (read from the layout file on first use)."""
        return self.reader.preprocessor

    @property
    def omics_types(self) -> list[str]:
        """The omics types that become channels, in channel order."""
        return self.reader.types

    @property
    def channel_names(self) -> list[str]:
        """The channels made, in order: :attr:`omics_types`, then their mask channels (missing indicator)."""
        return self.preprocessor.channels_of(self.omics_types)

    def __call__(self, sample_id: str) -> torch.Tensor:
        vectors, meta = self.reader.get_data(self.reader.read(sample_id))
        pre, types, missing = self.preprocessor, self.channel_names, meta["omics_missing"]
        channels = np.zeros((len(types), int(np.prod(pre.grid_))), np.float32)
        for c, t in enumerate(types):
            if t not in missing:
                channels[c] = pre.matrix(t) @ vectors[t]
        out = torch.from_numpy(channels.reshape((len(types), *pre.grid_)))
        if not get_track_meta():
            return out
        missing_mask = np.asarray([t in missing for t in types])
        return MetaTensor(
            out,
            meta={
                "omics_channels": list(types),
                "omics_sample_id": meta["omics_sample_id"],
                "omics_missing": bool(missing_mask.any()),
                "omics_missing_channels": missing_mask,
            },
        )


def _nearest_index(n_in: int, n_out: int) -> torch.Tensor:
    """Source index of each output pixel, pixel centres aligned (torch's 'nearest-exact')."""
    return torch.clamp(((torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out)).floor().long(), max=n_in - 1)


class AlignToReference(InvertibleTransform, LazyTransform):
    """Resize an omics image ``(C, *grid)`` onto a reference image's spatial grid.

    * 2-D grid, reference ``(C', H, W)``: interpolate to ``(H, W)``.
    * 2-D grid, reference ``(C', H, W, D)``: interpolate in-plane (the two
      spatial axes other than ``axis``), then repeat along ``axis``.
    * 3-D grid, reference ``(C', H, W, D)``: interpolate in 3-D.

    ``nearest`` (default) keeps one gene one block of pixels (centre-aligned,
    torch's ``nearest-exact``); ``bilinear``/``trilinear`` (linear in as many
    dims as the grid has; ``align_corners=False``) give smoother maps. Like
    MONAI's ``ResampleToMatch``, the result takes the reference's meta and
    affine (keeping its own ``omics_*`` keys and ``applied_operations``) and
    records itself there, so :meth:`inverse` (``Invertd``, ``Compose.inverse``)
    takes the map back to its grid: exactly for a broadcast and for a nearest
    upsampling by whole factors, to the grid's shape otherwise.

    Lazy-aware: a reference with pending operations (a lazy ``Compose``) is
    read through ``peek_pending_shape()`` / ``peek_pending_affine()``, so the
    map is aligned to the grid the reference will have, without resampling the
    reference first. The map itself is aligned at once (a broadcast is no affine
    resampling that could be deferred).

    Shrinking a map can leave grid pixels that no output pixel reads (nearest
    34 -> 32 reads 32 of 34 rows); the features on them would never reach the
    network, so such a resize is refused unless ``allow_skip`` (then it warns
    once per shape pair with the count). Fit the layout on a grid that fits
    the image instead (``OTLayout(max_grid=...)``).

    Args:
        mode: ``"nearest"``, ``"bilinear"`` or ``"trilinear"``.
        axis: spatial axis of a 3-D reference along which a 2-D map is
            broadcast (default -1: the last, e.g. axial slices).
        allow_skip: accept a resize that skips grid pixels (warned, counted).
        lazy: let a lazy ``Compose`` keep the reference's pending operations.

    Raises:
        ReferenceShapeError: the reference is not channel-first 2-D/3-D, or a
            3-D layout meets a 2-D reference.
        SkippedPixelsError: the resize would skip grid pixels and ``allow_skip`` is false.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, mode: str = "nearest", axis: int = -1, allow_skip: bool = False, lazy: bool = False) -> None:
        LazyTransform.__init__(self, lazy=lazy)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if axis not in (-3, -2, -1, 0, 1, 2):
            raise ValueError(f"axis must be a spatial axis of a 3-D volume (-3..2), got {axis}")
        self.mode = mode
        self.axis = axis % 3
        self.allow_skip = bool(allow_skip)
        self._index_cache: dict[tuple[tuple[int, ...], tuple[int, ...]], torch.Tensor] = {}
        self._skipped: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
        self._warned: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()

    def plan(self, grid: Sequence[int], spatial: Sequence[int]) -> tuple[tuple[int, ...], int | None]:
        """Target size of the interpolation and the broadcast axis (``None``: no broadcast)."""
        grid, spatial = tuple(int(g) for g in grid), tuple(int(s) for s in spatial)
        if len(spatial) not in (2, 3):
            raise ReferenceShapeError(
                f"reference must be channel-first (C, H, W) or (C, H, W, D); got spatial shape {spatial}"
            )
        if len(grid) not in (2, 3):
            raise ReferenceShapeError(f"omics image must be (C, H, W) or (C, H, W, D); got grid {grid}")
        if len(grid) == 3 and len(spatial) == 2:
            raise ReferenceShapeError(f"a 3-D layout grid {grid} cannot align to a 2-D reference of shape {spatial}")
        if len(grid) == 2 and len(spatial) == 3:
            return tuple(s for i, s in enumerate(spatial) if i != self.axis), self.axis
        return spatial, None

    def _index(self, grid: tuple[int, ...], size: tuple[int, ...]) -> torch.Tensor:
        """Flat source pixel of every output pixel (nearest), cached per shape pair."""
        key = (grid, size)
        if key not in self._index_cache:
            per_dim = [_nearest_index(n_in, n_out) for n_in, n_out in zip(grid, size, strict=True)]
            strides = np.cumprod((1, *grid[:0:-1]))[::-1].tolist()  # row-major strides of the grid
            flat = torch.zeros(size, dtype=torch.long)
            for d, (idx, stride) in enumerate(zip(per_dim, strides, strict=True)):
                shape = [1] * len(size)
                shape[d] = size[d]
                flat = flat + (idx * stride).reshape(shape)
            self._index_cache[key] = flat.reshape(-1)
        return self._index_cache[key]

    def _resize(self, x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
        """(C, *grid) -> (C, *size)."""
        grid = tuple(x.shape[1:])
        if grid == size:
            return x
        if self.mode == "nearest":  # one gather over the flattened grid
            flat = x.reshape(x.shape[0], -1).index_select(1, self._index(grid, size))
            return flat.reshape((x.shape[0], *size))
        mode = "bilinear" if len(size) == 2 else "trilinear"
        return F.interpolate(x[None], size=size, mode=mode, align_corners=False)[0]

    def skipped_pixels(self, grid: Sequence[int], spatial: Sequence[int]) -> int:
        """How many grid pixels the resize onto ``spatial`` never reads (0: every feature reaches the output)."""
        grid = tuple(int(g) for g in grid)
        size, _ = self.plan(grid, spatial)
        key = (grid, size)
        if key not in self._skipped:
            reads = self._back(torch.ones((1, *size), dtype=torch.float64), grid, size)
            self._skipped[key] = int((reads == 0).sum())
        return self._skipped[key]

    def _check_skip(self, grid: tuple[int, ...], spatial: tuple[int, ...]) -> None:
        """Raise :class:`SkippedPixelsError` (or, with ``allow_skip``, warn once) when the resize skips pixels."""
        skipped = self.skipped_pixels(grid, spatial)
        if not skipped or (grid, spatial) in self._warned:
            return
        message = (
            f"aligning the omics grid {tuple(grid)} onto the reference's spatial shape {tuple(spatial)} "
            f"({self.mode}) skips {skipped} of {int(np.prod(grid))} grid pixels: the features placed there "
            "never reach the network"
        )
        if not self.allow_skip:
            raise SkippedPixelsError(
                message + "; fit the layout on a grid that fits the image (OTLayout max_grid, "
                "a bundle's preprocessor#layout#max_grid) or pass allow_skip=True to accept "
                "the loss"
            )
        self._warned.add((grid, spatial))
        warnings.warn(message + " (allow_skip=True)", UserWarning, stacklevel=3)

    def __call__(
        self, img: torch.Tensor | np.ndarray, reference: torch.Tensor | np.ndarray, lazy: bool | None = None
    ) -> torch.Tensor:
        """Align ``img`` ``(C, *grid)`` onto ``reference``'s (pending) spatial grid.

        ``lazy`` is accepted for MONAI's lazy ``Compose``; the reference's pending shape is read either way.
        """
        if isinstance(img, MetaTensor) and img.has_pending_operations:
            img = apply_pending(img)[0]
        x = convert_to_tensor(img, dtype=torch.float32, track_meta=get_track_meta())
        grid = tuple(x.shape[1:])
        spatial = tuple(reference.peek_pending_shape() if isinstance(reference, MetaTensor) else reference.shape[1:])
        self._check_skip(grid, spatial)
        size, axis = self.plan(grid, spatial)
        out = self._resize(convert_to_tensor(x, track_meta=False), size)
        if axis is not None:
            shape = list(out.shape)
            shape.insert(axis + 1, spatial[axis])
            out = out.unsqueeze(axis + 1).expand(shape).contiguous()
        if not isinstance(x, MetaTensor):
            return out
        aligned = convert_to_dst_type(out, dst=x)[0]  # the map's own meta and applied_operations
        if isinstance(reference, MetaTensor):
            own = {k: v for k, v in aligned.meta.items() if k.startswith("omics_")}
            applied = aligned.applied_operations
            aligned = MetaTensor(out).copy_meta_from(reference)  # the reference's meta and affine
            aligned.affine = reference.peek_pending_affine().clone()
            aligned.clear_pending_operations()
            aligned.applied_operations = applied
            aligned.meta.update(own)
        extra = {"mode": self.mode, "axis": -1 if axis is None else axis, "affine": x.affine.clone()}
        return self.push_transform(aligned, orig_size=grid, extra_info=extra)

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        """Back onto the omics grid the map had: mean over a broadcast axis, then a resize with the same mode."""
        transform = self.pop_transform(data)
        extra = transform[TraceKeys.EXTRA_INFO]
        x = convert_to_tensor(data, track_meta=False)
        if extra["axis"] >= 0:
            x = x.mean(dim=extra["axis"] + 1)
        grid = tuple(int(g) for g in transform[TraceKeys.ORIG_SIZE])
        out = convert_to_dst_type(self._resize(x, grid), dst=data)[0]
        if isinstance(out, MetaTensor):
            out.affine = extra["affine"]
        return out

    def adjoint(self, attr: torch.Tensor | np.ndarray, grid: Sequence[int]) -> torch.Tensor:
        """Exact adjoint: maps ``(C, *reference_spatial)`` back to ``(C, *grid)``.

        Nearest: sums each output block into its source pixel (and the
        broadcast axis); linear modes: the vector-Jacobian product of the
        (linear) interpolation, so ``<T x, a> == <x, T* a>`` holds exactly.
        """
        a = torch.as_tensor(attr, dtype=torch.float64)
        a = a.as_tensor() if isinstance(a, MetaTensor) else a
        grid = tuple(int(g) for g in grid)
        size, axis = self.plan(grid, a.shape[1:])
        if axis is not None:
            a = a.sum(dim=axis + 1)
        return self._back(a, grid, size)

    def _back(self, a: torch.Tensor, grid: tuple[int, ...], size: tuple[int, ...]) -> torch.Tensor:
        """Adjoint of :meth:`_resize`: float64 ``(C, *size)`` -> ``(C, *grid)``."""
        if tuple(a.shape[1:]) == grid:
            return a
        if self.mode == "nearest":  # scatter-add each output pixel into its source pixel
            out = torch.zeros((a.shape[0], int(np.prod(grid))), dtype=a.dtype)
            out.index_add_(1, self._index(grid, size), a.reshape(a.shape[0], -1))
            return out.reshape((a.shape[0], *grid))
        x = torch.zeros((a.shape[0], *grid), dtype=torch.float64)
        _, vjp = torch.func.vjp(lambda v: self._resize(v, size), x)
        return vjp(a)[0]


class FuseChannels(Transform):
    """Concatenate image and omics tensors on the channel axis, recording which is which.

    Items whose meta holds ``omics_channels`` are omics; all of them must come
    after the image items. The result keeps the first item's meta, affine and
    ``applied_operations`` (so ``Invertd`` can take a map of the fused input
    back to the original image's geometry) and adds ``channel_names``,
    ``n_image_channels`` and the ``omics_*`` keys.

    Args:
        image_channel_names: names of the image channels (default
            ``image_0``, ``image_1``, ...).
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, image_channel_names: Sequence[str] | None = None) -> None:
        self.image_channel_names = None if image_channel_names is None else [str(n) for n in image_channel_names]

    def __call__(self, items: Sequence[torch.Tensor | np.ndarray]) -> MetaTensor:
        tensors = [torch.as_tensor(i) for i in items]
        spatial = {tuple(t.shape[1:]) for t in tensors}
        if len(spatial) != 1:
            raise ReferenceShapeError(f"cannot fuse items with different spatial shapes {sorted(spatial)}; align first")
        n_image, omics_names, omics_meta = 0, [], {}
        for item, t in zip(items, tensors, strict=True):
            meta = getattr(item, "meta", {})
            if "omics_channels" in meta:
                omics_names += list(meta["omics_channels"])
                omics_meta = {k: v for k, v in meta.items() if k.startswith("omics_")}
            elif omics_names:
                raise ValueError("image items must come before omics items when fusing channels")
            else:
                n_image += t.shape[0]
        if self.image_channel_names is not None and len(self.image_channel_names) != n_image:
            raise ValueError(f"{len(self.image_channel_names)} image channel names for {n_image} image channels")
        image_names = self.image_channel_names or [f"image_{i}" for i in range(n_image)]
        dtype = torch.promote_types(torch.float32, tensors[0].dtype)
        fused = torch.cat([t.to(dtype) for t in tensors], dim=0)
        fused = fused.as_tensor() if isinstance(fused, MetaTensor) else fused
        if not get_track_meta():
            return fused
        first = items[0]
        meta = {k: v for k, v in first.meta.items() if k != "affine"} if isinstance(first, MetaTensor) else {}
        meta.update(omics_meta)
        meta.update(
            {"channel_names": image_names + omics_names, "n_image_channels": n_image, "omics_channels": omics_names}
        )
        if not isinstance(first, MetaTensor):
            return MetaTensor(fused, meta=meta)
        return MetaTensor(
            fused, affine=first.affine.clone(), meta=meta, applied_operations=list(first.applied_operations)
        )
