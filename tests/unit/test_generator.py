from collections import Counter

import pytest

from riskstream.core.errors import ConfigError
from riskstream.cli.generator import SURFACES, GeneratorSettings, Incident, generate


def test_same_seed_same_stream_and_another_seed_another():
    settings = GeneratorSettings(seed=3, count=200)
    first = [g.record for g in generate(settings)]
    assert first == [g.record for g in generate(settings)]
    assert first != [g.record for g in generate(GeneratorSettings(seed=4, count=200))]


def test_dimensions_are_the_documented_ones():
    records = [g.record for g in generate(GeneratorSettings(count=2000))]
    assert set(r["surface"] for r in records) == set(SURFACES)
    assert len(set(r["creator_id"] for r in records)) > 50
    assert all(r["caption"] for r in records)


def test_incident_multiplies_unsafe_items_in_its_surface_region_and_time_only():
    incident = Incident.parse("surface=shorts,region=br,start=1,multiplier=10")
    settings = GeneratorSettings(count=60_000, rate=500.0, incidents=(incident,), base_unsafe_rate=0.02)
    unsafe, total = Counter(), Counter()
    for g in generate(settings):
        r = g.record
        minute = (r["event_time"] - settings.start_ms) // 60_000
        key = (r["surface"] == "shorts" and r["region"] == "br", minute >= 1)
        total[key] += 1
        unsafe[key] += bool(g.labels)
    rate = {k: unsafe[k] / total[k] for k in total}
    assert rate[(True, True)] > 0.12            # about 20%: ten times the base rate
    assert rate[(True, False)] < 0.06           # same slice before the incident started
    assert rate[(False, True)] < 0.04           # other slices during the incident


@pytest.mark.parametrize("text", ["surface=shorts", "surface=moon,region=br,start=1",
                                  "surface=shorts,region=br,start=x", "surface=shorts,region=br,start=1,color=red"])
def test_bad_incident_specs_are_rejected_with_the_expected_form(text):
    with pytest.raises(ConfigError, match="incident"):
        Incident.parse(text)
