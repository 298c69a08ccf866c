from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from pricer.model.provenance import BaseModelOrigin, base_model_origin
from pricer.model.source import EMBEDDED, display_name, resolve_base_model
from resources.compute import default_home


class BaseModelResource(dg.ConfigurableResource):
    """The base model: "embedded" (SmolLM2-135M-Instruct, shipped in a package), a Hugging Face
    model id such as meta-llama/Llama-3.1-8B, or a local folder."""

    model_id: str = EMBEDDED
    cache_dir: str = Field(default="", description="converted models; defaults under PRICER_HOME")
    hf_token: str | None = Field(default=None, description="for gated models; set it by EnvVar")

    def path(self) -> str:
        if self.hf_token:
            # transformers reads the token from the environment; pricer never logs it.
            os.environ["HF_TOKEN"] = self.hf_token
        return resolve_base_model(self.model_id, Path(self.cache_dir or default_home()) / "models")

    def name(self) -> str:
        return display_name(self.model_id)

    def origin(self) -> BaseModelOrigin:
        """The package and file, Hub commit or folder the weights came from; after path()."""
        return base_model_origin(self.model_id)
