"""One asset per epoch for the adapter, its hub checkpoint and its scores.

Dagster refuses an asset that depends on itself unless it is time-partitioned, so "epoch k resumes
from epoch k-1" is spelled out as k assets of each kind, up to a max_epochs fixed when the code
location loads.
"""

import dagster as dg

from assets.epoch_scores import build_scores_asset
from assets.hub_checkpoint import build_checkpoint_asset
from assets.lora_adapter import build_adapter_asset


def build_epoch_assets(max_epochs: int) -> list[dg.AssetsDefinition]:
    assets: list[dg.AssetsDefinition] = []
    for epoch in range(1, max_epochs + 1):
        assets += [
            build_adapter_asset(epoch, max_epochs),
            build_checkpoint_asset(epoch),
            build_scores_asset(epoch),
        ]
    return assets
