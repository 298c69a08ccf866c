"""Dagster resources: where the base model, checkpoints, tracking and compute come from."""

from resources.compute import ComputeResource
from resources.hub import HubResource
from resources.model_source import BaseModelResource
from resources.tracker import TrackerResource

__all__ = ["BaseModelResource", "ComputeResource", "HubResource", "TrackerResource"]
