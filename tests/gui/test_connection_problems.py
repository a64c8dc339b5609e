"""A bad PostgreSQL or Redis URL: a readable message in the window, and a way to fix it; never a crash."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from jobdesk.config import Settings
from jobdesk.embedded import EmbeddedConnector
from jobdesk.ui.console import Console
from jobdesk.ui.prefs import Prefs, PrefsStore
from tests.gui.conftest import Harness

# Any free port: a test must not depend on 3000 and 3001 being free.
FREE_PORTS = Prefs(api_port=0, ws_port=0)


@pytest.mark.parametrize(
    ("field", "url", "expected"),
    [
        ("database_url", "postgresql://nobody@127.0.0.1:1/nowhere", "cannot reach PostgreSQL"),
        ("database_url", "definitely not a url", "JOBDESK_DATABASE_URL"),
        ("redis_url", "redis://127.0.0.1:1/0", "cannot reach Redis"),
    ],
)
def test_bad_url_shows_a_readable_message(
    gui: Harness, settings: Settings, prefs_store: PrefsStore, field: str, url: str, expected: str
) -> None:
    prefs_store.save(replace(FREE_PORTS, **{field: url}))
    console = Console(EmbeddedConnector(settings, workers=0), prefs_store)
    try:
        assert gui.run(console.start(), timeout=60) is False
        window = console.window
        assert window.stack.currentWidget() is window.connection_page
        message = window.connection_page.message.text()
        assert expected in message and "Traceback" not in message
        assert window.connection_page.settings_button.isVisible()
        assert console.client is None and not window.job_actions.create.isEnabled()
    finally:
        gui.run(console.shutdown())


def test_fixing_the_url_in_settings_connects(gui: Harness, settings: Settings, tmp_path: Path) -> None:
    from jobdesk.ui.qt import core

    store = PrefsStore(core.QSettings(str(tmp_path / "p.ini"), core.QSettings.Format.IniFormat))
    store.save(replace(FREE_PORTS, redis_url="redis://127.0.0.1:1/0"))
    console = Console(EmbeddedConnector(settings, workers=0), store)
    try:
        assert gui.run(console.start(), timeout=60) is False
        dialog = console.open_settings()
        assert dialog.redis_url.text() == "redis://127.0.0.1:1/0"
        dialog.redis_url.setText("http://wrong-scheme")
        dialog.on_buttons_accepted()
        assert "redis://" in dialog.problem.text() and dialog.isVisible()  # refused before connecting
        dialog.redis_url.setText(settings.redis)
        dialog.on_buttons_accepted()
        assert not dialog.isVisible()

        async def connected() -> None:
            await gui.until(lambda: console.client is not None, timeout=60, what="a connection")

        gui.run(connected(), timeout=90)
        assert console.window.stack.currentWidget() is console.window.tabs
        assert store.load().redis_url is None  # the environment's value again: nothing to keep
    finally:
        gui.run(console.shutdown())
