"""The names an epoch's three assets go by, and how the lineage graph groups and tags them."""

from assets.partitions import training_runs

# One GPU trains one run at a time: every training step shares this pool.
TRAINING_POOL = "pricer_training"


def adapter_key(epoch: int) -> str:
    return f"lora_adapter_epoch_{epoch}"


def checkpoint_key(epoch: int) -> str:
    return f"hub_checkpoint_epoch_{epoch}"


def scores_key(epoch: int) -> str:
    return f"scores_epoch_{epoch}"


# Every epoch's assets in one group. Dagster 1.13 draws group boxes with their status counts
# (failed checks in red) only while few enough groups share the graph; with one group an epoch
# the opening graph is zoomed out to bare names. Opened, the group shows every epoch's nodes,
# each epoch's scores red when its overfitting check failed.
TRAINING_GROUP = "training"


def epoch_tags(epoch: int) -> dict[str, str]:
    # Shown on every node of the epoch and searchable in the catalog (tag:epoch=3).
    return {"epoch": str(epoch)}


def every_epochs_scores(max_epochs: int) -> list[str]:
    """What the run's verdicts read: each epoch's scores, however many the run trained."""
    return [scores_key(epoch) for epoch in range(1, max_epochs + 1)]


def in_epoch(epoch: int) -> dict:
    """What every asset of an epoch shares: the run's partition, the epoch's group and tag."""
    return {
        "partitions_def": training_runs,
        "group_name": TRAINING_GROUP,
        "tags": epoch_tags(epoch),
    }
