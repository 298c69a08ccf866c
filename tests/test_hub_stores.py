"""Both checkpoint stores against the same contract, then what is particular to each.

The Hugging Face store runs the real `huggingface_hub` client over HTTP against tests/hub_server.py;
nothing in the client is patched. As on the Hub, the weights go through Git LFS.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError

import numpy as np
import pytest
from hub_server import HubState, Repo, start_hub_server
from huggingface_hub import constants
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from safetensors.numpy import save

from pricer.hub import CHECKPOINT_FILES
from pricer.hub.base import ConcurrentPushError
from pricer.hub.hugging_face import HuggingFaceStore
from pricer.hub.local_git import LocalGitStore
from pricer.model.weight_files import DamagedWeights

TOKEN = "hf_pricerTestTokenDoNotLeak"


def write_checkpoint(folder: Path, epoch: int) -> dict[str, bytes]:
    """A small fake adapter plus trainer state; return the files a store must keep."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = {
        "adapter_config.json": b'{"r": 8, "lora_alpha": 16, "peft_type": "LORA"}\n',
        "adapter_model.safetensors": save({"lora_A": np.full((5, 50), epoch, dtype=np.uint8)}),
        "README.md": f"---\nlicense: apache-2.0\n---\n# epoch {epoch}\n".encode(),
    }
    for name, content in kept.items():
        (folder / name).write_bytes(content)
    (folder / "optimizer.pt").write_bytes(b"optimizer state %d" % epoch)
    return kept


def checkpoint_bytes(folder: Path) -> dict[str, bytes]:
    return {
        name: (folder / name).read_bytes() for name in CHECKPOINT_FILES if (folder / name).exists()
    }


@contextmanager
def lfs_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, HubState]]:
    """The test hub with `*.safetensors` in Git LFS, and a client that takes that path.

    With hf_xet installed the client would send LFS files through Xet, which the test hub does not
    speak. HF_HUB_DISABLE_XET is read when huggingface_hub is imported: set what it set.
    """
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    with start_hub_server(TOKEN, lfs=True) as served:
        yield served


@pytest.fixture(params=["local", "huggingface"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        yield LocalGitStore(tmp_path / "hub")
    else:
        with lfs_hub(monkeypatch) as (url, _):
            yield HuggingFaceStore(TOKEN, endpoint=url)


@pytest.fixture
def hub(monkeypatch):
    with lfs_hub(monkeypatch) as served:
        yield served


# --- the contract both stores keep -------------------------------------------------------------


def test_each_epoch_is_a_revision_that_downloads_its_own_bytes(store, tmp_path):
    repo_id = store.ensure_repo("run-a")
    first = write_checkpoint(tmp_path / "epoch-1", 1)
    second = write_checkpoint(tmp_path / "epoch-2", 2)

    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    two = store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")

    assert one.repo_id == two.repo_id == repo_id
    assert one.revision != two.revision
    assert all(len(rev.revision) == 40 for rev in (one, two))
    assert one.revision in one.url and two.revision in two.url
    # Oldest first, so a newer push cannot satisfy the older revision by accident.
    for revision, expected in ((one, first), (two, second)):
        dest = store.download(repo_id, revision.revision, tmp_path / "dl" / revision.revision)
        assert checkpoint_bytes(dest) == expected
        # Neither the trainer state nor the Hub's .gitattributes.
        assert {path.name for path in dest.iterdir() if path.is_file()} == set(expected)


def test_same_files_again_return_the_same_revision(store, tmp_path):
    repo_id = store.ensure_repo("run-b")
    write_checkpoint(tmp_path / "ckpt", 1)
    first = store.push_folder(repo_id, tmp_path / "ckpt", "epoch 1")
    (tmp_path / "ckpt" / "optimizer.pt").write_bytes(b"changed, but not a checkpoint file")

    assert store.push_folder(repo_id, tmp_path / "ckpt", "epoch 1 again") == first


def test_a_revision_holds_only_the_files_its_folder_had(store, tmp_path):
    repo_id = store.ensure_repo("run-c")
    write_checkpoint(tmp_path / "epoch-1", 1)
    store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    second = write_checkpoint(tmp_path / "epoch-2", 2)
    (tmp_path / "epoch-2" / "README.md").unlink()
    del second["README.md"]

    two = store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")

    dest = store.download(repo_id, two.revision, tmp_path / "dl")
    assert checkpoint_bytes(dest) == second


def test_a_revision_whose_weights_were_cut_short_is_named_and_the_others_still_load(
    store, tmp_path
):
    repo_id = store.ensure_repo("run-cut")
    whole = write_checkpoint(tmp_path / "epoch-1", 1)
    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    write_checkpoint(tmp_path / "epoch-2", 2)
    weights = tmp_path / "epoch-2" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-40])  # a copy that stopped before the end
    two = store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")

    with pytest.raises(DamagedWeights) as refused:
        store.download(repo_id, two.revision, tmp_path / "dl" / "two")
    message = str(refused.value)
    assert f"{repo_id}@{two.revision}" in message and "cut short" in message
    assert "push the checkpoint again" in message
    # Nothing was changed: the good revision still downloads whole.
    assert checkpoint_bytes(store.download(repo_id, one.revision, tmp_path / "dl" / "one")) == whole


def test_a_tag_moves_to_the_new_champion(store, tmp_path):
    repo_id = store.ensure_repo("run-d")
    write_checkpoint(tmp_path / "epoch-1", 1)
    second = write_checkpoint(tmp_path / "epoch-2", 2)
    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    two = store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")

    store.tag(repo_id, one.revision, "champion")
    store.tag(repo_id, two.revision, "champion")

    assert checkpoint_bytes(store.download(repo_id, "champion", tmp_path / "dl")) == second


def test_a_folder_without_checkpoint_files_is_refused(store, tmp_path):
    repo_id = store.ensure_repo("run-e")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "optimizer.pt").write_bytes(b"only trainer state")

    with pytest.raises(FileNotFoundError):
        store.push_folder(repo_id, tmp_path / "empty", "nothing to push")


def test_a_branch_holds_whole_trainer_state_apart_from_the_checkpoints(store, tmp_path):
    repo_id = store.ensure_repo("run-f")
    checkpoint = write_checkpoint(tmp_path / "epoch-1", 1)
    main = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    state = tmp_path / "state"
    write_checkpoint(state, 1)
    (state / "trainer_state.json").write_text('{"global_step": 6}')
    assert store.download_branch(repo_id, "trainer-state-epoch-1", tmp_path / "none") is None

    store.push_branch(repo_id, state, "trainer-state-epoch-1", "state 1")
    (state / "trainer_state.json").unlink()
    (state / "optimizer.pt").write_bytes(b"optimizer state, pushed again")
    store.push_branch(repo_id, state, "trainer-state-epoch-1", "state 1 again")

    fetched = store.download_branch(repo_id, "trainer-state-epoch-1", tmp_path / "dl")
    assert fetched is not None
    # Every file of the newest push, and only those: optimizer state included, nothing of main's.
    assert sorted(p.name for p in fetched.iterdir() if p.is_file()) == sorted(
        p.name for p in state.iterdir()
    )
    assert (fetched / "optimizer.pt").read_bytes() == b"optimizer state, pushed again"
    # main is as it was: its head and its files.
    assert store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1 again") == main
    assert checkpoint_bytes(store.download(repo_id, "main", tmp_path / "main")) == checkpoint
    assert (
        store.download_branch("local/no-such-run", "trainer-state-epoch-1", tmp_path / "x") is None
    )


# --- the local git store ------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_local_pushes_are_commits_newest_first_with_only_checkpoint_files(tmp_path):
    store = LocalGitStore(tmp_path / "hub")
    repo_id = store.ensure_repo("run")
    write_checkpoint(tmp_path / "epoch-1", 1)
    write_checkpoint(tmp_path / "epoch-2", 2)

    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    two = store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")
    store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2 again")

    repo = tmp_path / "hub" / "local" / "run"
    assert repo_id == "local/run"
    assert revisions(store, repo_id) == [two.revision, one.revision]
    assert git(repo, "rev-parse", "refs/heads/main") == two.revision
    assert git(repo, "log", "-1", "--format=%s", two.revision) == "epoch 2"
    assert set(git(repo, "ls-tree", "--name-only", two.revision).split()) == set(CHECKPOINT_FILES)
    assert two.url.startswith("file://")


def test_local_crash_before_the_ref_moves_leaves_the_previous_commit(tmp_path, monkeypatch):
    store = LocalGitStore(tmp_path / "hub")
    repo_id = store.ensure_repo("run")
    first = write_checkpoint(tmp_path / "epoch-1", 1)
    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    write_checkpoint(tmp_path / "epoch-2", 2)

    def crash(*args):
        raise KeyboardInterrupt("killed before publishing")

    monkeypatch.setattr(store, "_move_branch", crash)
    with pytest.raises(KeyboardInterrupt):
        store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")

    assert revisions(store, repo_id) == [one.revision]
    assert checkpoint_bytes(store.download(repo_id, "main", tmp_path / "dl")) == first
    # The half-written objects do not get in the way of the next push.
    monkeypatch.undo()
    two = store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")
    assert revisions(store, repo_id) == [two.revision, one.revision]


def test_local_push_racing_another_fails_instead_of_dropping_it(tmp_path, monkeypatch):
    store = LocalGitStore(tmp_path / "hub")
    repo_id = store.ensure_repo("run")
    write_checkpoint(tmp_path / "epoch-1", 1)
    write_checkpoint(tmp_path / "epoch-2", 2)
    write_checkpoint(tmp_path / "other", 3)
    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    move_branch = store._move_branch
    raced = []

    def another_push_first(path, ref, commit, parent):
        raced.append(LocalGitStore(tmp_path / "hub").push_folder(repo_id, tmp_path / "other", "x"))
        move_branch(path, ref, commit, parent)

    monkeypatch.setattr(store, "_move_branch", another_push_first)
    with pytest.raises(ConcurrentPushError) as refused:
        store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")
    assert f"{repo_id} moved from {one.revision} to {raced[0].revision}" in str(refused.value)

    assert revisions(store, repo_id) == [raced[0].revision, one.revision]


def test_local_store_ignores_the_users_git_config_and_environment(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    # Were it read, autocrlf would turn the LF line ends of text files into CRLF on checkout.
    (home / ".gitconfig").write_text("[core]\n\tautocrlf = true\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-a-repo"))
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)
    store = LocalGitStore(tmp_path / "hub")
    repo_id = store.ensure_repo("run")
    expected = write_checkpoint(tmp_path / "epoch-1", 1)

    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")

    # Line ends in the text files and every byte of the weights come back as pushed.
    assert checkpoint_bytes(store.download(repo_id, one.revision, tmp_path / "dl")) == expected


def test_local_download_of_an_unknown_revision_fails(tmp_path):
    store = LocalGitStore(tmp_path / "hub")
    repo_id = store.ensure_repo("run")
    write_checkpoint(tmp_path / "epoch-1", 1)
    store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")

    with pytest.raises(LookupError):
        store.download(repo_id, "0" * 40, tmp_path / "dl")


# --- the Hugging Face store against a Hub-compatible server -------------------------------------


def test_hf_repo_is_in_the_tokens_namespace_and_private(hub):
    url, state = hub
    store = HuggingFaceStore(TOKEN, endpoint=url)

    repo_id = store.ensure_repo("run")

    assert repo_id == "tester/run"
    assert store.ensure_repo("run") == repo_id  # exists already: fine
    assert state.repos[repo_id].private is True


def test_hf_repo_can_be_public_in_a_given_namespace(hub):
    url, state = hub
    repo_id = HuggingFaceStore(TOKEN, namespace="team", private=False, endpoint=url).ensure_repo(
        "r"
    )

    assert repo_id == "team/r"
    assert state.repos[repo_id].private is False


def test_hf_push_sends_only_checkpoint_files_one_commit_each(hub, tmp_path):
    url, state = hub
    store = HuggingFaceStore(TOKEN, endpoint=url)
    repo_id = store.ensure_repo("run")
    first = write_checkpoint(tmp_path / "epoch-1", 1)
    write_checkpoint(tmp_path / "epoch-2", 2)

    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    commits = len(state.repos[repo_id].commits)
    store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1 again")
    two = store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")

    repo = state.repos[repo_id]
    assert len(repo.commits) == commits + 1
    assert repo.branches["main"] == two.revision
    assert repo.commits[two.revision].parent == one.revision
    assert repo.commits[two.revision].message == "epoch 2"
    assert {k: v for k, v in repo.commits[one.revision].files.items() if k in first} == first
    assert state.uploaded_paths == set(CHECKPOINT_FILES)
    assert one.url == f"{url}/{repo_id}/tree/{one.revision}"


def test_hf_weights_go_through_lfs_and_come_back_byte_for_byte(hub, tmp_path):
    url, state = hub
    store = HuggingFaceStore(TOKEN, endpoint=url)
    repo_id = store.ensure_repo("run")
    kept = write_checkpoint(tmp_path / "epoch-1", 1)

    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")

    weights = kept["adapter_model.safetensors"]
    sha256 = hashlib.sha256(weights).hexdigest()
    repo = state.repos[repo_id]
    # The weights were PUT as an LFS object the commit names; the text files went inside it.
    assert repo.lfs_objects == {sha256: weights}
    assert repo.commits[one.revision].lfs == {"adapter_model.safetensors": sha256}
    assert set(repo.commits[one.revision].files) == {".gitattributes", *kept}
    dest = store.download(repo_id, one.revision, tmp_path / "dl")
    assert checkpoint_bytes(dest) == kept


def test_hf_push_racing_another_writer_fails_instead_of_overwriting_it(hub, tmp_path):
    url, state = hub
    store = HuggingFaceStore(TOKEN, endpoint=url)
    other_writer = HuggingFaceStore(TOKEN, endpoint=url)
    repo_id = store.ensure_repo("run")
    write_checkpoint(tmp_path / "epoch-1", 1)
    write_checkpoint(tmp_path / "epoch-2", 2)
    others = write_checkpoint(tmp_path / "other", 3)
    one = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    raced = []
    # The other writer pushes after this push has read the head, just before its commit lands.
    state.race_next_commit(
        lambda: raced.append(other_writer.push_folder(repo_id, tmp_path / "other", "other"))
    )

    with pytest.raises(ConcurrentPushError) as refused:
        store.push_folder(repo_id, tmp_path / "epoch-2", "epoch 2")

    message = str(refused.value)
    assert f"{repo_id} moved from {one.revision} to {raced[0].revision}" in message
    assert message.endswith("Nothing was committed: push the checkpoint again")
    repo = state.repos[repo_id]
    assert first_parent_messages(repo) == ["other", "epoch 1", "initial commit"]
    assert len(repo.commits) == 3  # epoch 2 is nowhere, not even off the branch
    assert checkpoint_bytes(store.download(repo_id, "main", tmp_path / "dl")) == others


def test_hub_refuses_a_commit_naming_an_lfs_object_never_uploaded(hub):
    url, state = hub
    repo_id = HuggingFaceStore(TOKEN, endpoint=url).ensure_repo("run")
    lines = [
        {"key": "header", "value": {"summary": "weights nobody uploaded", "description": ""}},
        {
            "key": "lfsFile",
            "value": {"path": "adapter_model.safetensors", "algo": "sha256", "oid": "0" * 64},
        },
    ]
    commit = urllib.request.Request(
        f"{url}/api/models/{repo_id}/commit/main",
        data=b"".join(json.dumps(line).encode() + b"\n" for line in lines),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
    )

    with pytest.raises(HTTPError) as refused:
        urllib.request.urlopen(commit)

    assert refused.value.code == 400
    assert "was never uploaded" in refused.value.headers["X-Error-Message"]
    assert len(state.repos[repo_id].commits) == 1  # the initial one only


def test_hf_wrong_token_is_rejected(hub, tmp_path):
    url, state = hub
    repo_id = HuggingFaceStore(TOKEN, endpoint=url).ensure_repo("run")
    write_checkpoint(tmp_path / "epoch-1", 1)
    wrong = HuggingFaceStore("hf_wrongToken", namespace="tester", endpoint=url)

    with pytest.raises(HfHubHTTPError) as refused:
        wrong.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    with pytest.raises(HfHubHTTPError):
        HuggingFaceStore("hf_wrongToken", endpoint=url).ensure_repo("other")

    assert refused.value.response.status_code == 401
    assert state.unauthorized >= 2
    assert list(state.repos) == [repo_id]
    assert len(state.repos[repo_id].commits) == 1  # the initial one only


def test_hf_token_never_appears_in_what_the_store_returns_or_logs(hub, tmp_path, caplog):
    url, _ = hub
    caplog.set_level(logging.DEBUG)
    store = HuggingFaceStore(TOKEN, endpoint=url)
    repo_id = store.ensure_repo("run")
    write_checkpoint(tmp_path / "epoch-1", 1)
    pushed = store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    store.tag(repo_id, pushed.revision, "champion")
    dest = store.download(repo_id, pushed.revision, tmp_path / "dl")

    returned = [repo_id, repr(pushed), str(dest), repr(store), caplog.text]
    returned += [
        path.read_bytes().decode(errors="replace") for path in dest.rglob("*") if path.is_file()
    ]
    assert caplog.records  # the client did log its requests
    assert not [text for text in returned if TOKEN in text]


def test_hf_push_is_refused_offline(hub, tmp_path, monkeypatch):
    url, state = hub
    store = HuggingFaceStore(TOKEN, endpoint=url)
    repo_id = store.ensure_repo("run")
    write_checkpoint(tmp_path / "epoch-1", 1)
    # HF_HUB_OFFLINE is read once, when huggingface_hub is imported: set what it set.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(OfflineModeIsEnabled, match="cannot push a checkpoint: HF_HUB_OFFLINE"):
        store.push_folder(repo_id, tmp_path / "epoch-1", "epoch 1")
    assert len(state.repos[repo_id].commits) == 1


def revisions(store, repo_id: str) -> list[str]:
    """Every pushed revision of a repo in the local store, newest first."""
    return [revision for revision, _ in store.history(repo_id)]


def first_parent_messages(repo: Repo) -> list[str]:
    """The commit messages on a test hub repo's main branch, newest first."""
    messages, oid = [], repo.branches["main"]
    while oid is not None:
        messages.append(repo.commits[oid].message)
        oid = repo.commits[oid].parent
    return messages


def test_trainer_state_found_neither_here_nor_in_the_hub_is_named(tmp_path):
    from pricer.training.state_in_hub import epoch_state_here

    store = LocalGitStore(tmp_path / "hub")
    repo_id = store.ensure_repo("run")
    here = tmp_path / "trainer" / "epoch_1" / "checkpoint-6"
    with pytest.raises(FileNotFoundError) as missing:
        epoch_state_here(store, repo_id, here, 1)
    assert str(missing.value) == (
        f"the trainer state that ended epoch 1 is neither at {here} nor on branch "
        "trainer-state-epoch-1 of local/run: materialize the run's epochs again from epoch 1"
    )
    assert not here.exists()
