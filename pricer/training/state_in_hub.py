"""Each epoch's trainer state, kept in the run's hub repo as well as on local disk.

A retry that lands on another machine (a cluster node, a new spot machine) finds no trainer state
under its own PRICER_HOME, yet epoch k+1 needs epoch k's whole checkpoint (adapter, optimizer,
scheduler and RNG state) to train as one continuous run would. So each epoch's end is also pushed
to a branch of the run's repo, `trainer-state-epoch-<k>`, beside the checkpoints on main and never
in their history, and it is fetched from there when the local copy is missing. Local files stay a
cache. Step checkpoints within an epoch stay local: a retry on another machine redoes the epoch in
progress from its start, with the same losses. The branches stay after the run: delete them once
its champion is chosen if the optimizer state is not worth keeping.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pricer.hub.base import CheckpointStore, HubRevision
from pricer.training import step_checkpoints


def state_branch(epoch: int) -> str:
    return f"trainer-state-epoch-{epoch}"


def keep_epoch_state(
    store: CheckpointStore, repo_id: str, checkpoint: Path, epoch: int
) -> HubRevision:
    """Push the trainer checkpoint that ended `epoch` to its branch, replacing what was there."""
    if not (checkpoint / "trainer_state.json").is_file():
        raise FileNotFoundError(f"{checkpoint} holds no trainer state to keep")
    message = f"trainer state at the end of epoch {epoch} (global step {_global_step(checkpoint)})"
    return store.push_branch(repo_id, checkpoint, state_branch(epoch), message)


def epoch_state_on_this_machine(
    store: CheckpointStore, repo_id: str, trainer_dir: Path, recorded: Path, epoch: int
) -> tuple[Path, bool]:
    """The state that ended `epoch`, recorded at `recorded` by the machine that trained it, where
    this machine keeps it under `trainer_dir`; fetched from the hub when it is not there."""
    here = trainer_dir / f"epoch_{epoch}" / Path(recorded).name
    return epoch_state_here(store, repo_id, here, epoch)


def epoch_state_here(
    store: CheckpointStore, repo_id: str, checkpoint: Path, epoch: int
) -> tuple[Path, bool]:
    """`checkpoint`, the trainer state that ended `epoch`, and whether it had to be fetched: from
    the hub into that very place when local disk lacks it, published whole as the trainer's own
    checkpoints are (a fetch cut short leaves nothing that looks complete)."""
    if (checkpoint / "trainer_state.json").is_file():
        return checkpoint, False
    staged = checkpoint.parent / step_checkpoints.UNPUBLISHED / checkpoint.name
    shutil.rmtree(staged, ignore_errors=True)
    shutil.rmtree(checkpoint, ignore_errors=True)  # a folder without trainer state is no resume
    branch = state_branch(epoch)
    if store.download_branch(repo_id, branch, staged) is None:
        raise FileNotFoundError(
            f"the trainer state that ended epoch {epoch} is neither at {checkpoint} nor on branch "
            f"{branch} of {repo_id}: materialize the run's epochs again from epoch 1"
        )
    # The Hub client's download bookkeeping is no part of a checkpoint.
    shutil.rmtree(staged / ".cache", ignore_errors=True)
    expected = step_checkpoints.step_of(checkpoint)
    found = _global_step(staged)
    if found != expected:
        raise ValueError(
            f"{repo_id}@{branch} holds the state of global step {found}, not {expected}, where "
            f"epoch {epoch} ended: it was trained again since; materialize the later epochs again"
        )
    return step_checkpoints.publish(checkpoint.parent, expected), True


def _global_step(checkpoint: Path) -> int:
    return json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]
