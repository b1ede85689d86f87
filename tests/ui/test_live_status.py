"""The Live status line shows events the database refused, apart from queue-full drops."""

from app.services.ingest import IngestStats
from ui.widgets.live_status import status_html


def test_unstored_events_are_shown_loud_and_apart_from_drops() -> None:
    """Fails on the old code: events discarded by a stopped writer were not shown at all."""
    html = status_html("Live", IngestStats(queued=1400, stored=960, unstored=440), 0)
    assert "NOT STORED 440 events" in html and "dropped 0" in html
    assert "NOT STORED" not in status_html("Live", IngestStats(queued=5, stored=5), 0)
