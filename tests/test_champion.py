"""The champion: the promotion rule and the pointer as plain Python, then the promote_champion
job on the session's real training run and on a second one that learns, their checkpoints
re-scored from the real local hub."""

import math
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from conftest import CLEAR_MARGIN
from hub_server import start_hub_server
from huggingface_hub.errors import RevisionNotFoundError
from safetensors.numpy import save

from pipelines.launch import check_passed, latest_metadata, promote_champion_job
from pricer.evaluation.epoch_record import read_records
from pricer.hub.hugging_face import HuggingFaceStore
from pricer.hub.local_git import LocalGitStore
from pricer.model.ready_copy import find_ready_copy
from pricer.release.champion import (
    CHAMPION_TAG,
    Challenge,
    ChampionPointer,
    DamagedPointer,
    pointer_path,
    read_champion,
    untag_previous_champion,
    write_champion,
)


def pointer(run_key: str = "pricer-2026-11-20_10.00.00", revision: str = "a" * 40, **scores):
    return ChampionPointer(
        repo_id=f"local/{run_key}",
        revision=revision,
        run_key=run_key,
        epoch=2,
        hub="local",
        base_model="embedded",
        scores=scores or {"validation_error": 80.0, "test_error": 90.0},
    )


def challenge(error: float, champion_error: float | None, median: float = 100.0) -> Challenge:
    champion = pointer(revision="b" * 40) if champion_error is not None else None
    return Challenge(pointer(), error, median, champion, champion_error)


# The promotion rule.


def test_with_no_champion_beating_the_median_constant_is_enough():
    assert challenge(80.0, None).verdict().promote
    assert not challenge(100.0, None).verdict().promote
    assert "median" in challenge(120.0, None).verdict().reason


def test_the_challenger_must_beat_the_champion_strictly():
    assert challenge(70.0, 75.0).verdict().promote
    assert not challenge(75.0, 75.0).verdict().promote
    lost = challenge(80.0, 75.0).verdict()
    assert not lost.promote and "does not beat the champion" in lost.reason


def test_beating_the_champion_is_not_enough_without_beating_the_median():
    assert not challenge(110.0, 120.0, median=100.0).verdict().promote


def test_the_champion_cannot_challenge_itself():
    same = Challenge(pointer(), 50.0, 100.0, pointer(), 60.0)
    assert not same.verdict().promote
    assert "already the champion" in same.verdict().reason


def test_a_champion_that_was_not_rescored_cannot_be_judged():
    with pytest.raises(ValueError, match="re-scored"):
        Challenge(pointer(), 50.0, 100.0, pointer(revision="b" * 40), None).verdict()


# The pointer file.


def test_the_pointer_reads_back_as_written(tmp_path):
    assert read_champion(tmp_path) is None
    written = pointer()
    write_champion(tmp_path, written)
    assert read_champion(tmp_path) == written


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (b'{"repo_id": "local/pricer-2026', "JSONDecodeError"),  # cut short mid-write
        (b'{"repo_id": "local/run-a"}', "TypeError"),  # fields missing
        ('{"repo_id": "café"}'.encode("latin-1"), "UnicodeDecodeError"),
    ],
)
def test_a_damaged_pointer_is_named_and_left_as_it_is(tmp_path, damage, error):
    pointer_path(tmp_path).write_bytes(damage)
    with pytest.raises(DamagedPointer) as raised:
        read_champion(tmp_path)
    assert str(raised.value).startswith(f"{pointer_path(tmp_path)} is damaged ({error}")
    assert pointer_path(tmp_path).read_bytes() == damage


def test_a_failed_write_leaves_the_previous_pointer_and_no_stray_file(tmp_path):
    previous = pointer()
    write_champion(tmp_path, previous)
    before = pointer_path(tmp_path).read_bytes()
    # A NaN score is not JSON: the write fails part-way, after the temporary file was opened.
    with pytest.raises(ValueError):
        write_champion(tmp_path, pointer("pricer-2026-11-21_10.00.00", validation_error=math.nan))
    assert pointer_path(tmp_path).read_bytes() == before
    assert read_champion(tmp_path) == previous
    assert [p.name for p in tmp_path.iterdir()] == [pointer_path(tmp_path).name]


# The hub tag follows the champion, in both stores.


@pytest.fixture(params=["local", "huggingface"])
def store(request, tmp_path):
    if request.param == "local":
        yield LocalGitStore(tmp_path / "hub")
    else:
        with start_hub_server("hf_pricerChampionTestToken") as (url, _):
            yield HuggingFaceStore("hf_pricerChampionTestToken", endpoint=url)


def pushed_pointer(store, tmp_path, run_key: str) -> ChampionPointer:
    """One checkpoint pushed to a run's repo in the store, and a pointer naming it."""
    folder = tmp_path / run_key
    folder.mkdir()
    (folder / "adapter_config.json").write_text(f'{{"run": "{run_key}"}}')
    weights = {"lora_A": np.zeros((2, 8), dtype=np.float32)}
    (folder / "adapter_model.safetensors").write_bytes(save(weights))
    repo_id = store.ensure_repo(run_key)
    revision = store.push_folder(repo_id, folder, f"{run_key} epoch 1").revision
    return ChampionPointer(repo_id, revision, run_key, 1, "local", "embedded")


def tagged(store, pointer: ChampionPointer, tmp_path) -> bool:
    """Whether the champion tag names the pointer's checkpoint in its repo."""
    try:
        store.download(pointer.repo_id, CHAMPION_TAG, tmp_path / "tagged" / pointer.run_key)
    except (LookupError, RevisionNotFoundError):  # each store's own "no such revision"
        return False
    return True


def test_a_champion_in_another_repo_takes_the_tag_from_the_previous_one(store, tmp_path):
    previous = pushed_pointer(store, tmp_path, "run-old")
    winner = pushed_pointer(store, tmp_path, "run-new")
    store.tag(previous.repo_id, previous.revision, CHAMPION_TAG)
    store.tag(winner.repo_id, winner.revision, CHAMPION_TAG)

    assert untag_previous_champion(store, previous, winner) == previous.repo_id

    assert not tagged(store, previous, tmp_path)
    assert tagged(store, winner, tmp_path)
    # Again, as a retried promotion would: the tag is already gone, and nothing fails.
    assert untag_previous_champion(store, previous, winner) == previous.repo_id


def test_within_one_repo_the_tag_only_moves(store, tmp_path):
    winner = pushed_pointer(store, tmp_path, "run-same")
    store.tag(winner.repo_id, winner.revision, CHAMPION_TAG)
    earlier = ChampionPointer(winner.repo_id, "0" * 40, winner.run_key, 0, "local", "embedded")

    assert untag_previous_champion(store, None, winner) is None
    assert untag_previous_champion(store, earlier, winner) is None
    assert tagged(store, winner, tmp_path)


# The promote_champion job on the session's training runs: the tiny run, and the run that learns
# (conftest.learning_run).


def promote(instance, run_key: str, epoch: int = 0) -> dg.ExecuteInProcessResult:
    config = {"run": run_key, "epoch": epoch}
    return promote_champion_job().execute_in_process(
        run_config={"ops": {"challenger": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def run_pointer(instance, pricer_home: Path, run_key: str, epoch: int) -> ChampionPointer:
    """A champion pointer naming one epoch of the run, as a promotion writes it: the revision
    that holds the adapter and its model card, and the scores at full precision, from the run's
    ledger (the UI shows them rounded)."""
    pushed = latest_metadata(instance, f"hub_checkpoint_epoch_{epoch}", run_key)
    scored = latest_metadata(instance, f"scores_epoch_{epoch}", run_key)
    (record,) = [r for r in read_records(pricer_home / "runs" / run_key) if r.epoch == epoch]
    assert record.validation_error == pytest.approx(scored["weighted_validation_error"], abs=1e-4)
    return ChampionPointer(
        repo_id=str(pushed["repo_id"]),
        revision=str(scored["card_revision"]),
        run_key=run_key,
        epoch=epoch,
        hub="local",
        base_model="embedded",
        scores={"validation_error": record.validation_error, "test_error": record.test_error},
    )


def chosen_epoch(instance, run_key: str) -> int:
    return int(latest_metadata(instance, "best_checkpoint", run_key)["chosen_epoch"])


@pytest.fixture
def no_champion_left(pricer_home) -> Iterator[None]:
    """Removes the pointer file after the test, so each test starts from the champion it writes."""
    yield
    pointer_path(pricer_home).unlink(missing_ok=True)


def champion_tag(pricer_home, repo_id: str) -> str | None:
    """The revision the hub's champion tag points at in a repo, read with git itself."""
    found = subprocess.run(
        [
            "git",
            "-C",
            str(pricer_home / "hub" / repo_id),
            "rev-parse",
            "--verify",
            "--quiet",
            f"{CHAMPION_TAG}^{{commit}}",
        ],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or None


def verdict(result: dg.ExecuteInProcessResult) -> bool:
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "beats_champion_and_median"
    return evaluation.passed


def promoted(result: dg.ExecuteInProcessResult) -> bool:
    return bool(result.asset_materializations_for_node("champion"))


def test_a_worse_checkpoint_is_not_promoted_and_the_pointer_stays(
    trained_run, pricer_home, no_champion_left
):
    instance, run_key = trained_run.instance, trained_run.run_key
    chosen = chosen_epoch(instance, run_key)
    (other,) = {1, 2} - {chosen}
    champion = run_pointer(instance, pricer_home, run_key, chosen)
    write_champion(pricer_home, champion)
    before = pointer_path(pricer_home).read_bytes()

    result = promote(instance, run_key, epoch=other)

    challenge = latest_metadata(instance, "challenger")
    assert (challenge["run"], challenge["epoch"]) == (run_key, other)
    # The champion was scored again on this run's validation split, by the scores' own scorer.
    assert challenge["champion_validation_error"] == pytest.approx(
        champion.scores["validation_error"], abs=1e-3
    )
    # The blocking check failed and stopped the promotion: the pointer and the hub as they were.
    assert verdict(result) is False
    assert not result.success and not promoted(result)
    assert pointer_path(pricer_home).read_bytes() == before
    loser = run_pointer(instance, pricer_home, run_key, other)
    assert champion_tag(pricer_home, loser.repo_id) != loser.revision


def test_a_better_run_that_also_beats_the_median_is_promoted(
    trained_run, learning_run, pricer_home, no_champion_left
):
    instance = trained_run.instance
    # The champion to beat: the tiny run's best checkpoint, tagged in its repo as its promotion
    # would have left it.
    previous = run_pointer(
        instance, pricer_home, trained_run.run_key, chosen_epoch(instance, trained_run.run_key)
    )
    write_champion(pricer_home, previous)
    LocalGitStore(pricer_home / "hub").tag(previous.repo_id, previous.revision, CHAMPION_TAG)

    result = promote(instance, learning_run)  # epoch 0: the run's best checkpoint

    best = chosen_epoch(instance, learning_run)
    challenge = latest_metadata(instance, "challenger")
    assert (challenge["run"], challenge["epoch"]) == (learning_run, best)
    assert challenge["champion_validation_error"] == pytest.approx(
        previous.scores["validation_error"], abs=1e-3
    )
    # The run learned: clearly under the median constant, and under the champion, on one split.
    median = challenge["median_constant_validation_error"]
    assert challenge["validation_error"] < CLEAR_MARGIN * median, challenge["verdict"]
    assert challenge["validation_error"] < challenge["champion_validation_error"]
    # The blocking checks passed, select_best's and the promotion's, and the promotion ran:
    # pointer, hub tag and asset name the winner.
    assert check_passed(instance, "best_checkpoint", "beats_median_baseline", learning_run) is True
    assert verdict(result) is True
    assert result.success and promoted(result)
    winner = run_pointer(instance, pricer_home, learning_run, best)
    assert read_champion(pricer_home) == winner
    assert champion_tag(pricer_home, winner.repo_id) == winner.revision
    assert champion_tag(pricer_home, previous.repo_id) is None
    recorded = latest_metadata(instance, "champion")
    assert (recorded["run"], recorded["epoch"]) == (learning_run, best)
    assert (recorded["repo_id"], recorded["revision"]) == (winner.repo_id, winner.revision)
    assert recorded["tag_removed_from"] == previous.repo_id
    # Saved ready to price on the CPU: the first `pricer predict` after it loads in a moment.
    assert find_ready_copy(Path(recorded["ready_copy"])) is not None
