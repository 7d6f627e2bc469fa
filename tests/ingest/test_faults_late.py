"""Late data: never-seen messages older than the replay window are stored but kept from the detectors.

Issue #12 item 3. A gauge's live stream runs ahead by more than the replay window (1,024 sequence
numbers); then readings of the day before arrive (a device flushing its backlog) at an emergency
water level. They must be stored (storage is idempotent), marked late, and never reach the
detectors: no score lines at their times and no warning. The same level arriving live afterwards
does raise a warning, which shows the detectors would have reacted had the late data reached them.
"""

from __future__ import annotations

import time

from riverwatch.contract import data_topic

from tests.ingest.test_service import GAUGE, WAIT, count, gauge_payload, publisher, service_factory, wait_until

__all__ = ["publisher", "service_factory"]  # fixtures used below

LIVE_FROM, LIVE, LATE = 1100, 100, 40
NORMAL_FT, FLOOD_FT = 5.0, 15.0  # 1.5 m; 4.6 m is above the gauge's emergency level (3.8 m)


def test_late_readings_are_stored_but_never_fed_to_the_detectors(service_factory, publisher, influx):
    svc = service_factory(detectors=["level_threshold"])
    topic, t0 = data_topic(*GAUGE), time.time() - 2 * 86400
    for seq in range(LIVE_FROM, LIVE_FROM + LIVE):
        publisher.publish(topic, gauge_payload(seq, t0 + 60 * seq, NORMAL_FT))
    for seq in range(LATE):  # the day before, beyond the window: late
        publisher.publish(topic, gauge_payload(seq, t0 + 60 * seq, FLOOD_FT))
    assert wait_until(lambda: svc.stats.received == LIVE + LATE)
    assert svc.wait_idle(WAIT)
    late_until_ns = int((t0 + 60 * LATE) * 1e9)
    assert svc.stats.rejected_by_reason == {}
    assert count(influx, f'SELECT count("value") FROM "reading" WHERE time < {late_until_ns}') == 3 * LATE
    scored_late = count(influx, f'SELECT count("level_threshold") FROM "score" WHERE time < {late_until_ns}')
    scored_live = count(influx, f'SELECT count("level_threshold") FROM "score" WHERE time >= {late_until_ns}')
    assert scored_late == 0 and scored_live > 0
    assert count(influx, 'SELECT count("level") FROM "warning"') == 0
    assert svc.pipeline.open_warnings() == []

    for seq in range(LIVE_FROM + LIVE, LIVE_FROM + LIVE + LATE):  # the same level, live: a warning
        publisher.publish(topic, gauge_payload(seq, t0 + 60 * seq, FLOOD_FT))
    assert wait_until(lambda: svc.stats.received == LIVE + 2 * LATE)
    assert svc.wait_idle(WAIT)
    assert wait_until(lambda: count(influx, 'SELECT count("level") FROM "warning"') > 0)
