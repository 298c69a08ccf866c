"""The instance on a real PostgreSQL server, set up by docs/dagster-postgres.yaml: the session's
instance is one (conftest.trained_run), so every end-to-end test runs the pipeline against it.
Here its run that learns becomes the champion, and `dagster dev` serves the same run history,
materializations, winner and champion after its webserver, its daemon and the database server
itself are stopped and started again."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from conftest import CLEAR_MARGIN, POSTGRES_DATABASE, serving_dagster_dev
from test_champion import promote, promoted
from test_webserver import ENTRY_VALUES, WINNER_QUERY, entry_values, graphql

from assets.epoch_keys import adapter_key, checkpoint_key, scores_key
from pipelines.launch import latest_metadata
from pricer.release.champion import pointer_path, read_champion

MATERIALIZED = [
    "product_dataset",
    "quantized_base_model",
    "baseline_scores",
    *(key(epoch) for epoch in (1, 2) for key in (adapter_key, checkpoint_key, scores_key)),
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


@pytest.fixture(scope="module")
def champion_run(trained_run, learning_run, pricer_home) -> Iterator[str]:
    """The session's run that learns, promoted to champion on the PostgreSQL instance; its key.
    With no champion yet, the challenge is against the median constant alone."""
    assert not pointer_path(pricer_home).exists(), "a champion was left by another test"
    # test_champion may have promoted this run already: this promotion must win on its own.
    assert promoted(promote(trained_run.instance, learning_run)), "the run that learns lost"
    yield learning_run
    pointer_path(pricer_home).unlink()  # the session's other tests start with no champion


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


def test_the_instance_keeps_its_history_in_postgres(trained_run, champion_run, postgres):
    instance = trained_run.instance
    # The run clears the median constant by a margin no CPU's rounding crosses, and so it won.
    best = latest_metadata(instance, "best_checkpoint", champion_run)
    median = best["median_constant_validation_error"]
    assert best["validation_error"] < CLEAR_MARGIN * median, best["epochs"]
    assert latest_metadata(instance, "champion")["run"] == champion_run

    # The run went through its jobs on this instance, each a success.
    tagged = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": champion_run}))
    assert {(run.job_name, run.status.value) for run in tagged} == {
        ("training_run", "SUCCESS"),
        ("select_best", "SUCCESS"),
    }
    # Every run of the session's instance, the champion tests' promotions included, is a row in
    # PostgreSQL.
    runs = recorded_runs(instance)
    assert {"prepare", "training_run", "select_best", "promote_champion"} <= {
        job for _, job, _ in runs
    }
    with (
        contextlib.closing(postgres.server.connect(POSTGRES_DATABASE)) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT run_id FROM runs")
        assert {row[0] for row in cursor.fetchall()} == {run_id for run_id, _, _ in runs}
    # Nothing went to the embedded SQLite storage instead.
    assert not list(Path(instance.root_directory).rglob("*.db"))


def test_history_survives_a_restart_of_dagster_dev_and_of_postgres(
    trained_run, champion_run, postgres, pricer_home
):
    instance = trained_run.instance
    with serving_dagster_dev(instance.root_directory) as url:
        before = served_history(url, champion_run)

    assert before["runs"] == recorded_runs(instance)
    for asset, served in before["materializations"].items():
        recorded = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
        assert sorted((m["runId"], m["partition"]) for m in served) == sorted(
            (record.run_id, record.partition_key) for record in recorded
        )
    for asset in MATERIALIZED:
        assert before["materializations"][asset], f"{asset} is not served"
    # The champion is served as the promotion left it: the revision its pointer names.
    newest = max(before["materializations"]["champion"], key=lambda m: float(m["timestamp"]))
    assert entry_values(newest)["revision"] == read_champion(pricer_home).revision
    assert (
        before["chosen_epoch"]
        == latest_metadata(instance, "best_checkpoint", champion_run)["chosen_epoch"]
    )

    postgres.restart()
    with serving_dagster_dev(instance.root_directory) as url:
        after = served_history(url, champion_run)
    assert after == before
