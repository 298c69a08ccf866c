"""Checkpoint stores with the Hugging Face Hub's shape: a local git store and the Hub itself."""

from pricer.hub.base import CHECKPOINT_FILES, CheckpointStore, HubRevision

__all__ = ["CHECKPOINT_FILES", "CheckpointStore", "HubRevision"]
