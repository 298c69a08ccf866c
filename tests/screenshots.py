"""`make screenshots`: the README's pictures of the Dagster UI, taken from the demo's own instance.

    make demo && make screenshots

Serves $DAGSTER_HOME with the real `dagster dev`, drives the same headless Chromium as the browser
tests, and writes docs/lineage.png, docs/lineage_epochs.png, docs/best_checkpoint.png and
docs/validation_curve.png for the newest run that best_checkpoint judged.
"""

import sys
import tempfile
from pathlib import Path

import dagster as dg
from browsing import (
    DOCS,
    chromium,
    failed_in_training,
    materialization_page,
    scores_colours,
    screenshot,
    show_plot,
    text_on_page,
)
from conftest import serving_dagster_dev

from assets.epoch_keys import scores_key
from pipelines.definitions import MAX_EPOCHS


def main() -> None:
    instance = dg.DagsterInstance.get()
    judged = instance.get_latest_materialization_event(dg.AssetKey("best_checkpoint"))
    if judged is None or judged.asset_materialization is None:
        sys.exit(f"no run has been judged in {instance.root_directory}: run `make demo` first")
    run_key = judged.asset_materialization.partition
    with (
        tempfile.TemporaryDirectory() as profile,
        chromium(Path(profile)) as browser,
        serving_dagster_dev(instance.root_directory) as url,
    ):
        failed_in_training(browser, url)
        screenshot(browser, DOCS / "lineage.png")
        scores_colours(browser, url, _trained_epochs(instance, run_key))
        screenshot(browser, DOCS / "lineage_epochs.png")
        browser.get(materialization_page(url, "best_checkpoint", run_key))
        text_on_page(browser, "chosen_epoch")
        screenshot(browser, DOCS / "best_checkpoint.png")
        show_plot(browser, "validation_curve")
        screenshot(browser, DOCS / "validation_curve.png")
    print(
        f"docs/: lineage.png, lineage_epochs.png, best_checkpoint.png, validation_curve.png "
        f"of {run_key}"
    )


def _trained_epochs(instance: dg.DagsterInstance, run_key: str) -> int:
    """How many epochs the run scored (it may have stopped early)."""
    scored = [
        epoch
        for epoch in range(1, MAX_EPOCHS + 1)
        if instance.fetch_materializations(
            dg.AssetRecordsFilter(dg.AssetKey(scores_key(epoch)), asset_partitions=[run_key]),
            limit=1,
        ).records
    ]
    return len(scored)


if __name__ == "__main__":
    main()
