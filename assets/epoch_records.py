"""The one reader of a training run's results: the values its steps stored, loaded back through
their IO manager, typed and at full precision. Metadata is for people; decisions read these.

A run may train fewer epochs than the code location has assets for, or stop early, so the
epochs are read from what the instance holds rather than wired in as inputs.
"""

import dagster as dg

from assets.epoch_keys import scores_key
from pricer.evaluation.epoch_record import EpochRecord


def _materialized(instance: dg.DagsterInstance, asset: str, run_key: str) -> bool:
    return bool(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[run_key]),
            limit=1,
        ).records
    )


def stored_value(context: dg.AssetExecutionContext, asset: str, run_key: str) -> object | None:
    """What an asset's newest materialization for the run stored, or None if it has none."""
    if not _materialized(context.instance, asset, run_key):
        return None
    return context.repository_def.load_asset_value(
        asset, partition_key=run_key, instance=context.instance
    )


def epoch_records(
    context: dg.AssetExecutionContext, run_key: str, through_epoch: int
) -> list[EpochRecord]:
    """Every scored epoch of the run from 1 to `through_epoch`, in order."""
    scored = [
        epoch
        for epoch in range(1, through_epoch + 1)
        if _materialized(context.instance, scores_key(epoch), run_key)
    ]
    records = []
    with context.repository_def.get_asset_value_loader(instance=context.instance) as loader:
        for epoch in scored:
            record = loader.load_asset_value(scores_key(epoch), partition_key=run_key)
            if not isinstance(record, EpochRecord):
                raise TypeError(
                    f"{scores_key(epoch)} of {run_key} holds a {type(record).__name__}, not an "
                    "EpochRecord: materialize it again to score it anew"
                )
            records.append(record)
    return records
