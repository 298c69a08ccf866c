"""An epoch's checkpoint in its run's hub repo: the adapter in one commit, its model card with the
epoch's scores in the next, and the commit messages by which an epoch is found again."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from pricer.evaluation.epoch_record import EpochRecord
from pricer.evaluation.epoch_scoring import ScoredCheckpoint
from pricer.hub.base import ADAPTER_FILES, CheckpointStore, HubRevision
from pricer.hub.files import copy_files
from pricer.release.model_card import model_card
from pricer.training.settings import TrainingSettings
from pricer.training.trained_epoch import StepHistory, TrainedEpoch

# The hub tag on a training run's best checkpoint, so it can be loaded without knowing its epoch.
BEST_TAG = "best"


@dataclass(frozen=True)
class PushedCheckpoint:
    run_key: str
    epoch: int
    revision: HubRevision  # the adapter's own commit
    train_loss: float
    settings: TrainingSettings
    history: StepHistory
    validation_loss: float = math.nan  # NaN for checkpoints pushed before it was kept


def checkpoint_message(run_key: str, epoch: int) -> str:
    """The commit message of an epoch's checkpoint: how an epoch is found again in its repo."""
    return f"{run_key}: epoch {epoch}"


def model_card_message(run_key: str, epoch: int) -> str:
    """The epoch's second commit adds its model card, scores included. Its subject is the
    checkpoint's, so finding an epoch by message finds this, its newest commit, first."""
    return f"{checkpoint_message(run_key, epoch)}\n\nModel card with validation and test scores."


def push_checkpoint(
    store: CheckpointStore, trained: TrainedEpoch, staging: Path
) -> PushedCheckpoint:
    """The epoch's adapter alone, as one commit to the run's repo. The trainer's folder also
    holds PEFT's own card; the card worth pushing needs scores the checkpoint has yet to get."""
    copy_files(Path(trained.checkpoint_dir), staging, ADAPTER_FILES)
    repo_id = store.ensure_repo(trained.run_key)
    message = checkpoint_message(trained.run_key, trained.epoch)
    revision = store.push_folder(repo_id, staging, message)
    return PushedCheckpoint(
        trained.run_key,
        trained.epoch,
        revision,
        trained.train_loss,
        trained.settings,
        trained.history,
        trained.validation_loss,
    )


def push_model_card(
    store: CheckpointStore,
    record: EpochRecord,
    history: list[EpochRecord],
    adapter_dir: Path,
    staging: Path,
    base_model_name: str,
    dataset_version: str,
    base_origin: str = "",
) -> EpochRecord:
    """Commit the epoch's model card over its adapter; returns the record naming that commit,
    the one users load. `history` holds the run's earlier epochs, for the card's table."""
    copy_files(adapter_dir, staging, ADAPTER_FILES)
    (staging / "README.md").write_text(
        model_card(base_model_name, [*history, record], dataset_version, base_origin)
    )
    message = model_card_message(record.run_key, record.epoch)
    card = store.push_folder(record.revision.repo_id, staging, message)
    return dataclasses.replace(record, revision=card)


def scored_record(
    pushed: PushedCheckpoint, scored: ScoredCheckpoint, precision: str
) -> EpochRecord:
    """The epoch's record as scored in `precision`, the run's (model/precision.py), naming the
    adapter's commit until its card is pushed."""
    return EpochRecord(
        run_key=pushed.run_key,
        epoch=pushed.epoch,
        train_loss=pushed.train_loss,
        validation_loss=pushed.validation_loss,
        revision=pushed.revision,
        settings=pushed.settings,
        predictions=scored.predictions,
        history=pushed.history,
        precision=precision,
        **scored.scores(),
    )
