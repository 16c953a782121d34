"""The web demo in a real browser: headless Chromium (Selenium) drives the Gradio app.

The app runs on 127.0.0.1 with a tiny random-weight model; a real photo is uploaded,
a vocabulary typed (with a suggestion picked), and the page must show what
`LarvSeg.segment` computes for the same input. Neither the server nor the page may
reach beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import socket
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import torch
from PIL import Image

from larvseg.config import ModelConfig
from larvseg.modeling.model import LarvSegModel
from larvseg.segmenter import LarvSeg

pytest.importorskip("gradio")
webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.slow  # starts a server and a browser (about 10-30 s)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from larvseg.demo.app import launch  # noqa: E402

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1500",
]
WNIDS = ["n02084071", "n02121808", "n01503061", "n03791053", "n12102133"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
TIMEOUT = 120  # seconds; the first unknown synset loads nltk's WordNet for suggestions


@pytest.fixture(scope="module")
def segmenter(tiny_cosine_config: Callable[..., ModelConfig]) -> LarvSeg:
    torch.manual_seed(0)
    return LarvSeg(LarvSegModel(tiny_cosine_config(WNIDS)).eval(), device="cpu")


@pytest.fixture(scope="module")
def resolved_hosts() -> Iterator[set[str]]:
    """Every host name the server process looks up while the app runs."""
    hosts: set[str] = set()
    original = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        hosts.add(host.decode() if isinstance(host, bytes) else str(host))
        return original(host, *args, **kwargs)

    socket.getaddrinfo = recording
    yield hosts
    socket.getaddrinfo = original


@pytest.fixture(scope="module")
def app_url(
    segmenter: LarvSeg, resolved_hosts: set[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    work_dir = tmp_path_factory.mktemp("demo_files")
    demo = launch(segmenter, work_dir, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium_profile')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def open_app(browser: Any, url: str) -> WebDriverWait:
    browser.get(url)
    wait = WebDriverWait(browser, TIMEOUT)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#image-input input[type=file]"))
    return wait


def upload(browser: Any, path: Path) -> None:
    browser.find_element(By.CSS_SELECTOR, "#image-input input[type=file]").send_keys(str(path))


def toasts(browser: Any) -> str:
    return "\n".join(
        e.text for e in browser.find_elements(By.CSS_SELECTOR, "[data-testid=toast-body]")
    )


def legend_rows(browser: Any) -> dict[str, tuple[str, str]]:
    """Legend rows: synset (or "unlabeled") -> (area, pixels) as the page shows them."""
    rows = {}
    for row in browser.find_elements(By.CSS_SELECTOR, "#legend tbody tr"):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        rows[cells[1]] = (cells[4], cells[5])
    return rows


def natural_size(browser: Any, selector: str) -> tuple[int, int]:
    image = browser.find_element(By.CSS_SELECTOR, f"{selector} img")
    width, height = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image
    )
    return width, height


def test_segment_a_real_photo_in_the_browser(
    browser: Any,
    app_url: str,
    segmenter: LarvSeg,
    real_images: list[Path],
    resolved_hosts: set[str],
    tmp_path: Path,
) -> None:
    photo = real_images[5]  # an Eskimo dog in snow
    vocab = ["dog.n.01", "grass.n.01"]
    expected = segmenter.segment(photo, vocab=vocab, mode="open")
    wait = open_app(browser, app_url)

    upload(browser, photo)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#input-preview img"))
    box = browser.find_element(By.CSS_SELECTOR, "#vocab textarea")
    box.send_keys("dog")  # suggestions show the senses with their glosses
    wait.until(lambda b: "genus Canis" in b.find_element(By.ID, "suggestions").text)
    browser.find_element(By.CSS_SELECTOR, "#suggestions [data-testid=cell-0-0]").click()
    wait.until(lambda b: box.get_attribute("value") == "dog.n.01, ")
    box.send_keys("grass.n.01")  # a full synset name shows its own gloss
    wait.until(lambda b: "narrow-leaved green herbage" in b.find_element(By.ID, "suggestions").text)
    browser.find_element(By.CSS_SELECTOR, "#mode input[value=open]").click()
    browser.find_element(By.ID, "segment").click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#legend tbody tr"))
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#downloads a"))

    total = expected.height * expected.width
    want = {
        c.name: (f"{100 * n / total:.1f}%", f"{n:,}")
        for c, n in zip(expected.categories, expected.pixel_counts().values(), strict=True)
    }
    unlabeled = int((expected.labels < 0).sum())
    if unlabeled:
        want["unlabeled"] = (f"{100 * unlabeled / total:.1f}%", f"{unlabeled:,}")
    assert set(want) & set(vocab), "the photo should show a requested synset"
    assert legend_rows(browser) == want
    # the overlay and the confidence map have the photo's size, hence its aspect
    photo_size = Image.open(photo).size
    assert natural_size(browser, "#overlay") == photo_size
    assert natural_size(browser, "#confidence") == photo_size
    links = {
        Path(urlparse(a.get_attribute("href")).path).name: a.get_attribute("href")
        for a in browser.find_elements(By.CSS_SELECTOR, "#downloads a")
    }
    assert set(links) == {
        f"{photo.stem}_labels.png",
        f"{photo.stem}.json",
        f"{photo.stem}_overlay.png",
    }
    with urllib.request.urlopen(links[f"{photo.stem}.json"]) as response:
        summary = json.load(response)
    assert [(c["name"], c["pixels"]) for c in summary["categories"]] == [
        (c.name, n)
        for c, n in zip(expected.categories, expected.pixel_counts().values(), strict=True)
    ]
    browser.save_screenshot(str(tmp_path / "demo.png"))
    assert "Traceback" not in browser.find_element(By.TAG_NAME, "body").text

    # nothing left 127.0.0.1: the page's requests and the server's host lookups
    requested = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = urlparse(message["params"]["request"]["url"])
            if url.scheme in ("http", "https", "ws", "wss"):
                requested.add(url.hostname)
    assert requested == {"127.0.0.1"}
    assert resolved_hosts <= LOCAL_HOSTS


def test_bad_input_shows_the_librarys_message_and_notes_in_the_page(
    browser: Any, app_url: str, real_images: list[Path], tmp_path: Path
) -> None:
    wait = open_app(browser, app_url)
    notes = tmp_path / "notes.jpg"
    notes.write_text("a shopping list, not a photo")
    upload(browser, notes)
    wait.until(lambda b: "not an image Pillow can read" in toasts(b))
    assert "notes.jpg: not an image Pillow can read" in toasts(browser)

    wait = open_app(browser, app_url)  # a fresh page, with no file
    upload(browser, real_images[0])
    browser.find_element(By.CSS_SELECTOR, "#vocab textarea").send_keys("notaword.n.01")
    browser.find_element(By.ID, "segment").click()
    wait.until(lambda b: "unknown synset notaword.n.01" in toasts(b))
    browser.save_screenshot(str(tmp_path / "error.png"))
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in page and 'File "' not in page

    # a plain word with several senses works, and the page says which sense it took
    box = browser.find_element(By.CSS_SELECTOR, "#vocab textarea")
    box.clear()
    box.send_keys("grass")
    browser.find_element(By.ID, "segment").click()
    wait.until(lambda b: "'grass' read as grass.n.01" in toasts(b))
    wait.until(lambda b: "grass.n.01" in b.find_element(By.ID, "legend").text)
