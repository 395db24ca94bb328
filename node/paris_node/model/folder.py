"""Model folders (a diffusers-style directory, not the network's checkpoint): `config.json` beside `model.safetensors`.

Loading checks the config against the dataclass and every tensor's name and shape against the model the
config describes, so a checkpoint that does not fit its config fails with the file and tensor named.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

C = TypeVar("C")


class ModelFolderError(ValueError):
    """A model directory that cannot be loaded; the message names the file and what is wrong."""


def read_config(path: Path, cls: type[C]) -> C:
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{path}: cannot read config: {exc}") from exc
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ModelFolderError(f"{path}: unknown config keys {unknown} for {cls.__name__}")
    try:
        return cls(**raw)
    except (TypeError, ValueError) as exc:
        raise ModelFolderError(f"{path}: invalid {cls.__name__}: {exc}") from exc


def check_weights(path: Path, expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> None:
    """Every tensor the model needs is present with its shape, and nothing else is."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise ModelFolderError(f"{path}: does not match its config: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, tensor in expected.items():
        if found[name].shape != tensor.shape:
            raise ModelFolderError(f"{path}: tensor {name} has shape {tuple(found[name].shape)}, "
                                  f"its config needs {tuple(tensor.shape)}")


def save_module(module: nn.Module, config: Any, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(config), indent=2))
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))


def load_module(directory: Path, cls: type[nn.Module], config_cls: type[C]) -> nn.Module:
    """Build `cls(config)` from the directory's config and load its weights, checking they fit."""
    config = read_config(directory / CONFIG_FILE, config_cls)
    module = cls(config)
    weights_path = directory / WEIGHTS_FILE
    try:
        weights = load_file(str(weights_path))
    except (OSError, SafetensorError) as exc:
        raise ModelFolderError(f"{weights_path}: cannot read weights: {exc}") from exc
    check_weights(weights_path, module.state_dict(), weights)
    module.load_state_dict(weights)
    return module.eval()
