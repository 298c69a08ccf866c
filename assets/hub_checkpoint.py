"""`hub_checkpoint_epoch_k`: epoch k's adapter, one commit in the training run's hub repo."""

import dagster as dg

from assets.epoch_keys import adapter_key, checkpoint_key, in_epoch
from pricer.release.checkpoints import PushedCheckpoint, push_checkpoint
from pricer.training.trained_epoch import TrainedEpoch
from resources import ComputeResource, HubResource


def build_checkpoint_asset(epoch: int) -> dg.AssetsDefinition:
    @dg.asset(
        name=checkpoint_key(epoch),
        ins={"trained": dg.AssetIn(adapter_key(epoch))},
        kinds={"huggingface"},
        code_version="2",
        **in_epoch(epoch),
        description=f"Epoch {epoch}'s adapter pushed as one commit to the training run's hub repo "
        "in PEFT format, loadable again by its revision; its scores add the model card on top.",
    )
    def hub_checkpoint(
        context: dg.AssetExecutionContext,
        hub: HubResource,
        compute: ComputeResource,
        trained: TrainedEpoch,
    ) -> dg.Output[PushedCheckpoint]:
        staging = compute.run_dir(trained.run_key) / "push" / f"epoch_{epoch}"
        pushed = push_checkpoint(hub.store(), trained, staging)
        revision = pushed.revision
        context.log.info(f"pushed epoch {epoch} to {revision.repo_id}@{revision.revision[:12]}")
        return dg.Output(
            pushed,
            data_version=dg.DataVersion(revision.revision),
            metadata={
                "epoch": epoch,
                "repo_id": revision.repo_id,
                "revision": revision.revision,
                "commit": dg.MetadataValue.url(revision.url),
            },
        )

    return hub_checkpoint
