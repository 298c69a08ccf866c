"""A checkpoint store on local disk with the Hub's shape: a git repository per training run,
one commit per checkpoint, revisions addressable by commit sha."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from pricer.hub.base import CHECKPOINT_FILES, ConcurrentPushError, HubRevision
from pricer.hub.files import checked_download
from pricer.training.pause_points import pause_at

# A fixed identity and no user or system config: commits work on a machine with no git setup, and
# settings such as core.autocrlf cannot change the bytes that get checked out.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "pricer",
    "GIT_AUTHOR_EMAIL": "pricer@localhost",
    "GIT_COMMITTER_NAME": "pricer",
    "GIT_COMMITTER_EMAIL": "pricer@localhost",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
_BRANCH = "refs/heads/main"


class LocalGitStore:
    """Bare repositories under `root/<namespace>/<name>`; repo ids are `<namespace>/<name>`."""

    def __init__(self, root: Path, namespace: str = "local") -> None:
        self.root = Path(root)
        self.namespace = namespace

    def ensure_repo(self, name: str) -> str:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"repo name must be a single path component, got {name!r}")
        repo_id = f"{self.namespace}/{name}"
        path = self.root / repo_id
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            _git(path, "init", "--quiet", "--bare", "--initial-branch=main")
        return repo_id

    def push_folder(self, repo_id: str, folder: Path, message: str) -> HubRevision:
        """Commit the checkpoint files of `folder` as one commit; the same files again add none."""
        names = [name for name in CHECKPOINT_FILES if (Path(folder) / name).is_file()]
        if not names:
            raise FileNotFoundError(f"none of {CHECKPOINT_FILES} in {folder}")
        return self._commit_files(repo_id, _BRANCH, Path(folder), names, message, "hub_push")

    def push_branch(self, repo_id: str, folder: Path, branch: str, message: str) -> HubRevision:
        entries = list(Path(folder).iterdir())
        if any(entry.is_dir() for entry in entries):
            # Trees of one level only: what the Trainer writes. Refused rather than left out.
            raise ValueError(f"{folder} holds folders; the local store keeps flat folders only")
        names = sorted(entry.name for entry in entries)
        if not names:
            raise FileNotFoundError(f"no files in {folder}")
        return self._commit_files(repo_id, f"refs/heads/{branch}", Path(folder), names, message)

    def download_branch(self, repo_id: str, branch: str, dest: Path) -> Path | None:
        if not (self.root / repo_id / "HEAD").is_file():
            return None
        if not self._head(self.root / repo_id, f"refs/heads/{branch}"):
            return None
        return self.download(repo_id, f"refs/heads/{branch}", dest)

    def download(self, repo_id: str, revision: str, dest: Path) -> Path:
        """Check the revision out to a folder: PEFT's `revision=` only works against the Hub.

        Like the Hub's `snapshot_download(local_dir=...)`, files are written over `dest`: give each
        revision a folder of its own.
        """
        path = self._repo(repo_id)
        commit = self._commit(path, revision)
        dest = Path(dest).resolve()
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            # A throwaway index: the bare repo has none, and readers must not share one.
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), "GIT_WORK_TREE": str(dest)}
            _git(path, "read-tree", commit, env=env)
            _git(path, "checkout-index", "--all", "--force", env=env)
        return checked_download(dest, repo_id, revision)

    def history(self, repo_id: str) -> list[tuple[str, str]]:
        """(revision, commit message) of every pushed revision, newest first."""
        path = self._repo(repo_id)
        if not self._head(path):
            return []
        log = _git(path, "log", "--first-parent", "--format=%H %s", _BRANCH)
        entries = (line.partition(" ") for line in log.splitlines())
        return [(revision, message) for revision, _, message in entries]

    def tag(self, repo_id: str, revision: str, tag: str) -> None:
        """Point `tag` at `revision`, moving it if it exists (a champion changes over time)."""
        path = self._repo(repo_id)
        _git(path, "tag", "--force", tag, self._commit(path, revision))

    def untag(self, repo_id: str, tag: str) -> None:
        """Remove `tag` from the repo; a tag that is not there is already removed."""
        path = self._repo(repo_id)
        if _git(path, "tag", "--list", tag):
            _git(path, "tag", "--delete", tag)

    def _commit_files(
        self,
        repo_id: str,
        ref: str,
        folder: Path,
        names: list[str],
        message: str,
        pause_point: str | None = None,
    ) -> HubRevision:
        path = self._repo(repo_id)
        parent = self._head(path, ref)
        # Objects only: blobs and a tree are invisible to readers until the branch moves.
        sources = [str(folder / name) for name in names]
        blobs = _git(path, "hash-object", "-w", "--no-filters", "--", *sources).split()
        listing = "".join(
            f"100644 blob {blob}\t{name}\n" for blob, name in zip(blobs, names, strict=True)
        )
        tree = _git(path, "mktree", stdin=listing)
        if parent and _git(path, "rev-parse", f"{parent}^{{tree}}") == tree:
            return self._revision(repo_id, parent)
        commit = _git(path, "commit-tree", tree, "-m", message, *(["-p", parent] if parent else []))
        if pause_point:
            # Everything is written, nothing published: a process killed here changes no revision.
            pause_at(pause_point, commit=commit)
        self._move_branch(path, ref, commit, parent)
        return self._revision(repo_id, commit)

    def _move_branch(self, path: Path, ref: str, commit: str, parent: str | None) -> None:
        # The one step that publishes a push. Compare-and-swap: fails rather than dropping a commit
        # pushed in between; an empty old value means the branch must not exist yet.
        try:
            _git(path, "update-ref", ref, commit, parent or "")
        except RuntimeError as error:
            now = self._head(path, ref)
            # The branch moved, or another writer holds its lock mid-move: either way, a race.
            if now == parent and "cannot lock ref" not in str(error):
                raise
            raise ConcurrentPushError.of(
                path.relative_to(self.root).as_posix(), parent, now
            ) from error

    def _head(self, path: Path, ref: str = _BRANCH) -> str | None:
        return _git(path, "rev-parse", "--verify", "--quiet", ref, check=False) or None

    def _commit(self, path: Path, revision: str) -> str:
        commit = _git(
            path, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False
        )
        if not commit:
            raise LookupError(f"no revision {revision!r} in {path}")
        return commit

    def _repo(self, repo_id: str) -> Path:
        path = self.root / repo_id
        if not (path / "HEAD").is_file():
            raise FileNotFoundError(
                f"no repo {repo_id!r} under {self.root}; call ensure_repo first"
            )
        return path

    def _revision(self, repo_id: str, commit: str) -> HubRevision:
        url = f"{(self.root / repo_id).resolve().as_uri()}?revision={commit}"
        return HubRevision(repo_id, commit, url)


def _git(
    path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    check: bool = True,
) -> str:
    # Drop inherited GIT_* variables (e.g. GIT_DIR when run from a hook): they would redirect us.
    base = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    done = subprocess.run(
        ["git", "-C", str(path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **_GIT_ENV, **(env or {})},
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed in {path}: {done.stderr.strip()}")
    return done.stdout.strip()
