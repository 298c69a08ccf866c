"""`hub_checkpoint_epoch_k`: epoch k's adapter, one commit in the training run's hub repo."""

import dataclasses
from pathlib import Path

import dagster as dg

from assets.epoch_keys import adapter_key, checkpoint_key, in_epoch
from pricer.release.checkpoints import PushedCheckpoint, push_checkpoint
from pricer.training.state_in_hub import epoch_state_on_this_machine
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
        run_dir, store = compute.run_dir(trained.run_key), hub.store()
        if not Path(trained.checkpoint_dir).is_dir():
            # A retry on a machine that did not train the epoch: its state is in the hub.
            repo_id = store.ensure_repo(trained.run_key)
            adapter_dir, fetched = epoch_state_on_this_machine(
                store, repo_id, run_dir / "trainer", trained.checkpoint_dir, epoch
            )
            if fetched:
                context.log.info(f"epoch {epoch}'s trainer state fetched from {repo_id}")
            trained = dataclasses.replace(trained, checkpoint_dir=adapter_dir)
        pushed = push_checkpoint(store, trained, run_dir / "push" / f"epoch_{epoch}")
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
