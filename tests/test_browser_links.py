"""Bare URLs in text the app echoes stay text in a real Chromium (issue 15, part 2)."""
from __future__ import annotations

import pytest

from bench.appserver import wait_idle
from tests.test_browser import browser, chromium_path_module, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_bare_urls_and_addresses_are_not_links(server, browser):  # noqa: F811
    page = browser.new_page()
    page.goto(f"{server}/sliders")
    wait_idle(page)
    hostile = "Shoe http://evil.example/0 www.evil.example/1 mail@evil.example"
    box = page.get_by_placeholder("e.g. court, boot, KS-0001").first
    box.fill(hostile)
    box.press("Enter")
    wait_idle(page)
    shown = page.get_by_text("No product matches").first
    shown.wait_for(timeout=30_000)
    text = shown.inner_text().replace("\u2060", "")
    assert "http://evil.example/0" in text and "mail@evil.example" in text
    links = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
    assert not [h for h in links if "evil" in h], links
    page.close()
