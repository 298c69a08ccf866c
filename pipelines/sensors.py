"""The sensors that start pricer's jobs: retraining on a cron, retraining on new data, and the
steps that follow a run (choose its best checkpoint, then challenge the champion with it).

Only sensors can add dynamic partitions, so a new training run is always a sensor's
`SensorResult` that adds the partition and requests the run together. The decisions themselves
(is a tick due, did the data change) are pricer.training.retraining's.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from assets.partitions import training_runs
from pricer.data.sources import source_fingerprint
from pricer.training.retraining import latest_tick, on_cron, on_data
from pricer.training.run_keys import new_run_key

# What define_asset_job returns: Dagster does not export its class, and a private import would
# break silently on an upgrade.
Job = Any

PARTITION_TAG = "dagster/partition"
# On a prepare run started for new data: the training run to start once it has succeeded.
TRAINING_RUN_TAG = "pricer/training_run"
FINGERPRINT_TAG = "pricer/source_fingerprint"
# Cron and data sensors look once a minute: a cron tick has minute resolution.
LOOK_EVERY_S = 60


def _new_training_run(
    run_key: str, tags: dict[str, str], cursor: str | None = None
) -> dg.SensorResult:
    # A run-status sensor keeps its own cursor and passes none.
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, partition_key=run_key, tags=tags)],
        dynamic_partitions_requests=[training_runs.build_add_request([run_key])],
        cursor=cursor,
    )


def _switched_on_in_the_ui(job: Job, description: str):
    """A sensor that looks once a minute, from when someone switches it on."""
    return dg.sensor(
        job=job,
        minimum_interval_seconds=LOOK_EVERY_S,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=description,
    )


def retrain_on_schedule(cron: str, training_run: Job) -> dg.SensorDefinition:
    # A malformed or never-firing PRICER_RETRAIN_CRON stops the code location from loading.
    latest_tick(cron, datetime.now(UTC))

    @_switched_on_in_the_ui(
        training_run,
        f"Adds a training run and trains it at each tick of '{cron}' (UTC; "
        "PRICER_RETRAIN_CRON). The cursor is the last tick acted on.",
    )
    def retrain_on_schedule(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        trigger = on_cron(cron, context.cursor, datetime.now(UTC))
        if not trigger.start:
            return dg.SensorResult(skip_reason=trigger.reason, cursor=trigger.cursor)
        assert trigger.tick is not None
        run_key = new_run_key(trigger.tick)
        context.log.info(f"{trigger.reason}: training run {run_key}")
        return _new_training_run(run_key, {"pricer/cron_tick": trigger.cursor}, trigger.cursor)

    return retrain_on_schedule


def retrain_on_new_data(source: str | None, prepare: Job) -> dg.SensorDefinition:
    """Prepares the watched source again when its content changes; train_on_new_data trains on it
    once that has succeeded."""

    @_switched_on_in_the_ui(
        prepare,
        f"Watches {source or 'no source (set PRICER_WATCH_SOURCE)'} by content hash: "
        "when it changes, prepares it again and then trains a new run on it.",
    )
    def retrain_on_new_data(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        if not source:
            return dg.SensorResult(skip_reason="no source to watch: set PRICER_WATCH_SOURCE")
        fingerprint = source_fingerprint(source)
        trigger = on_data(fingerprint, context.cursor)
        if not trigger.start:
            return dg.SensorResult(skip_reason=trigger.reason, cursor=trigger.cursor)
        run_key = new_run_key()
        context.log.info(f"{source}: {trigger.reason}; training run {run_key} once prepared")
        request = dg.RunRequest(
            run_key=run_key,
            run_config={"ops": {"product_dataset": {"config": {"source": source}}}},
            tags={TRAINING_RUN_TAG: run_key, FINGERPRINT_TAG: fingerprint},
        )
        return dg.SensorResult(run_requests=[request], cursor=trigger.cursor)

    return retrain_on_new_data


def train_on_new_data(prepare: Job, training_run: Job) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[prepare],
        request_job=training_run,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When a prepare run that retrain_on_new_data started succeeds, adds the "
        "training run it named and trains it on the data just prepared.",
    )
    def train_on_new_data(context: dg.RunStatusSensorContext):
        tags = context.dagster_run.tags
        run_key = tags.get(TRAINING_RUN_TAG)
        if not run_key:
            return dg.SkipReason("a prepare run started by hand trains nothing by itself")
        return _new_training_run(run_key, {FINGERPRINT_TAG: tags[FINGERPRINT_TAG]})

    return train_on_new_data


def _follow_up(
    name: str,
    description: str,
    finished: Job,
    next_job: Job,
    request: Callable[[str], dict[str, Any]],
) -> dg.RunStatusSensorDefinition:
    """Starts `next_job` for the training run that a successful run of `finished` named."""

    @dg.run_status_sensor(
        name=name,
        description=description,
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[finished],
        request_job=next_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def follow_up(context: dg.RunStatusSensorContext):
        partition = context.dagster_run.tags.get(PARTITION_TAG)
        if not partition:
            return dg.SkipReason("the finished run named no training run")
        return dg.RunRequest(run_key=context.dagster_run.run_id, **request(partition))

    return follow_up


def select_best_after_training(training_run: Job, select_best: Job) -> dg.RunStatusSensorDefinition:
    return _follow_up(
        "select_best_after_training",
        "A finished training run gets its winner chosen straight away.",
        training_run,
        select_best,
        lambda partition: {"partition_key": partition},
    )


def promote_after_selection(select_best: Job, promote: Job) -> dg.RunStatusSensorDefinition:
    def challenge_with(partition: str) -> dict[str, Any]:
        return {
            "run_config": {"ops": {"challenger": {"config": {"run": partition}}}},
            "tags": {"pricer/challenger_run": partition},
        }

    description = "A run whose best checkpoint beat the median constant challenges the champion."
    return _follow_up("promote_after_selection", description, select_best, promote, challenge_with)
