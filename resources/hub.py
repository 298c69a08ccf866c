from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from pricer.hub import CheckpointStore
from resources.compute import default_home

KINDS = ("local", "huggingface")


class HubResource(dg.ConfigurableResource):
    """Where checkpoints go: the local git-backed store (default) or the Hugging Face Hub.

    The choice is this setting alone: an HF token present in the environment switches nothing.
    """

    kind: str = Field(default="local", description="local or huggingface")
    local_root: str = Field(default="", description="local store; defaults under PRICER_HOME")
    namespace: str | None = Field(default=None, description="Hub user or org; default: the token's")
    private: bool = True
    token: str | None = Field(default=None, description="HF token for kind=huggingface, by EnvVar")
    endpoint: str | None = Field(default=None, description="a Hub-compatible server's URL")

    def store(self) -> CheckpointStore:
        if self.kind == "local":
            from pricer.hub.local_git import LocalGitStore

            return LocalGitStore(Path(self.local_root or default_home()) / "hub")
        if self.kind == "huggingface":
            from pricer.hub.hugging_face import HuggingFaceStore

            return HuggingFaceStore(
                token=self.token,
                namespace=self.namespace,
                private=self.private,
                endpoint=self.endpoint,
            )
        raise ValueError(f"hub kind must be one of {KINDS}, got {self.kind!r}")
