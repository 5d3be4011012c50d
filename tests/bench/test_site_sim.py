"""The simulated site bench, in a short run: its cars obey, its meter reads them, its figures add up;
the full actor round and the night of charging needs it reports beside them."""

from __future__ import annotations

import pytest
import trio

from bench import site_needs, site_round
from bench.site_sim import LIMIT, markdown, run_site


@pytest.mark.slow
async def test_a_short_site_run_stays_within_the_limit_but_for_the_reactions() -> None:
    figures = await run_site(steps=(10.0, 50.0, 15.0), step=4.0)
    reaction = figures["reaction_s"]
    assert reaction["steps"] >= 1, "the 50 A step put the site over its limit"
    # Over the limit only while reacting: no stretch longer than the slowest reaction plus a sample.
    assert figures["longest_over_s"] <= reaction["max"] + 0.2
    assert figures["jain"] is not None and figures["jain"] > 0.95, "equal shares alike"
    assert figures["energy_ratio"] is not None and 0.5 < figures["energy_ratio"] <= 1.05
    assert figures["rounds"]["change"] >= 1 and figures["profile_sends"]["accepted"] >= 10

    figures["round"] = round_figures = await site_round.measure()
    assert round_figures["checkpoint_event_bytes"] > round_figures["event_bytes"], (
        "only checkpoints hold the view"
    )

    figures["needs"] = needs = await trio.to_thread.run_sync(site_needs.measure)
    by_mode = {m["mode"]: m for m in needs["modes"]}
    assert [m["rounds_over_limit"] for m in needs["modes"]] == [0, 0, 0], "plans never break a limit"
    assert by_mode["fastest"]["short_kwh"] < by_mode["off"]["short_kwh"], (
        "planning for needs delivers more of them"
    )
    assert by_mode["cheapest"]["cost_per_kwh"] < by_mode["fastest"]["cost_per_kwh"], (
        "cheapest follows the tariff"
    )
    runs = needs["circuits"]["runs"]
    assert all(r["rounds_over_limit"] == 0 and r["rounds_over_a_circuit"] == 0 for r in runs)
    for blind, seeing in zip(runs[::2], runs[1::2], strict=True):
        assert seeing["plans_paused_by_the_round"] < blind["plans_paused_by_the_round"], (
            "a plan that sees the circuits is admitted as planned"
        )

    text = markdown({"when": "now", "machine": "here", "load_average_1_5_15": [0, 0, 0], "figures": figures})
    assert f"on a {LIMIT:g} A site" in text
    assert "One full site actor round for 1,000 connectors" in text and "| `cheapest` |" in text
