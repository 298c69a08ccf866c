"""The Hugging Face Hub as a checkpoint store: a (private) model repo per training run."""

from __future__ import annotations

import contextlib
from pathlib import Path

from huggingface_hub import HfApi, constants
from huggingface_hub.errors import (
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from pricer.hub.base import CHECKPOINT_FILES, ConcurrentPushError, HubRevision
from pricer.hub.files import checked_download

_BRANCH = "main"


class HuggingFaceStore:
    """Repos are `<namespace>/<name>`; the namespace defaults to the token's user.

    The token lives only inside the `HfApi` client: it is never logged, returned or put in a URL.
    """

    def __init__(
        self,
        token: str | None,
        namespace: str | None = None,
        private: bool = True,
        endpoint: str | None = None,
    ) -> None:
        # token=None lets huggingface_hub fall back to HF_TOKEN or the saved login.
        self._api = HfApi(endpoint=endpoint, token=token)
        self._namespace = namespace
        self._private = private

    def ensure_repo(self, name: str) -> str:
        _require_online("create a repo")
        if self._namespace is None:
            # Asked once, and only here: whoami is rate-limited, and building a store sends nothing.
            self._namespace = self._api.whoami()["name"]
        repo_id = f"{self._namespace}/{name}"
        # Privacy only applies at creation: an existing repo keeps its visibility.
        self._api.create_repo(repo_id, private=self._private, exist_ok=True)
        return repo_id

    def push_folder(self, repo_id: str, folder: Path, message: str) -> HubRevision:
        _require_online("push a checkpoint")
        if not any((Path(folder) / name).is_file() for name in CHECKPOINT_FILES):
            raise FileNotFoundError(f"none of {CHECKPOINT_FILES} in {folder}")
        # The Hub keeps a commit's subject and body apart, as git's first line and the rest.
        subject, _, body = message.partition("\n\n")
        # A checkpoint is a snapshot, as in the local store: drop checkpoint files it lacks.
        return self._push(repo_id, folder, _BRANCH, subject, body, list(CHECKPOINT_FILES))

    def push_branch(self, repo_id: str, folder: Path, branch: str, message: str) -> HubRevision:
        _require_online("push trainer state")
        if not any(p.is_file() for p in Path(folder).iterdir()):
            raise FileNotFoundError(f"no files in {folder}")
        self._api.create_branch(repo_id, branch=branch, exist_ok=True)
        # Everything the branch held is replaced, .gitattributes aside (the client keeps it).
        return self._push(repo_id, folder, branch, message, "", ["*"])

    def download_branch(self, repo_id: str, branch: str, dest: Path) -> Path | None:
        try:
            folder = self._api.snapshot_download(
                repo_id, revision=branch, local_dir=dest, ignore_patterns=[".gitattributes"]
            )
        except (RepositoryNotFoundError, RevisionNotFoundError):
            return None
        return checked_download(Path(folder), repo_id, branch)

    def download(self, repo_id: str, revision: str, dest: Path) -> Path:
        # Checkpoint files only: not the .gitattributes every Hub repo starts with.
        folder = self._api.snapshot_download(
            repo_id, revision=revision, local_dir=dest, allow_patterns=list(CHECKPOINT_FILES)
        )
        return checked_download(Path(folder), repo_id, revision)

    def tag(self, repo_id: str, revision: str, tag: str) -> None:
        """Point `tag` at `revision`, moving it if it exists (a champion changes over time)."""
        _require_online("tag a revision")
        try:
            self._api.create_tag(repo_id, tag=tag, revision=revision)
        except HfHubHTTPError as error:
            if error.response.status_code != 409:
                raise
            # Hub tags never move: replace the old one.
            self._api.delete_tag(repo_id, tag=tag)
            self._api.create_tag(repo_id, tag=tag, revision=revision)

    def untag(self, repo_id: str, tag: str) -> None:
        """Remove `tag` from the repo; a tag that is not there is already removed."""
        _require_online("remove a tag")
        with contextlib.suppress(RevisionNotFoundError):
            self._api.delete_tag(repo_id, tag=tag)

    def _push(
        self, repo_id: str, folder: Path, branch: str, subject: str, body: str, replaced: list[str]
    ) -> HubRevision:
        # The compare-and-swap of the local store: the Hub refuses (412) a commit whose parent is
        # no longer the branch head, so a commit another writer pushed meanwhile is kept.
        parent = self._head(repo_id, branch)
        try:
            info = self._api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                revision=branch,
                parent_commit=parent,
                commit_message=subject,
                commit_description=body or None,
                allow_patterns=replaced,
                delete_patterns=replaced,
            )
        except HfHubHTTPError as error:
            if error.response.status_code != 412:
                raise
            raise ConcurrentPushError.of(repo_id, parent, self._head(repo_id, branch)) from error
        # Identical files commit nothing, and the client answers with the head they are already in.
        return HubRevision(repo_id, info.oid, f"{self._api.endpoint}/{repo_id}/tree/{info.oid}")

    def _head(self, repo_id: str, branch: str = _BRANCH) -> str | None:
        return self._api.repo_info(repo_id, revision=branch).sha


def _require_online(action: str) -> None:
    # Refuse before reading any file, naming the action; the client would fail on its first URL.
    if constants.is_offline_mode():
        raise OfflineModeIsEnabled(
            f"cannot {action}: HF_HUB_OFFLINE is set; unset it or use the local hub store"
        )
