"""What a person sees in the Dagster UI after a training run, in Debian's headless Chromium.

The real `dagster dev` serves the trained run (conftest.dagster_dev); tests/browsing.py drives the
browser. The lineage graph's overfitting marks are tested on the run trained past its items
(test_overfitting.py); the README's screenshots come from the demo's instance (`make screenshots`).
"""

from collections.abc import Iterator

import pytest
from browsing import (
    chromium,
    close_dialog,
    materialization_page,
    row_value,
    show_plot,
    text_on_page,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from pipelines.launch import latest_metadata


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[WebDriver]:
    with chromium(tmp_path_factory.mktemp("chromium_profile")) as driver:
        yield driver


def test_checkpoint_page_links_its_hub_commit(dagster_dev, trained_run, browser):
    run_key = trained_run.run_key
    chosen = latest_metadata(trained_run.instance, "best_checkpoint", run_key)["chosen_epoch"]
    pushed = latest_metadata(trained_run.instance, f"hub_checkpoint_epoch_{chosen}", run_key)
    browser.get(materialization_page(dagster_dev, f"hub_checkpoint_epoch_{chosen}", run_key))
    assert row_value(browser, "revision") == pushed["revision"]
    commit = text_on_page(browser, "commit").find_element(By.XPATH, "./ancestor::tr[1]//a")
    assert commit.get_attribute("href") == pushed["commit"]


def test_best_checkpoint_page_names_the_winner_and_shows_its_plots(
    dagster_dev, trained_run, browser
):
    run_key = trained_run.run_key
    recorded = latest_metadata(trained_run.instance, "best_checkpoint", run_key)
    browser.get(materialization_page(dagster_dev, "best_checkpoint", run_key))
    # The question the graph exists to answer, as the page puts it.
    assert row_value(browser, "chosen_epoch") == str(recorded["chosen_epoch"])
    assert row_value(browser, "overfitting_onset") == str(recorded["overfitting_onset"])
    assert row_value(browser, "revision") == recorded["revision"]
    table = row_value(browser, "epochs")
    chosen_row = next(line for line in table.splitlines() if line.endswith("chosen"))
    assert chosen_row.split()[0] == str(recorded["chosen_epoch"])

    for label, alt in [
        ("validation_curve", "validation error per epoch"),
        ("winner_truth_vs_guess", "truth against guess"),
        ("loss_curve", "training loss and learning rate"),
    ]:
        assert show_plot(browser, label) == [alt]
        close_dialog(browser)
