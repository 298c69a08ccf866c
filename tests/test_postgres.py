"""The instance on a real PostgreSQL server, set up by docs/dagster-postgres.yaml: a small
pipeline run that learns is trained against it and becomes the champion, and `dagster dev` serves
the same run history, materializations, winner and champion after its webserver, its daemon and
the database server itself are stopped and started again."""

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from conftest import REPO, free_port, serving_dagster_dev
from postgres_server import PostgresProcess, running_postgres
from test_champion import CLEAR_MARGIN, LEARNING_TRAINING, promote, promoted
from test_webserver import ENTRY_VALUES, WINNER_QUERY, entry_values, graphql

from assets.epoch_keys import adapter_key, checkpoint_key, scores_key
from pipelines.launch import latest_metadata, prepare, train_new_run
from pipelines.presets import TINY_DATASET
from pricer.release.champion import pointer_path, read_champion

DATABASE = "pricer"
# The recipe that learns, as test_champion trains it: its best epoch beats the median constant
# clearly, so the champion is promoted and its materialization is there to be kept. (One epoch
# of it came within 3% of the median on the 2-core EPYC.)
TRAINING = LEARNING_TRAINING
MATERIALIZED = [
    "product_dataset",
    "quantized_base_model",
    "baseline_scores",
    *(
        key(epoch)
        for epoch in range(1, TRAINING["epochs"] + 1)
        for key in (adapter_key, checkpoint_key, scores_key)
    ),
    "best_checkpoint",
    "quality_report",
    "challenger",
    "champion",
]

RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId jobName status } } } }"
MATERIALIZATIONS_QUERY = f"""
query ($asset: String!) {{
  assetOrError(assetKey: {{path: [$asset]}}) {{
    ... on Asset {{ assetMaterializations {{ runId partition timestamp {ENTRY_VALUES} }} }}
  }}
}}
"""


@dataclass
class PostgresRun:
    instance: dg.DagsterInstance
    postgres: PostgresProcess
    run_key: str
    promoted: bool


@pytest.fixture(scope="module")
def postgres_run(tmp_path_factory, pricer_home, model_path) -> Iterator[PostgresRun]:
    """A PostgreSQL server, an instance on it configured by the documented dagster.yaml, and one
    training run materialized there, its best checkpoint promoted to champion."""
    home = tmp_path_factory.mktemp("dagster_home_postgres")
    shutil.copy(REPO / "docs" / "dagster-postgres.yaml", home / "dagster.yaml")
    patch = pytest.MonkeyPatch()
    try:
        with running_postgres(free_port()) as postgres:
            server = postgres.server
            server.create_database(DATABASE)
            # Step processes and `dagster dev` inherit these, as a deployment's services would.
            for name, value in {
                "DAGSTER_HOME": str(home),
                "PRICER_HOME": str(pricer_home),
                "WANDB_MODE": "offline",
                "DAGSTER_PG_HOST": server.host,
                "DAGSTER_PG_PORT": str(server.port),
                "DAGSTER_PG_DB": DATABASE,
                "DAGSTER_PG_USERNAME": server.username,
                "DAGSTER_PG_PASSWORD": server.password,
            }.items():
                patch.setenv(name, value)
            with dg.DagsterInstance.get() as instance:
                prepare(instance, TINY_DATASET)
                run_key = train_new_run(instance, TRAINING)
                won = promoted(promote(instance, run_key))
                yield PostgresRun(instance, postgres, run_key, won)
                if won:  # the session's other tests start with no champion
                    pointer_path(pricer_home).unlink()
    finally:
        patch.undo()


def recorded_runs(instance: dg.DagsterInstance) -> set[tuple[str, str, str]]:
    return {(run.run_id, run.job_name, run.status.value) for run in instance.get_runs()}


def served_history(url: str, run_key: str) -> dict:
    """Every run, every materialization (with its metadata) of the run's assets and of the
    champion, and the chosen epoch, as the webserver serves them."""
    runs = graphql(url, RUNS_QUERY, {})["runsOrError"]["results"]
    materializations = {
        asset: graphql(url, MATERIALIZATIONS_QUERY, {"asset": asset})["assetOrError"][
            "assetMaterializations"
        ]
        for asset in MATERIALIZED
    }
    (winner,) = graphql(url, WINNER_QUERY, {"partition": run_key})["assetOrError"][
        "assetMaterializations"
    ]
    return {
        "runs": {(run["runId"], run["jobName"], run["status"]) for run in runs},
        "materializations": materializations,
        "chosen_epoch": entry_values(winner)["chosen_epoch"],
    }


def test_the_instance_keeps_its_history_in_postgres(postgres_run):
    runs = recorded_runs(postgres_run.instance)
    # With no champion yet, the challenge is against the median constant alone, which the run
    # clears by a margin no CPU's rounding crosses.
    best = latest_metadata(postgres_run.instance, "best_checkpoint", postgres_run.run_key)
    median = best["median_constant_validation_error"]
    assert best["validation_error"] < CLEAR_MARGIN * median, best["epochs"]
    assert postgres_run.promoted
    assert sorted((job, status) for _, job, status in runs) == sorted(
        {
            "prepare": "SUCCESS",
            "training_run": "SUCCESS",
            "select_best": "SUCCESS",
            "promote_champion": "SUCCESS",
        }.items()
    )
    with (
        contextlib.closing(postgres_run.postgres.server.connect(DATABASE)) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT run_id FROM runs")
        assert {row[0] for row in cursor.fetchall()} == {run_id for run_id, _, _ in runs}
    # Nothing went to the embedded SQLite storage instead.
    assert not list(Path(postgres_run.instance.root_directory).rglob("*.db"))


def test_history_survives_a_restart_of_dagster_dev_and_of_postgres(postgres_run, pricer_home):
    instance, run_key = postgres_run.instance, postgres_run.run_key
    with serving_dagster_dev(instance.root_directory) as url:
        before = served_history(url, run_key)

    assert before["runs"] == recorded_runs(instance)
    for asset, served in before["materializations"].items():
        recorded = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
        assert sorted((m["runId"], m["partition"]) for m in served) == sorted(
            (record.run_id, record.partition_key) for record in recorded
        )
    for asset in MATERIALIZED:
        assert before["materializations"][asset], f"{asset} is not served"
    # The champion is served as the promotion left it: the revision its pointer names.
    (served_champion,) = before["materializations"]["champion"]
    assert entry_values(served_champion)["revision"] == read_champion(pricer_home).revision
    assert (
        before["chosen_epoch"]
        == latest_metadata(instance, "best_checkpoint", run_key)["chosen_epoch"]
    )

    postgres_run.postgres.restart()
    with serving_dagster_dev(instance.root_directory) as url:
        after = served_history(url, run_key)
    assert after == before
