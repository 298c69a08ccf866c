"""A training run killed with SIGKILL at five named points, each time retried from failure as the
daemon retries it under the shipped dagster.yaml, finishes as the same training it would have
been: no epoch starts over on the machine that keeps its files, no hub commit is lost or doubled,
the losses are an uninterrupted run's. Two retries land on a machine without the run's trainer
files, and go on from the state the hub keeps."""

import shutil
import threading
from pathlib import Path

import dagster as dg
import pytest
import yaml
from pausing import arm, check_one_push_per_epoch, epoch_starts, signal_when_paused

from assets.config import TrainingRunConfig
from pipelines.launch import latest_metadata
from pricer.training.trainer import train_epoch

REPO = Path(__file__).resolve().parents[1]
DATASET = {
    "catalogue_size": 80,
    "max_text_tokens": 20,
    "validation_size": 4,
    "test_size": 4,
    "train_size": 24,
}
TRAINING = {
    "epochs": 2,
    "batch_size": 4,  # 6 steps an epoch
    "learning_rate": 1e-3,
    "lora_r": 4,
    "lora_alpha": 8,
    "max_length": 64,
    "save_steps": 2,
}
# In the order a run meets them: three kills in epoch 1, two in epoch 2.
KILLS = ["early_in_epoch", "save", "hub_push", "late_in_epoch", "evaluation"]
# Before these kills' retries the run's local trainer files are deleted, as if each retry ran on
# another machine; the hub is kept, outside them. After hub_push, epoch 1's push needs its adapter;
# after late_in_epoch, epoch 2 needs epoch 1's state.
MACHINE_LOST = ("hub_push", "late_in_epoch")


class Attempt:
    """One run of the training job on a thread of its own, as a run worker would run it."""

    def __init__(self, target) -> None:
        self.run_id: str | None = None
        self.thread = threading.Thread(target=lambda: setattr(self, "run_id", target()))
        self.thread.start()

    def running(self) -> bool:
        return self.thread.is_alive()

    def finish(self) -> str:
        self.thread.join()
        assert self.run_id is not None, "the run raised instead of ending"
        return self.run_id


def test_a_run_killed_at_five_points_finishes_as_if_never_killed(
    tmp_path, pricer_home, model_path, monkeypatch
):
    from pipelines.launch import launched, training_run_job

    monkeypatch.setenv("PRICER_HOME", str(pricer_home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    shipped = yaml.safe_load((REPO / "docs" / "dagster.yaml").read_text())
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), overrides=shipped) as instance:
        monkeypatch.setenv("DAGSTER_HOME", instance.root_directory)
        prepare_training_inputs(instance, DATASET)
        run_key = "preempted"
        instance.add_dynamic_partitions("training_runs", [run_key])
        job = dg.reconstructable(training_run_job)
        tags = {"dagster/partition": run_key}

        def first_run() -> str:
            run_config = {"ops": {"lora_adapter_epoch_1": {"config": TRAINING}}}
            # launched(): the steps see the pause points armed below.
            with launched(job, instance, run_config=run_config, tags=tags) as result:
                return result.run_id

        def retry(failed_id: str) -> str:
            # What the daemon does with a failed run it will retry: re-execute it from failure,
            # with its config and tags (the partition's among them).
            failed = instance.get_run_by_id(failed_id)
            with launched(
                job,
                instance,
                run_config=failed.run_config,
                tags=tags,
                reexecution_options=dg.ReexecutionOptions.from_failure(failed_id, instance),
            ) as result:
                return result.run_id

        pauses = tmp_path / "pauses"
        pauses.mkdir()
        arm(monkeypatch, KILLS, pauses)
        attempt = Attempt(first_run)
        killed = []
        for point in KILLS:
            paused = signal_when_paused(pauses, point, attempt.running)
            failed_id = attempt.finish()
            failed = instance.get_run_by_id(failed_id)
            assert failed.status == dg.DagsterRunStatus.FAILURE
            # Dagster itself decides, from the instance's run_retries and the job's tags.
            assert failed.tags.get("dagster/will_retry") == "true", point
            if point in MACHINE_LOST:
                shutil.rmtree(pricer_home / "runs" / run_key / "trainer")
            attempt = Attempt(lambda f=failed_id: retry(f))
            killed.append((point, paused, failed_id))
        final_id = attempt.finish()
        assert instance.get_run_by_id(final_id).status == dg.DagsterRunStatus.SUCCESS

        starts = [epoch_starts(instance, run_id) for _, _, run_id in killed] + [
            epoch_starts(instance, final_id)
        ]
        steps_per_epoch = 6
        # Every epoch started from its beginning once, in the first attempt that reached it; epoch
        # 2 once more on the machine without its files, from epoch 1's state in the hub.
        first_steps = {1: 0, 2: steps_per_epoch}
        for epoch, first_step in first_steps.items():
            from_beginning = [s for begun in starts for e, s in begun if e == epoch]
            assert from_beginning.count(first_step) == epoch, (epoch, from_beginning)
        fetched = "epoch 1's trainer state fetched from local/preempted"
        for i, (point, _, _) in enumerate(killed):
            retried_elsewhere = killed[i + 1][2] if i + 1 < len(killed) else final_id
            logs = instance.all_logs(retried_elsewhere)
            was_fetched = any(fetched in (entry.user_message or "") for entry in logs)
            assert was_fetched == (point in MACHINE_LOST), point
        # Steps redone per kill: where the killed attempt was, less where the next one resumed.
        redone = {}
        for i, (point, paused, _) in enumerate(killed):
            if point == "hub_push":
                # The epoch was trained and materialized already: the retry only pushes again.
                assert all(e != 1 for e, _ in starts[i + 1])
                redone[point] = 0
                continue
            epoch = _epoch_of(paused["global_step"], steps_per_epoch)
            resumed = dict(starts[i + 1])[epoch]
            redone[point] = paused["global_step"] - resumed
            if point in MACHINE_LOST:
                # Step checkpoints stay local: the epoch in progress is redone from its start.
                assert resumed == (epoch - 1) * steps_per_epoch, point
        print(f"\nsteps redone per kill (save_steps={TRAINING['save_steps']}): {redone}")
        on_their_machine = {p: n for p, n in redone.items() if p not in MACHINE_LOST}
        assert all(0 <= n <= TRAINING["save_steps"] for n in on_their_machine.values()), redone

        check_one_push_per_epoch(pricer_home, run_key, TRAINING["epochs"])
        _check_losses(instance, run_key, tmp_path, steps_per_epoch)


def _epoch_of(global_step: int, steps_per_epoch: int) -> int:
    return (global_step - 1) // steps_per_epoch + 1


def prepare_training_inputs(
    instance: dg.DagsterInstance, dataset_config: dict, baselines: bool = False
) -> None:
    """The two inputs training needs, through the real prepare job; the baselines, which only
    selection needs, when asked for."""
    from pipelines.launch import launched, prepare_job

    selection = [dg.AssetKey("product_dataset"), dg.AssetKey("quantized_base_model")]
    with launched(
        dg.reconstructable(prepare_job),
        instance,
        run_config={"ops": {"product_dataset": {"config": dataset_config}}},
        asset_selection=None if baselines else selection,
    ) as prepared:
        assert prepared.success


def _check_losses(instance, run_key: str, tmp_path: Path, steps_per_epoch: int) -> None:
    from pipelines.definitions import defs

    def value(asset: str, partition: str | None = None):
        return defs.load_asset_value(asset, instance=instance, partition_key=partition)

    dataset, base = value("product_dataset"), value("quantized_base_model")
    trained = value("lora_adapter_epoch_2", run_key)
    assert trained.epoch_ends == [steps_per_epoch, 2 * steps_per_epoch]
    # The same training, never interrupted: both epochs in one call, in this process.
    uninterrupted = train_epoch(
        base.path,
        dataset.splits.train,
        dataset.splits.validation,
        TrainingRunConfig(**TRAINING).settings(),
        2,
        tmp_path / "uninterrupted",
        None,
    )
    assert [s for s, _ in trained.step_losses] == [s for s, _ in uninterrupted.step_losses]
    assert [loss for _, loss in trained.step_losses] == pytest.approx(
        [loss for _, loss in uninterrupted.step_losses], rel=1e-4
    )
    for epoch, end in enumerate(trained.epoch_ends, start=1):
        losses = [
            loss for step, loss in uninterrupted.step_losses if end - steps_per_epoch < step <= end
        ]
        recorded = latest_metadata(instance, f"lora_adapter_epoch_{epoch}", run_key)
        assert recorded["train_loss"] == pytest.approx(sum(losses) / len(losses), abs=1e-4)
    assert recorded["eval_loss"] == pytest.approx(uninterrupted.eval_loss, abs=1e-4)
