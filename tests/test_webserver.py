"""The real `dagster dev` serves the trained run: every asset, and the winner's table, over HTTP."""

import json
import urllib.request

from records import epoch_record

from pricer.evaluation.selection import best_epoch, overfitting_onset
from pricer.training.settings import TrainingSettings

ENTRY_VALUES = """
metadataEntries {
  label
  ... on IntMetadataEntry { intValue }
  ... on FloatMetadataEntry { floatValue }
  ... on TextMetadataEntry { text }
  ... on MarkdownMetadataEntry { mdStr }
}
"""

WINNER_QUERY = f"""
query ($partition: String!) {{
  assetNodes {{ assetKey {{ path }} }}
  assetOrError(assetKey: {{path: ["best_checkpoint"]}}) {{
    ... on Asset {{
      assetMaterializations(partitions: [$partition], limit: 1) {{ partition {ENTRY_VALUES} }}
    }}
  }}
}}
"""

EPOCH_QUERY = f"""
query ($asset: String!, $partition: String!) {{
  assetOrError(assetKey: {{path: [$asset]}}) {{
    ... on Asset {{
      assetMaterializations(partitions: [$partition], limit: 1) {{ {ENTRY_VALUES} }}
    }}
  }}
}}
"""


def graphql(url: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body.get("errors")
    return body["data"]


def entry_values(materialization: dict) -> dict[str, object]:
    """Each metadata entry's value, whatever its type, by label."""
    return {
        entry["label"]: next((value for key, value in entry.items() if key != "label"), None)
        for entry in materialization["metadataEntries"]
    }


def test_ui_serves_every_asset_and_the_winner(dagster_dev, trained_run):
    data = graphql(dagster_dev, WINNER_QUERY, {"partition": trained_run.run_key})
    keys = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    for epoch in range(1, trained_run.epochs + 1):
        assert {f"lora_adapter_epoch_{epoch}", f"scores_epoch_{epoch}"} <= keys
    assert {"product_dataset", "quantized_base_model", "baseline_scores", "best_checkpoint"} <= keys

    (materialization,) = data["assetOrError"]["assetMaterializations"]
    assert materialization["partition"] == trained_run.run_key
    entries = entry_values(materialization)
    assert "**chosen**" in entries["epochs"]
    assert entries["validation_curve"].startswith("![")


def test_which_checkpoint_won_and_when_overfitting_began(dagster_dev, trained_run):
    """The question the graph exists to answer, read from the API the UI itself reads: the
    winner and the onset on best_checkpoint agree with every epoch's served scores."""
    run = {"partition": trained_run.run_key}
    records = []
    for epoch in range(1, trained_run.epochs + 1):
        data = graphql(dagster_dev, EPOCH_QUERY, {"asset": f"scores_epoch_{epoch}", **run})
        (scored,) = data["assetOrError"]["assetMaterializations"]
        values = entry_values(scored)
        # The weighted price's error chooses; the served greedy one is only shown.
        error = values["weighted_validation_error"]
        records.append(epoch_record(epoch, values["train_loss"], error))

    data = graphql(dagster_dev, WINNER_QUERY, run)
    (materialization,) = data["assetOrError"]["assetMaterializations"]
    shown = entry_values(materialization)
    assert shown["chosen_epoch"] == best_epoch(records)
    # The tiny run trains at the default tolerance; the served figures are rounded to 4 places.
    onset = overfitting_onset(records, TrainingSettings().overfit_tolerance)
    assert shown["overfitting_onset"] == (onset if onset is not None else "none seen")
    # The table names the chosen row by its epoch, so the answer reads the same in the table.
    chosen_row = next(row for row in shown["epochs"].splitlines() if "**chosen**" in row)
    assert chosen_row.startswith(f"| {best_epoch(records)} |")
