"""The several-nodes bench (``python -m bench.nodes``) at a tiny size on the real PostgreSQL: the load
split over two nodes reaches both, and the failover part moves stations from a killed node to the
other with nothing acknowledged lost. Timings are not asserted."""

from __future__ import annotations

import pytest

from bench import nodes
from bench.scenarios import Scenario, drive
from tests import pg

pytestmark = pytest.mark.slow


async def test_two_nodes_share_the_load_and_a_killed_nodes_stations_move() -> None:
    database = pg.server_url()
    scenario = Scenario("saturation", stations=4, duration=1.5, workers=2)
    assert [plan.url for plan in scenario.plans(["ws://a", "ws://b"])] == ["ws://a", "ws://b"]
    with nodes._schemas(database) as made:
        async with nodes._nodes(nodes._fresh(database, made), 2) as (a, b):
            run = await drive([a.url, b.url], scenario)
        assert run["setup"]["set_up"] == 4 and run["steps"][0]["achieved_rate"] > 0
        moved = await nodes.failover(database, made, 3)
    assert moved["acknowledged"] > 0 and moved["lost"] == 0 and moved["refused"] == []
