"""How MONAI Label's ``BundleInferTask`` loads a bundle and predicts, without the monailabel package.

monailabel 0.8.5 cannot be installed beside this stack (it needs torchvision, whose PyPI build
does not import with torch 2.13 CPU, and numpy < 2), so the bundle tests replay the steps of
``monailabel/tasks/infer/bundle.py`` and ``basic_infer.py`` (MONAILabel commit 058ddfc4)
that touch the bundle:

- ``configs/inference.json`` read with ``ConfigParser``, ``bundle_root`` set to the bundle folder;
- ``network_def`` instantiated with the config's defaults when ``models/model.pt`` exists
  (its state dict loaded, under ``"model"`` if nested), else ``models/model.ts`` through
  ``torch.jit.load``;
- the first ``_meta_.network_data_format`` input / output keys name the image and the prediction,
  the output ``channel_def`` gives the labels;
- ``device`` from the request replaces the config's;
- ``preprocessing`` instantiated, each ``LoadImaged`` wrapped as monailabel's ``LoadImageTensord``
  (an image that is not a path is taken as already loaded, channel-last, with an optional
  ``<key>_meta_dict``); ``postprocessing`` with ``SaveImaged`` removed;
- the transforms run one by one on the request dict, the network on the preprocessed image with
  a batch axis added and removed, ``inferer`` from the config, then monailabel's
  ``ClassificationWriter`` result (``{"prediction": [{"idx", "label", "score"}]}``).

Classification apps in MONAI Label pass ``type="classification", add_post_restore=False``
(e.g. the pathology and endoscopy sample apps), so the segmentation-only ``Restored`` step is not replayed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigItem, ConfigParser
from monai.data import MetaTensor
from monai.transforms import Compose, LoadImaged, SaveImaged


def _load_image_tensord(load: LoadImaged):
    """monailabel.transform.pre.LoadImageTensord: arrays pass as channel-last MetaTensors, paths are loaded."""

    def transform(data: dict) -> dict:
        d = dict(data)
        loaded = False
        for key in load.keys:
            if not isinstance(d[key], str):
                meta = d.setdefault(f"{key}_meta_dict", {})
                meta["spatial_shape"] = d[key].shape[:-1]
                meta["original_channel_dim"] = -1
                meta["original_affine"] = None
                d[key] = MetaTensor(d[key], meta=meta)
                loaded = True
        return d if loaded else load(d)

    return transform


class BundleInferTask:
    """The inference path of MONAI Label's ``BundleInferTask`` for one bundle folder."""

    def __init__(self, path: str | Path, type: str = "classification", load_strict: bool = False) -> None:
        self.path = Path(path)
        self.type = type
        self.config = ConfigParser()
        self.config.read_config(str(self.path / "configs" / "inference.json"))
        self.config.config.update({"bundle_root": str(self.path)})
        self.config.config["use_click"] = False
        self.model_path = self.path / "models" / "model.pt"
        self.network = None
        if self.model_path.exists():
            self.network = self.config.get_parsed_content("network_def", instantiate=True)
        else:
            self.model_path = self.path / "models" / "model.ts"
            if not self.model_path.exists():
                raise FileNotFoundError(f"{self.path}: neither models/model.pt nor models/model.ts")
        metadata = json.loads((self.path / "configs" / "metadata.json").read_text())
        self.key_image = next(iter(metadata["network_data_format"]["inputs"]))
        self.key_pred, pred = next(iter(metadata["network_data_format"]["outputs"].items()))
        self.labels = {v.lower(): int(k) for k, v in pred.get("channel_def", {}).items() if v.lower() != "background"}
        self.load_strict = load_strict

    def _update_device(self, data: dict) -> None:
        device = data.get("device")
        if device:
            self.config.config.update({"device": device})
            if self.config.ref_resolver.items.get("device"):
                self.config.ref_resolver.items["device"] = ConfigItem(config=device, id="device")

    def _transforms(self, key: str, data: dict, drop: tuple[type, ...] = ()) -> list:
        self._update_device(data)
        found = self.config.get_parsed_content(key, instantiate=True) if self.config.get(key) else []
        transforms = list(found.transforms) if isinstance(found, Compose) else list(found)
        return [t for t in transforms if not isinstance(t, drop)]

    def pre_transforms(self, data: dict) -> list:
        pre = self._transforms("preprocessing", data)
        for t in pre:
            if isinstance(t, LoadImaged):
                t._loader.image_only = False
        return [_load_image_tensord(t) if isinstance(t, LoadImaged) else t for t in pre]

    def post_transforms(self, data: dict) -> list:
        return self._transforms("postprocessing", data, drop=(SaveImaged,))

    def inferer(self, data: dict):
        self._update_device(data)
        return self.config.get_parsed_content("inferer", instantiate=True)

    def _get_network(self, device: str) -> torch.nn.Module:
        if self.network is not None:
            network = copy.deepcopy(self.network).to(torch.device(device))
            checkpoint = torch.load(self.model_path, map_location=torch.device(device), weights_only=True)
            network.load_state_dict(checkpoint.get("model", checkpoint), strict=self.load_strict)
        else:
            network = torch.jit.load(self.model_path, map_location=torch.device(device))
        return network.eval()

    def __call__(self, request: dict[str, Any]) -> tuple[dict, dict]:
        """Pre-transforms, inferer, post-transforms, ClassificationWriter; returns (data, result json)."""
        data = {"device": "cpu", **request}
        device = data["device"]
        for t in self.pre_transforms(data):
            data = t(data)
        inputs = data[self.key_image]
        inputs = (inputs if torch.is_tensor(inputs) else torch.from_numpy(inputs))[None].to(device)
        with torch.no_grad():
            outputs = self.inferer(data)(inputs, self._get_network(device))
        data[self.key_pred] = outputs[0]
        for t in self.post_transforms(data):
            data = t(data)
        names = {v: k for k, v in self.labels.items()}
        scores = enumerate(data[self.key_pred])
        prediction = [{"idx": i, "label": names[i], "score": float(s)} for i, s in scores if names.get(i)]
        return data, {"prediction": prediction}
