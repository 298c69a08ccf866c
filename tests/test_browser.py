"""What a person sees in the Dagster UI after a training run, in Debian's headless Chromium.

The real `dagster dev` serves the trained run (conftest.dagster_dev); Selenium drives the real
Chromium through Debian's chromedriver, named by path so Selenium never looks for a driver to
download. The screenshots in docs/ are written by these tests.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from pipelines.definitions import MAX_EPOCHS
from pipelines.launch import latest_metadata

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DOCS = Path(__file__).resolve().parents[1] / "docs"
# The first page loads the UI's large JavaScript bundle on a slow CPU; later ones are quicker.
PAGE_TIMEOUT_S = 90

# CI runs as root, where Chromium's sandbox will not start. Only loopback is reachable: the flags
# after the window size keep Chromium from trying Google's services at every start. The window is
# large because the lineage graph draws node names only above a zoom level: in a smaller one the
# whole graph fits only as unlabelled boxes.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--window-size=2400,1800",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium_profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()  # ends Chromium and every process of its own, then chromedriver


def screenshot(browser: WebDriver, name: str) -> None:
    # Selenium reports a failed write by returning False, not by raising.
    assert browser.save_screenshot(str(DOCS / name)), f"could not write docs/{name}"


def text_on_page(browser: WebDriver, text: str) -> WebElement:
    """The first visible element whose own text is exactly `text`, once the page shows it."""
    xpath = f"//*[normalize-space(text())={text!r}]"

    def shown(driver: WebDriver) -> WebElement | None:
        return next((e for e in driver.find_elements(By.XPATH, xpath) if e.is_displayed()), None)

    return WebDriverWait(browser, PAGE_TIMEOUT_S).until(shown, f"{text!r} never appeared")


def loaded_images(element: WebElement) -> list[str]:
    """The alt text of every image under `element` that the browser actually decoded."""
    return element.parent.execute_script(
        "return [...arguments[0].querySelectorAll('img')]"
        ".filter(img => img.complete && img.naturalWidth > 0).map(img => img.alt)",
        element,
    )


def show_plot(browser: WebDriver, label: str) -> list[str]:
    """Open a plot the way a person does, by its metadata row's "[Show Markdown]" link (the UI
    inlines only short markdown), and return the images its dialog actually decoded."""
    row = text_on_page(browser, label).find_element(By.XPATH, "./ancestor::tr[1]")
    row.find_element(By.XPATH, ".//a[normalize-space()='[Show Markdown]']").click()
    dialog = WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: next(iter(driver.find_elements(By.CSS_SELECTOR, "[role=dialog]")), None)
    )
    images = WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda _: loaded_images(dialog), f"the {label} dialog showed no decoded image"
    )
    # The dialog fades in: until it is opaque, a screenshot shows the page through it.
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: driver.execute_script(
            "for (let e = arguments[0]; e; e = e.parentElement) {"
            " if (getComputedStyle(e).opacity !== '1') return false; }"
            " return true;",
            dialog,
        )
    )
    return images


def close_dialog(browser: WebDriver) -> None:
    browser.find_element(By.XPATH, "//*[@role='dialog']//button[normalize-space()='Close']").click()
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: not driver.find_elements(By.CSS_SELECTOR, "[role=dialog]")
    )


def row_value(browser: WebDriver, label: str) -> str:
    """What a metadata table shows beside `label`."""
    row = text_on_page(browser, label).find_element(By.XPATH, "./ancestor::tr[1]")
    return row.find_elements(By.TAG_NAME, "td")[1].text.strip()


def shows_asset(labels: list[str], name: str) -> bool:
    """Whether a graph node shows `name`: in full, or cut in the middle as the zoomed-out graph
    draws long names ("lora_adap…_epoch_1")."""
    for label in labels:
        head, cut, tail = label.partition("…")
        if label == name or (cut and name.startswith(head) and name.endswith(tail)):
            return True
    return False


def materialization_page(url: str, asset: str, partition: str) -> str:
    return f"{url}/assets/{asset}?view=events&partition={partition}"


def graph_labels(browser: WebDriver) -> list[str]:
    """The names the lineage graph draws on its nodes and group boxes, as far as it shows them
    (a collapsed group's name comes first, above its counts of assets by status)."""
    return [
        node.text.strip().split("\n")[0]
        for node in browser.find_elements(By.CSS_SELECTOR, "svg foreignObject")
        if node.is_displayed()
    ]


def click_graph_node(browser: WebDriver, name: str) -> None:
    node = next(
        n
        for n in browser.find_elements(By.CSS_SELECTOR, "svg foreignObject")
        if n.is_displayed() and shows_asset([n.text.strip().split("\n")[0]], name)
    )
    node.click()


def test_lineage_graph_shows_every_epoch_and_the_winner_one_click_away(
    dagster_dev, trained_run, browser
):
    browser.get(f"{dagster_dev}/asset-groups")
    # Groups start collapsed: the graph reads as data and model feeding a chain of epochs, one
    # group each, that ends in the release.
    chain = ["data", "model", *(f"epoch_{k}" for k in range(1, MAX_EPOCHS + 1)), "release"]
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: all(name in graph_labels(driver) for name in chain),
        f"the graph never drew all of {chain}",
    )
    screenshot(browser, "lineage.png")

    # One click on the chosen epoch opens it: its adapter, its hub checkpoint and its scores.
    run_key = trained_run.run_key
    chosen = latest_metadata(trained_run.instance, "best_checkpoint", run_key)["chosen_epoch"]
    click_graph_node(browser, f"epoch_{chosen}")
    inside = [f"{asset}_epoch_{chosen}" for asset in ("lora_adapter", "hub_checkpoint", "scores")]
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: all(shows_asset(graph_labels(driver), name) for name in inside),
        f"the opened epoch does not show all of {inside}",
    )
    screenshot(browser, "lineage_epoch.png")

    # The winner is one click away in the release group: beside the graph, the chosen epoch
    # plotted per training run, its blocking check, and the way to its page.
    browser.get(f"{dagster_dev}/asset-groups")
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: "release" in graph_labels(driver), "the graph never drew the release"
    )
    click_graph_node(browser, "release")
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: shows_asset(graph_labels(driver), "best_checkpoint"),
        "the release group does not show best_checkpoint",
    )
    click_graph_node(browser, "best_checkpoint")
    text_on_page(browser, "chosen_epoch")
    text_on_page(browser, "beats_median_baseline")
    text_on_page(browser, "View in Asset Catalog")


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
    screenshot(browser, "best_checkpoint.png")

    for label, alt in [
        ("validation_curve", "validation error per epoch"),
        ("winner_truth_vs_guess", "truth against guess"),
        ("loss_curve", "training loss and learning rate"),
    ]:
        assert show_plot(browser, label) == [alt]
        if label == "validation_curve":
            screenshot(browser, "validation_curve.png")
        close_dialog(browser)
