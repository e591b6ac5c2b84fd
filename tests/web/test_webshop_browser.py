"""A real browser (selenium + Debian chromium, headless) buys the right product on the WebShop site."""

import os
import shutil
import tempfile

import pytest

from hiergym.envs.webshop.instructions import goal_for_task
from hiergym.envs.webshop.reward import is_matching_product

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT_S = 30
TASK = 21
CHROME_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1000",
)


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
    driver_path = shutil.which("chromedriver") or (CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else None)
    if driver_path is None:
        pytest.skip("chromedriver is absent (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="webshop-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(browser, css: str):
    """The element once the page that has it is loaded: a click on a form button returns before
    the next page arrives, so a plain find_element can still see the old page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def test_browser_purchase_shows_the_reward(browser, webshop_server, webshop_store, tmp_path):
    from selenium.webdriver.common.by import By

    goal = goal_for_task(webshop_store, TASK)
    browser.get(f"{webshop_server.url}/new?task={TASK}")  # a start page: reading it creates nothing
    browser.find_element(By.ID, "start-button").click()
    assert goal.instruction in wait_for(browser, "#instruction").text
    box = browser.find_element(By.ID, "search-input")
    box.send_keys(" ".join([*goal.attributes, goal.product_type]))
    browser.find_element(By.ID, "search-button").click()  # a POST answered by a redirect to the page
    wait_for(browser, "button.result-link")
    assert browser.current_url == f"{webshop_server.url}/"
    browser.save_screenshot(str(tmp_path / "results.png"))
    for button in browser.find_elements(By.CSS_SELECTOR, "button.result-link"):
        if is_matching_product(goal, webshop_store.get(button.get_attribute("value"))):
            button.click()
            break
    else:
        pytest.fail("no matching product on the first results page")
    assert wait_for(browser, "#item-title").text
    for kind, value in goal.options:
        browser.find_element(By.CSS_SELECTOR, f'button.option[data-kind="{kind}"][value="{value}"]').click()
        selected = wait_for(browser, f'button.option.selected[data-kind="{kind}"]')
        assert selected.text == value
    browser.save_screenshot(str(tmp_path / "item.png"))
    browser.find_element(By.ID, "buy-now").click()
    assert wait_for(browser, "#reward").text == "1.00"
    browser.save_screenshot(str(tmp_path / "bought.png"))
    assert (tmp_path / "bought.png").stat().st_size > 1000
