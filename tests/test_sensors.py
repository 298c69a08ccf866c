"""The retraining sensors evaluated against a real Dagster instance: a cron tick and a change of
data each add a training run; unchanged data adds nothing."""

import json
import os
import re
from datetime import datetime, timedelta

import dagster as dg

from pipelines.definitions import SETTINGS, defs, prepare_job
from pipelines.launch import latest_metadata
from pipelines.sensors import FINGERPRINT_TAG, TRAINING_RUN_TAG, retrain_on_new_data
from pricer.data.catalogue import generate_catalogue
from pricer.data.sources import source_fingerprint
from pricer.training.run_keys import new_run_key

TRAINING_RUNS = "training_runs"
# The course's run names: pricer-2026-11-22_10.15.39.
RUN_KEY = re.compile(r"^pricer-\d{4}-\d{2}-\d{2}_\d{2}\.\d{2}\.\d{2}$")


def evaluate(sensor: dg.SensorDefinition, instance, cursor: str | None) -> dg.SensorResult:
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult)
    return result


def only_new_partition(result: dg.SensorResult) -> str:
    (request,) = result.dynamic_partitions_requests or []
    assert isinstance(request, dg.AddDynamicPartitionsRequest)
    assert request.partitions_def_name == TRAINING_RUNS
    (key,) = request.partition_keys
    return key


def test_sensors_that_start_training_runs_by_themselves_are_off_by_default():
    for name in ("retrain_on_schedule", "retrain_on_new_data"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.STOPPED


def test_a_cron_tick_adds_a_training_run_and_requests_it_once():
    sensor = defs.resolve_sensor_def("retrain_on_schedule")
    assert sensor.job_name == "training_run"
    assert SETTINGS.retrain_cron in (sensor.description or "")
    with dg.instance_for_test() as instance:
        # Switched on: the first look only remembers the latest tick, like a new schedule.
        first = evaluate(sensor, instance, None)
        assert not first.run_requests and not first.dynamic_partitions_requests
        assert first.cursor is not None
        tick = datetime.fromisoformat(first.cursor)

        # The sensor last acted before that tick: the tick is due.
        due = evaluate(sensor, instance, (tick - timedelta(minutes=1)).isoformat())
        run_key = only_new_partition(due)
        assert RUN_KEY.match(run_key) and run_key == new_run_key(tick)
        (request,) = due.run_requests or []
        assert request.partition_key == run_key and request.run_key == run_key
        assert due.cursor == tick.isoformat()
        # As the daemon would: add the partition, and the request names a partition that exists.
        instance.add_dynamic_partitions(TRAINING_RUNS, [run_key])
        assert run_key in instance.get_dynamic_partitions(TRAINING_RUNS)

        # The same tick again starts nothing.
        again = evaluate(sensor, instance, due.cursor)
        assert not again.run_requests and not again.dynamic_partitions_requests
        assert again.cursor == due.cursor


def write_products(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_changed_data_is_prepared_and_then_trained_and_unchanged_data_starts_nothing(
    tmp_path, pricer_home, model_path, monkeypatch
):
    monkeypatch.setenv("PRICER_HOME", str(pricer_home))  # where the converted base model is
    source = tmp_path / "products.jsonl"
    rows = generate_catalogue(size=140, seed=7)
    write_products(source, rows)
    sensor = retrain_on_new_data(str(source), prepare_job)
    with dg.instance_for_test() as instance:
        first = evaluate(sensor, instance, None)
        assert not first.run_requests
        assert first.cursor == source_fingerprint(str(source))

        # Rewritten with the same content: a new mtime, the same hash, nothing to do.
        write_products(source, rows)
        later = os.stat(source).st_mtime + 60
        os.utime(source, (later, later))
        unchanged = evaluate(sensor, instance, first.cursor)
        assert not unchanged.run_requests and not unchanged.dynamic_partitions_requests
        assert unchanged.cursor == first.cursor

        # One price changes: the data is prepared again, with the training run it will feed named.
        rows[0] = {**rows[0], "price": float(rows[0]["price"]) + 1}
        write_products(source, rows)
        changed = evaluate(sensor, instance, unchanged.cursor)
        (request,) = changed.run_requests or []
        assert changed.cursor == source_fingerprint(str(source)) != first.cursor
        assert request.run_config["ops"]["product_dataset"]["config"]["source"] == str(source)
        assert request.tags[FINGERPRINT_TAG] == changed.cursor
        run_key = request.tags[TRAINING_RUN_TAG]
        assert RUN_KEY.match(run_key)
        # No partition yet: the run is added only once its data is ready.
        assert not changed.dynamic_partitions_requests

        # The prepare run it asked for, for real (the dataset step only), then its success.
        prepared = defs.resolve_job_def("prepare").execute_in_process(
            run_config=request.run_config,
            tags=request.tags,
            instance=instance,
            asset_selection=[dg.AssetKey("product_dataset")],
        )
        assert prepared.success
        assert latest_metadata(instance, "product_dataset")["source"] == str(source)
        after = defs.resolve_sensor_def("train_on_new_data")(
            dg.build_run_status_sensor_context(
                sensor_name="train_on_new_data",
                dagster_instance=instance,
                dagster_run=prepared.dagster_run,
                dagster_event=prepared.get_run_success_event(),
            )
        )
        assert isinstance(after, dg.SensorResult)
        assert only_new_partition(after) == run_key
        (training,) = after.run_requests or []
        assert training.partition_key == run_key
        assert training.tags[FINGERPRINT_TAG] == changed.cursor
