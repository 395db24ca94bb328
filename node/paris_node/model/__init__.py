"""The video diffusion model: a space-time DiT (`dit`), rectified flow and its samplers (`flow`), the router
over experts (`router`), sampling pipelines (`pipeline`) and diffusers-style model folders (`folder`).

Pure torch, no network: a model trained on the market is sampled here like any other.
"""

from paris_node.model.dit import DiTConfig, VideoDiT, named_config
from paris_node.model.pipeline import Pipeline

__all__ = ["DiTConfig", "Pipeline", "VideoDiT", "named_config"]
