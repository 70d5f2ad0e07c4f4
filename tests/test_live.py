"""The live page in a real browser: Debian's chromium driven by Playwright (``executable_path``; Playwright's own
browser download is not used). The camera reads a generated frame served as a live MJPEG stream by a separate
process; the page must show the frame's number, and then the lost state once that process is killed. A screenshot of
each goes to test-artifacts/."""

import contextlib
import shutil
import signal
import subprocess
import sys

import pytest

from tests.helpers import ROOT, free_port, mjpeg_source, wait_for_port

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt install chromium)")


@pytest.fixture
def live_source(number_frame):
    with mjpeg_source(number_frame[0]) as source:
        yield source


@contextlib.contextmanager
def _serving(source: str, *options):
    """``edgedigits camera --serve`` on ``source`` (with ``options``) in its own process: yields its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edgedigits", "camera", "--source", source,
                             "--serve", f"127.0.0.1:{port}", "--smooth", "1", *map(str, options)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def camera(live_source):
    with _serving(live_source[0]) as url:
        yield url, live_source[1]


@pytest.fixture
def page():
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser.new_page(viewport={"width": 412, "height": 915})  # a phone's screen
        finally:
            browser.close()


def test_the_page_shows_the_number_the_camera_reads(camera, page, number_frame):
    url, _ = camera
    page.goto(url)
    page.wait_for_function("(want) => document.getElementById('numbers').dataset.reading === want",
                           arg=number_frame[1], timeout=60_000)
    page.wait_for_function("() => document.getElementById('state').dataset.state === 'live'", timeout=30_000)
    assert page.locator("#rows tr").count() >= 1 and page.locator("#model").inner_text().endswith(".tflite")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-page.png"), full_page=True)


def test_the_page_shows_when_the_camera_is_lost(camera, page, number_frame):
    url, source = camera
    page.goto(url)
    page.wait_for_function("() => document.getElementById('state').dataset.state === 'live'", timeout=60_000)
    source.kill()  # the camera's stream is gone
    page.wait_for_function("() => document.getElementById('state').dataset.state === 'lost'", timeout=60_000)
    assert "lost" in page.locator("#state").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-page-lost.png"), full_page=True)


@pytest.fixture
def collecting_camera(live_source, tmp_path):
    with _serving(live_source[0], "--collect", tmp_path / "mine") as url:
        yield url, tmp_path / "mine"


def test_a_flagged_reading_is_collected_and_labelled_on_the_review_tab(collecting_camera, page, number_frame):
    url, folder = collecting_camera
    page.goto(url)
    page.wait_for_function("(want) => document.getElementById('numbers').dataset.reading === want",
                           arg=number_frame[1], timeout=60_000)
    before = len(list((folder / "unlabelled").glob("*.28.png")))
    page.click("#flag")  # "this reading is wrong": every digit of the frame is kept
    page.wait_for_function("() => document.getElementById('flagged').dataset.saved !== undefined", timeout=30_000)
    saved = int(page.locator("#flagged").get_attribute("data-saved"))
    crops = sorted((folder / "unlabelled").glob("*.28.png"))
    assert before + saved == len(crops) == len(number_frame[1])  # each digit once, however it was read
    page.click("#review")
    page.wait_for_selector(".tile")
    assert page.locator(".tile").count() == len(crops) and page.locator("#live").is_visible()
    first = page.locator(".tile").nth(0).get_attribute("data-id")
    page.keyboard.press("7")
    page.wait_for_function("(n) => document.querySelectorAll('.tile').length === n", arg=len(crops) - 1)
    assert (folder / "7" / f"{first}.png").is_file() and (folder / "7" / f"{first}.json").is_file()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-review-tab.png"), full_page=True)
