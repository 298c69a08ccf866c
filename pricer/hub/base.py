"""What every checkpoint store offers: a repo per training run, a commit per checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# What PEFT needs to load an adapter; a checkpoint adds its model card once it has been scored.
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
CHECKPOINT_FILES = (*ADAPTER_FILES, "README.md")


@dataclass(frozen=True)
class HubRevision:
    """One pushed checkpoint: enough to find it again and to load it."""

    repo_id: str
    revision: str
    url: str


class ConcurrentPushError(RuntimeError):
    """Another writer moved the repo's branch during a push; the push committed nothing."""

    @classmethod
    def of(cls, repo_id: str, read: str | None, now: str | None) -> ConcurrentPushError:
        return cls(
            f"{repo_id} moved from {read} to {now} while this checkpoint was being pushed: "
            "another writer pushed to it. Nothing was committed: push the checkpoint again"
        )


class CheckpointStore(Protocol):
    def ensure_repo(self, name: str) -> str:
        """Create the repo if missing (private where the store has privacy); return its id."""
        ...

    def push_folder(self, repo_id: str, folder: Path, message: str) -> HubRevision:
        """Commit the checkpoint files found in `folder`; return the new revision."""
        ...

    def download(self, repo_id: str, revision: str, dest: Path) -> Path:
        """Materialize the files of `revision` into `dest` and return the folder."""
        ...

    def tag(self, repo_id: str, revision: str, tag: str) -> None:
        """Point `tag` at `revision`, moving it if it exists."""
        ...

    def push_branch(self, repo_id: str, folder: Path, branch: str, message: str) -> HubRevision:
        """Commit every file in `folder` as the whole of `branch`, creating it if missing: state
        kept beside the checkpoints, never mixed into their history on main."""
        ...

    def download_branch(self, repo_id: str, branch: str, dest: Path) -> Path | None:
        """Materialize the files of `branch` into `dest`; None if the repo or branch is missing."""
        ...

    def untag(self, repo_id: str, tag: str) -> None:
        """Remove `tag` from the repo; a tag that is not there is already removed."""
        ...
