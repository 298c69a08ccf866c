"""A checkpoint store on local disk with the Hub's shape: a git repository per training run,
one commit per checkpoint, revisions addressable by commit sha."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pricer.hub.base import CHECKPOINT_FILES, HubRevision

_IDENTITY = {
    "GIT_AUTHOR_NAME": "pricer",
    "GIT_AUTHOR_EMAIL": "pricer@localhost",
    "GIT_COMMITTER_NAME": "pricer",
    "GIT_COMMITTER_EMAIL": "pricer@localhost",
}
_BRANCH = "refs/heads/main"


class LocalGitStore:
    def __init__(self, root: Path, namespace: str = "local") -> None:
        self.root = Path(root)
        self.namespace = namespace

    def ensure_repo(self, name: str) -> str:
        repo_id = f"{self.namespace}/{name}"
        path = self._path(repo_id)
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            self._git(path, "init", "--quiet", "--bare", "--initial-branch=main")
        return repo_id

    def push_folder(self, repo_id: str, folder: Path, message: str) -> HubRevision:
        path = self._path(repo_id)
        parent = self._head(path)
        # A private index: nothing is visible in the repo until the final ref update.
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            for name in CHECKPOINT_FILES:
                source = Path(folder) / name
                if source.is_file():
                    blob = self._git(path, "hash-object", "-w", str(source))
                    self._git(path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}",
                               env=env)
            tree = self._git(path, "write-tree", env=env)
        if parent and self._git(path, "rev-parse", f"{parent}^{{tree}}") == tree:
            return self._revision(repo_id, parent)  # same files again: no new commit
        commit = self._git(
            path, "commit-tree", tree, "-m", message, *(["-p", parent] if parent else [])
        )
        self._move_branch(path, commit, parent)
        return self._revision(repo_id, commit)

    def download(self, repo_id: str, revision: str, dest: Path) -> Path:
        """Check the revision out to a folder: PEFT's `revision=` only works against the Hub."""
        dest = Path(dest)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(self._path(repo_id)), "archive", "--format=tar", revision],
            check=True, capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return dest

    def list_revisions(self, repo_id: str) -> list[str]:
        path = self._path(repo_id)
        if not self._head(path):
            return []
        return self._git(path, "rev-list", _BRANCH).split()

    def tag(self, repo_id: str, revision: str, tag: str) -> None:
        self._git(self._path(repo_id), "tag", "--force", tag, revision)

    def _move_branch(self, path: Path, commit: str, parent: str | None) -> None:
        # Compare-and-swap: fails rather than losing a commit pushed in between.
        self._git(path, "update-ref", _BRANCH, commit, parent or "0" * 40)

    def _head(self, path: Path) -> str | None:
        found = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--verify", "--quiet", _BRANCH],
            capture_output=True, text=True,
        )
        return found.stdout.strip() or None

    def _revision(self, repo_id: str, commit: str) -> HubRevision:
        return HubRevision(repo_id, commit, f"file://{self._path(repo_id)}?revision={commit}")

    def _path(self, repo_id: str) -> Path:
        return self.root / repo_id

    @staticmethod
    def _git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(
            ["git", "-C", str(path), *args],
            check=True, capture_output=True, text=True,
            env={**os.environ, **_IDENTITY, **(env or {})},
        ).stdout.strip()
