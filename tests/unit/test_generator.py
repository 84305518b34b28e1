from collections import Counter

import pytest

from riskstream.core.errors import ConfigError
from riskstream.cli.generator import SURFACES, Catalogue, GeneratorSettings, Incident, generate
from riskstream.core import captions as caption_store


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


def _catalogue_stream(count, **catalogue):
    return list(generate(GeneratorSettings(seed=5, count=count, catalogue=Catalogue(**catalogue))))


def test_catalogue_items_each_have_one_caption_of_their_own_labelled_as_its_corpus_caption():
    stream = _catalogue_stream(30_000, items=200_000)
    caption_of = {}
    for g in stream:
        assert caption_of.setdefault(g.record["item_id"], g.record["caption"]) == g.record["caption"]
    assert len(set(caption_of.values())) == len(caption_of) > 5_000
    corpus = {c.text: c.labels for c in caption_store.load()}
    for g in stream[:2_000]:
        base = next(text for text in corpus if g.record["caption"].startswith(text))
        assert g.labels == corpus[base]
    assert 0.01 < sum(bool(g.labels) for g in stream) / len(stream) < 0.03  # the base unsafe rate, 0.02


def test_catalogue_popularity_follows_zipf():
    """Among safe items (90% of 1,000), rank r's share is r^-s / H(900, s), computed here independently."""
    exponent, safe_items, count = 1.1, 900, 60_000
    stream = _catalogue_stream(count, items=1_000, zipf_exponent=exponent)
    safe = Counter(g.record["item_id"] for g in stream if not g.labels)
    total = sum(safe.values())
    harmonic = sum(r ** -exponent for r in range(1, safe_items + 1))
    for rank, (_, seen) in enumerate(safe.most_common(3), start=1):
        expected = rank ** -exponent / harmonic
        assert seen / total == pytest.approx(expected, rel=0.08)
    assert len(safe) > 700


def test_new_items_are_never_seen_before():
    stream = _catalogue_stream(3_000, items=1_000, new_item_share=1.0)
    assert len({g.record["item_id"] for g in stream}) == len({g.record["caption"] for g in stream}) == 3_000


def test_a_catalogue_stream_is_reproducible():
    assert [g.record for g in _catalogue_stream(500, items=5_000)] == [g.record for g in _catalogue_stream(500, items=5_000)]


@pytest.mark.parametrize("catalogue", [dict(items=5), dict(zipf_exponent=0), dict(new_item_share=1.5)])
def test_a_bad_catalogue_is_refused(catalogue):
    with pytest.raises(ConfigError, match="catalogue"):
        Catalogue(**catalogue)


@pytest.mark.parametrize("narrowed, field, value", [("category=gaming", "item_category", "gaming"),
                                                    ("viewer_age_band=13-17", "viewer_age_band", "13-17")])
def test_an_incident_narrowed_to_a_segment_raises_only_that_segments_unsafe_share_in_its_slice(narrowed, field, value):
    incident = Incident.parse(f"surface=home_feed,region=us,start=0,multiplier=8,{narrowed}")
    records = list(generate(GeneratorSettings(seed=9, count=40_000, rate=1000.0, incidents=(incident,))))
    inside = [g for g in records if (g.record["surface"], g.record["region"]) == ("home_feed", "us")]

    def share(rows):  # of impressions showing an item whose caption is labelled unsafe
        return sum(bool(g.labels) for g in rows) / len(rows)
    segment = share([g for g in inside if g.record[field] == value])
    others = share([g for g in inside if g.record[field] != value])
    elsewhere = share([g for g in records if g.record["surface"] != "home_feed" and g.record[field] == value])
    assert 0.10 < segment < 0.22 and others < 0.035 and elsewhere < 0.035, (segment, others, elsewhere)


def test_viewers_and_creators_keep_their_cohorts():
    records = [g.record for g in generate(GeneratorSettings(seed=4, count=5000))]
    by_user, by_creator = {}, {}
    for r in records:
        assert by_user.setdefault(r["user_id_hash"], (r["viewer_age_band"], r["region"]))[0] == r["viewer_age_band"]
        assert by_creator.setdefault(r["creator_id"], r["creator_cohort"]) == r["creator_cohort"]
    assert Counter(r["creator_cohort"] for r in records).keys() == {"new", "established", "veteran"}


def test_a_narrowed_incident_names_a_known_segment():
    with pytest.raises(ConfigError, match="category must be one of"):
        Incident.parse("surface=shorts,region=br,start=0,category=knitting")
    with pytest.raises(ConfigError, match="viewer_age_band must be one of"):
        Incident.parse("surface=shorts,region=br,start=0,viewer_age_band=12")
