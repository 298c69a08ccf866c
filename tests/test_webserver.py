"""The real `dagster dev` serves the trained run: every asset, and the winner's table, over HTTP."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

WINNER_QUERY = """
query ($partition: String!) {
  assetNodes { assetKey { path } }
  assetOrError(assetKey: {path: ["best_checkpoint"]}) {
    ... on Asset {
      assetMaterializations(partitions: [$partition], limit: 1) {
        partition
        metadataEntries { label ... on MarkdownMetadataEntry { mdStr } }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dagster_dev(trained_run):
    port = free_port()
    home = trained_run.instance.root_directory
    Path(home, "dagster.yaml").touch()
    bin_dir = Path(sys.executable).parent
    process = subprocess.Popen(
        [
            str(bin_dir / "dagster"),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # dagster dev ignores SIGTERM when started from a script unless SIGINT is at its default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dagster dev did not come up") from None
                time.sleep(1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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


def test_ui_serves_every_asset_and_the_winner(dagster_dev, trained_run):
    data = graphql(dagster_dev, WINNER_QUERY, {"partition": trained_run.run_key})
    keys = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    for epoch in range(1, trained_run.epochs + 1):
        assert {f"lora_adapter_epoch_{epoch}", f"scores_epoch_{epoch}"} <= keys
    assert {"product_dataset", "quantized_base_model", "baseline_scores", "best_checkpoint"} <= keys

    (materialization,) = data["assetOrError"]["assetMaterializations"]
    assert materialization["partition"] == trained_run.run_key
    entries = {e["label"]: e.get("mdStr") for e in materialization["metadataEntries"]}
    assert "**chosen**" in entries["epochs"]
    assert entries["validation_curve"].startswith("![")
