"""Screenshot the Airflow UI's form for the `equipme` connection type (headless Chromium).

A one-off documentation artefact, not a test (the provider info is tested through Airflow's
ProvidersManager in tests/dags/test_equipme_connection.py). Needs the Debian packages
`chromium` and `chromium-driver` and `selenium` in the interpreter that runs this script
(not a project dependency), and an Airflow api-server with this package installed:

    export AIRFLOW_HOME=$(mktemp -d) AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
    .venv/bin/airflow db migrate && .venv/bin/airflow api-server --host 127.0.0.1 --port 18793 &
    /path/to/selenium-venv/bin/python scripts/screenshot_connection_form.py \
        http://127.0.0.1:18793 docs/img/airflow-equipme-connection.png
"""

from __future__ import annotations

import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def main(base_url: str, out: str) -> None:
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1000,1000")
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.set_page_load_timeout(120)
        driver.get(f"{base_url}/connections")
        time.sleep(10)  # the React app loads its bundle and the hook metadata
        add = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Add Connection"]
        add[0].click()
        time.sleep(4)
        dialog = driver.find_element(By.CSS_SELECTOR, "[role=dialog]")
        dialog.find_element(By.CSS_SELECTOR, "input[name=connection_id]").send_keys(
            "equipme_default"
        )
        combo = dialog.find_element(By.CSS_SELECTOR, "input[role=combobox]")
        combo.click()
        combo.send_keys("Equipme")
        time.sleep(2)
        combo.send_keys(Keys.ENTER)
        time.sleep(4)
        dialog.find_element(By.CSS_SELECTOR, "input[name=host]").send_keys("https://api.equipme.io")
        # A dummy key: the form masks it (type=password), which is what the picture shows.
        dialog.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys("x" * 24)
        driver.find_element(By.TAG_NAME, "body").click()
        time.sleep(1)
        dialog.screenshot(out)
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
