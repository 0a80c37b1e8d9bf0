"""The built listening-test page in a real headless browser (Debian's Chromium and ChromeDriver, driven by
Selenium; nothing is downloaded): a listener plays and rates every stimulus, submits, and `analyze`
reads what was saved, from the page's download and through `listening-test serve`."""

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

from deepperformer.data.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def built(tmp_path_factory, corpus):
    from deepperformer.listening.build import build
    from deepperformer.listening.config import load_config

    tmp = tmp_path_factory.mktemp("lt")
    cfg = {
        "name": "browser",
        "mode": "mushra",
        "seconds": 1.5,
        "systems": [{"name": "ours"}, {"name": "gl", "vocoder": "griffin-lim"}],
        "excerpts": [
            {"id": "minuet", "file": str(ROOT / "data" / "examples" / "minuet_in_g.krn"), "instrument": "piano"},
            {"id": "violin", "manifest": str(corpus), "clip": read_manifest(corpus)[0].clip_id, "instrument": "violin"},
        ],
    }
    (tmp / "test.yaml").write_text(yaml.safe_dump(cfg))
    build(load_config(tmp / "test.yaml"), tmp / "test", progress=False, log=lambda *a: None)
    return tmp / "test"


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Chromium is missing: apt-get install chromium chromium-driver (.ci/run does)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                "--allow-file-access-from-files", "--mute-audio"):  # fmt: skip
        opts.add_argument(arg)
    opts.add_experimental_option(
        "prefs", {"download.default_directory": str(tmp_path / "downloads"), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _take_the_test(driver, url: str, listener: str, score_of) -> None:
    """Fill the page as a listener: id, training, every page (play everything, move every slider)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    driver.get(url)
    driver.find_element(By.ID, "listener").send_keys(listener)
    driver.find_element(By.ID, "begin").click()
    wait.until(ec.element_to_be_clickable((By.ID, "next"))).click()  # training page -> the test
    pages = 0
    while driver.find_elements(By.ID, "next"):
        nxt = driver.find_element(By.ID, "next")
        assert not nxt.is_enabled()  # nothing played or rated yet
        buttons = driver.find_elements(By.CSS_SELECTOR, ".stim button")
        for n, b in enumerate(buttons, 1):  # one at a time: starting one stops the other
            b.click()
            wait.until(lambda d, n=n: len(d.find_elements(By.CSS_SELECTOR, ".played")) >= n)
        for k, slider in enumerate(driver.find_elements(By.CSS_SELECTOR, "input.rating")):
            driver.execute_script(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", slider, score_of(k)
            )
        wait.until(ec.element_to_be_clickable((By.ID, "next"))).click()
        pages += 1
    assert pages == 2  # one page per excerpt


def test_a_listener_takes_the_test_from_a_file_and_analyze_reads_it(built, browser, tmp_path, run_cli):
    from selenium.webdriver.common.by import By

    _take_the_test(browser, (built / "page" / "index.html").as_uri() + "?rate=4", "anna", lambda k: 100 - 3 * k)
    browser.find_element(By.ID, "save-json").click()
    saved = tmp_path / "downloads" / "answers_anna.json"
    for _ in range(100):
        if saved.exists():
            break
        time.sleep(0.1)
    answers = json.loads(saved.read_text())
    assert answers["listener"] == "anna" and len(answers["ratings"]) == 2 * 4  # 2 excerpts x (2 systems, hidden ref, anchor)
    code, out, err = run_cli("listening-test", "analyze", built, saved, "-o", tmp_path / "report")
    assert code == 0, err
    assert "1 listeners kept (anna)" in out and "8 ratings" in out


def test_a_listener_takes_the_test_through_serve(built, browser, tmp_path, run_cli):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from deepperformer.listening.serve import make_server

    shutil.rmtree(built / "answers", ignore_errors=True)
    server = make_server(built, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _take_the_test(browser, f"http://127.0.0.1:{server.server_port}/index.html?rate=4", "ben", lambda k: 95 - k)
        WebDriverWait(browser, 30).until(lambda d: "received" in d.find_element(By.ID, "status").text)
    finally:
        server.shutdown()
        server.server_close()
    stored = built / "answers" / "ben.json"
    assert json.loads(stored.read_text())["listener"] == "ben"
    code, out, err = run_cli("listening-test", "analyze", built, built / "answers", "-o", tmp_path / "report")
    assert code == 0, err
    assert "1 listeners kept (ben)" in out
