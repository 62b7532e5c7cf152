"""A real browser for the web chat tests: Debian's chromium, driven by Selenium through
chromium-driver (installed by .ci/services). Selenium blocks, so every call runs in a thread:
the bot's fake Bot API server lives on the test's event loop and must keep answering.

Without chromium, chromedriver or the selenium package the browser tests are skipped with the
reason.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
WAIT = 45.0  # a loaded machine answers slowly; a passing test waits far less


def _first(paths: tuple[str, ...], name: str) -> str | None:
    for path in paths:
        if shutil.which(path):
            return path
    return shutil.which(name)


def browser_problem() -> str | None:
    """None when a headless chromium can be driven here, else why not."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed"
    if _first(CHROMIUM, "chromium") is None:
        return "chromium is not installed (apt-get install chromium; .ci/services does)"
    if _first(DRIVER, "chromedriver") is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def tiny_png(width: int = 8, height: int = 6, rgb: tuple[int, int, int] = (47, 111, 79)) -> bytes:
    """A real (decodable) PNG of one colour: what a shopper's photo upload carries."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


class Browser:
    """One headless chromium for a test module; visitors are told apart by local storage."""

    def __init__(self, lang: str = "en") -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = _first(CHROMIUM, "chromium") or ""
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1200,800", f"--lang={lang}", "--no-first-run",
                    "--disable-extensions", "--disable-background-networking"):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {"intl.accept_languages": lang})
        service = Service(executable_path=_first(DRIVER, "chromedriver") or "")
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(WAIT)

    @classmethod
    async def start(cls, lang: str = "en") -> Browser:
        if problem := browser_problem():
            pytest.skip(f"browser tests: {problem}")
        return await asyncio.to_thread(cls, lang)

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)

    async def script(self, source: str, *args: Any) -> Any:
        return await self.run(self.driver.execute_script, source, *args)

    async def open(self, url: str) -> None:
        await self.run(self.driver.get, url)
        await self.until(lambda d: d.execute_script(
            "return !!document.querySelector('.scw-input') && "
            "document.querySelector('.scw-input').placeholder !== ''"))

    async def until(self, condition: Callable[[Any], Any], timeout: float = WAIT) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return await self.run(WebDriverWait(self.driver, timeout, poll_frequency=0.05).until,
                              condition)

    async def send(self, text: str) -> None:
        """Type into the widget and press Enter, as a shopper does."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        def type_it() -> None:
            box = self.driver.find_element(By.CSS_SELECTOR, ".scw-input")
            box.send_keys(text)
            box.send_keys(Keys.ENTER)
        await self.run(type_it)

    async def type_only(self, text: str) -> None:
        """Type into the widget's box without sending (a picture's caption)."""
        from selenium.webdriver.common.by import By

        await self.run(lambda: self.driver.find_element(By.CSS_SELECTOR, ".scw-input")
                       .send_keys(text))

    async def choose_file(self, selector: str, path: str) -> None:
        """Pick a file in a (hidden) file input, as the file chooser would."""
        from selenium.webdriver.common.by import By

        await self.run(lambda: self.driver.find_element(By.CSS_SELECTOR, selector)
                       .send_keys(path))

    async def messages(self) -> list[tuple[str, str]]:
        """(from, text) of every bubble in the widget, as shown (textContent)."""
        return [tuple(pair) for pair in await self.script(
            "return Array.from(document.querySelectorAll('.scw-msg')).map("
            "m => [m.getAttribute('data-from'), m.querySelector('.scw-text').textContent])")]

    async def wait_shop_message(self, where: Callable[[str], bool]) -> str:
        """The first shop message whose text matches, waiting for it to appear."""
        def found(driver: Any) -> str | bool:
            texts = driver.execute_script(
                "return Array.from(document.querySelectorAll('.scw-shop .scw-text'))"
                ".map(e => e.textContent)")
            return next((t for t in texts if where(t)), False)
        return str(await self.until(found))

    async def click_button(self, label: str) -> None:
        from selenium.webdriver.common.by import By

        def click() -> None:
            for button in self.driver.find_elements(By.CSS_SELECTOR, ".scw-button"):
                if button.text == label:
                    button.click()
                    return
            raise AssertionError(f"no button {label!r}")
        await self.run(click)

    async def screenshot(self, path: str) -> None:
        await self.run(self.driver.save_screenshot, path)

    async def quit(self) -> None:
        await self.run(self.driver.quit)
