"""Driving the Dagster UI in Debian's headless Chromium: the browser tests and the screenshot
script share it.

Selenium drives the real Chromium through Debian's chromedriver, named by path so Selenium never
looks for a driver to download.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from assets.epoch_keys import TRAINING_GROUP, scores_key

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


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[WebDriver]:
    """Debian's headless Chromium, driven through its chromedriver, its profile in `profile`."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()  # ends Chromium and every process of its own, then chromedriver


def screenshot(browser: WebDriver, path: Path) -> None:
    # Selenium reports a failed write by returning False, not by raising.
    if not browser.save_screenshot(str(path)):
        raise OSError(f"could not write {path}")


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
    """Click a node or group box once the graph draws it."""
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: shows_asset(graph_labels(driver), name), f"the graph never drew {name}"
    )
    node = next(
        n
        for n in browser.find_elements(By.CSS_SELECTOR, "svg foreignObject")
        if n.is_displayed() and shows_asset([n.text.strip().split("\n")[0]], name)
    )
    node.click()


def group_counts(browser: WebDriver, group: str) -> dict[str, int]:
    """The counts a collapsed group's box draws, by colour: green for assets materialized and
    passing, yellow for missing, red for failed (a failed ERROR check included)."""
    box = next(
        node
        for node in browser.find_elements(By.CSS_SELECTOR, "svg foreignObject")
        if node.is_displayed() and node.text.strip().split("\n")[0] == group
    )
    counts = {}
    for tag in box.find_elements(By.XPATH, ".//div[contains(@style, '--tag-fill-color')]"):
        colour = _colour(tag.get_attribute("style"), "--tag-fill-color")
        counts[colour] = int(tag.text.strip())
    return counts


def training_chain(url: str) -> str:
    """The lineage graph of the training group alone: a group shown alone is drawn open, its
    epochs one chain from left to right (the search box's `group:training`)."""
    return f"{url}/asset-groups~group:{TRAINING_GROUP}/"


def node_colour(browser: WebDriver, name: str) -> str | None:
    """The colour an open group draws asset `name`'s box in ("green", "red", "yellow"), read
    from the style the UI gives it; None while the node is not drawn."""
    for node in browser.find_elements(By.CSS_SELECTOR, "svg foreignObject"):
        if node.text.strip() == name:
            boxes = node.find_elements(By.XPATH, ".//div[contains(@style, '--minimal-bg')]")
            return _colour(boxes[0].get_attribute("style"), "--minimal-bg") if boxes else None
    return None


def _colour(style: str, variable: str) -> str:
    # e.g. "--minimal-bg: var(--color-background-red)" -> "red"
    value = style.split(f"{variable}:", 1)[1].split(";", 1)[0]
    return value.strip().removeprefix("var(--color-background-").removesuffix(")")


def failed_in_training(browser: WebDriver, url: str) -> int:
    """The lineage graph's first view: the failed count on the collapsed training group, once
    its counts are drawn (they arrive after the boxes)."""
    browser.get(f"{url}/asset-groups")
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: TRAINING_GROUP in graph_labels(driver), "the graph never drew training"
    )
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda driver: "green" in group_counts(driver, TRAINING_GROUP), "no counts on training"
    )
    return group_counts(browser, TRAINING_GROUP).get("red", 0)


def scores_colours(browser: WebDriver, url: str, epochs: int) -> dict[int, str | None]:
    """Each epoch's scores colour in the training chain, once every one is drawn."""
    browser.get(training_chain(url))
    names = {epoch: scores_key(epoch) for epoch in range(1, epochs + 1)}

    def drawn(driver: WebDriver) -> dict[int, str | None] | None:
        found = {epoch: node_colour(driver, name) for epoch, name in names.items()}
        return found if all(found.values()) else None

    return WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        drawn, "the training chain never drew every epoch's scores"
    )
