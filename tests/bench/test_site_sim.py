"""The simulated site bench, in a short run: its cars obey, its meter reads them, its figures add up."""

from __future__ import annotations

import pytest

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
    text = markdown({"when": "now", "machine": "here", "load_average_1_5_15": [0, 0, 0], "figures": figures})
    assert f"on a {LIMIT:g} A site" in text
