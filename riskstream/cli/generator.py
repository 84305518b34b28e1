"""Deterministic synthetic impressions with realistic dimensions and injectable incidents.

>>> from riskstream.cli.generator import GeneratorSettings, Incident, generate
>>> settings = GeneratorSettings(seed=1, count=3, rate=10.0, start_ms=1_700_000_000_000)
>>> [g.record["event_time"] for g in generate(settings)]
[1700000000000, 1700000000100, 1700000000200]
>>> Incident.parse("surface=shorts,region=br,start=3,multiplier=10").surface
'shorts'
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from riskstream.core import captions as caption_store
from riskstream.core.errors import ConfigError

SURFACES = {"home_feed": 0.45, "shorts": 0.25, "search": 0.2, "notifications": 0.1}
REGIONS = {"us": 0.35, "eu": 0.3, "br": 0.15, "in": 0.15, "jp": 0.05}
RECOMMENDER_VERSIONS = {"recsys-2026.10": 0.7, "recsys-2026.11": 0.3}
ITEM_CATEGORIES = ("news", "music", "gaming", "comedy", "beauty", "sports", "education", "food")
ITEMS_PER_CAPTION = 4  # several items share a caption, as reposts do
CREATORS = 400
USERS = 20_000
# Cohorts, fixed per viewer and per creator (derived from their ids, so streams stay what they were).
AGE_BANDS = {"13-17": 0.1, "18-24": 0.25, "25-34": 0.3, "35-54": 0.25, "55+": 0.1}
LOCALES = {"us": ("en-US", "es-US"), "eu": ("de-DE", "fr-FR", "es-ES"), "br": ("pt-BR",), "in": ("hi-IN", "en-IN"),
           "jp": ("ja-JP",)}
CREATOR_COHORTS = {"new": 0.2, "established": 0.5, "veteran": 0.3}
# Slang people read as praise and the default model scores as toxic (about a third of benign captions with it
# cross a 0.5 threshold, against a twelfth without): a biased cohort's benign captions carry it.
BIAS_PHRASE = "that beat is sick, absolutely killing it"


@dataclass(frozen=True)
class Incident:
    """From `start` minutes into the stream (until `end`, if given), one surface in one region
    serves `multiplier` times the base rate of unsafe items; only in one item category, recommender model
    version and/or viewer age band when `category` / `model_version` / `viewer_age_band` narrow it (a
    cause for `explain`, a cohort that bears the harm)."""

    surface: str
    region: str
    start: float
    multiplier: float = 10.0
    end: float | None = None
    category: str | None = None
    model_version: str | None = None
    viewer_age_band: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Incident":
        """Parse `surface=S,region=R,start=MIN[,multiplier=X][,end=MIN][,category=C][,model_version=V]
        [,viewer_age_band=B]`."""
        try:
            fields = dict(part.split("=", 1) for part in text.split(",") if part)
            incident = cls(surface=fields.pop("surface"), region=fields.pop("region"),
                           start=float(fields.pop("start")), multiplier=float(fields.pop("multiplier", 10.0)),
                           end=float(fields["end"]) if "end" in fields else None,
                           category=fields.pop("category", None), model_version=fields.pop("model_version", None),
                           viewer_age_band=fields.pop("viewer_age_band", None))
            fields.pop("end", None)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"incident {text!r}: expected surface=S,region=R,start=MIN[,multiplier=X][,end=MIN]"
                              f"[,category=C][,model_version=V][,viewer_age_band=B]") from exc
        if fields:
            raise ConfigError(f"incident {text!r}: unknown keys {sorted(fields)}")
        if incident.surface not in SURFACES or incident.region not in REGIONS:
            raise ConfigError(f"incident {text!r}: surface must be one of {sorted(SURFACES)}, "
                              f"region one of {sorted(REGIONS)}")
        for name, allowed in (("category", ITEM_CATEGORIES), ("model_version", RECOMMENDER_VERSIONS),
                              ("viewer_age_band", AGE_BANDS)):
            if getattr(incident, name) not in (None, *allowed):
                raise ConfigError(f"incident {text!r}: {name} must be one of {', '.join(allowed)}")
        return incident

    @property
    def narrowed(self) -> bool:
        return any(v is not None for v in (self.category, self.model_version, self.viewer_age_band))

    def applies(self, category: str, model_version: str, viewer_age_band: str) -> bool:
        return (self.category in (None, category) and self.model_version in (None, model_version)
                and self.viewer_age_band in (None, viewer_age_band))

    def active(self, surface: str, region: str, minute: float) -> bool:
        return (surface == self.surface and region == self.region and minute >= self.start
                and (self.end is None or minute < self.end))


@dataclass(frozen=True)
class Catalogue:
    """An item catalogue as recommendation traffic sees it: `items` items, each with a caption of its own
    composed from the labelled corpus, shown with Zipf popularity (rank r drawn with weight (r+1)^-exponent),
    plus a stream of new items (`new_item_share` of impressions show an item never shown before).

    A tenth of the items are composed from unsafe captions; which pool an impression draws from follows
    the base unsafe rate and incidents, as without a catalogue."""

    items: int = 1_000_000
    zipf_exponent: float = 1.1
    new_item_share: float = 0.0

    def __post_init__(self) -> None:
        if self.items < 10 or self.zipf_exponent <= 0 or not 0 <= self.new_item_share <= 1:
            raise ConfigError(f"catalogue: needs items >= 10, a Zipf exponent > 0 and a new-item share in [0, 1], "
                              f"got {self.items}, {self.zipf_exponent}, {self.new_item_share}")


@dataclass(frozen=True)
class LabelSampling:
    """A review queue: each impression's item, not yet labelled, is labelled by a person with probability
    `share` (so items are sampled by exposure, each once), between `min_delay_s` and `max_delay_s` after the
    impression. The label is the caption's ground truth."""

    share: float = 0.05
    min_delay_s: float = 30.0
    max_delay_s: float = 300.0
    queue: str = "random_sample"

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1 or not 0 <= self.min_delay_s <= self.max_delay_s:
            raise ConfigError(f"labels: needs a share in (0, 1] and 0 <= min delay <= max delay, got {self.share}, "
                              f"{self.min_delay_s}, {self.max_delay_s}")


@dataclass(frozen=True)
class GeneratorSettings:
    seed: int = 42
    count: int = 10_000
    rate: float = 1000.0  # events per second of event time
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    base_unsafe_rate: float = 0.02
    incidents: tuple[Incident, ...] = field(default_factory=tuple)
    # None: every caption of the corpus is shown as ITEMS_PER_CAPTION items, uniformly (a small catalogue).
    catalogue: Catalogue | None = None
    labels: LabelSampling | None = None  # None: no moderation labels
    # A creator cohort whose benign captions the model over-flags (they carry BIAS_PHRASE): a biased model.
    biased_cohort: str | None = None

    def __post_init__(self) -> None:
        if self.biased_cohort not in (None, *CREATOR_COHORTS):
            raise ConfigError(f"biased cohort must be one of {', '.join(CREATOR_COHORTS)}, got {self.biased_cohort!r}")


@dataclass(frozen=True)
class GeneratedImpression:
    """A record for the wire, the ground truth behind it (the caption's labels) and, where a reviewer labels
    its item, the moderation label record (`schemas/moderation_label`)."""

    record: dict
    labels: tuple[str, ...]
    moderation_label: dict | None = None


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _stable_id(prefix: str, *parts: object) -> str:
    return prefix + hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=6).hexdigest()


@functools.lru_cache(maxsize=4)
def _zipf_cumulative(items: int, exponent: float) -> list[float]:
    return list(itertools.accumulate((rank + 1) ** -exponent for rank in range(items)))


class _Pool:
    """One side (safe or unsafe) of a catalogue: Zipf-ranked items whose captions are composed from the corpus.

    Item r's caption is base caption r mod B, followed, for r >= B, by fragments of safe captions that
    spell r // B in base F (F fragments): every rank has its own caption, and its labels are the base's."""

    def __init__(self, name: str, size: int, bases: list, fragments: list[str], exponent: float):
        self.name, self.size, self.bases, self.fragments = name, size, bases, fragments
        self.cumulative = _zipf_cumulative(size, exponent)
        self.new_items = 0

    def draw(self, rng: random.Random, new: bool) -> tuple[str, caption_store.LabelledCaption]:
        if new:
            rank = self.size + self.new_items
            self.new_items += 1
        else:
            rank = rng.choices(range(self.size), cum_weights=self.cumulative)[0]
        base = self.bases[rank % len(self.bases)]
        words, quotient = [], rank // len(self.bases)
        while quotient:
            quotient, digit = divmod(quotient, len(self.fragments))
            words.append(self.fragments[digit])
        text = " ".join([base.text, *words])
        return _stable_id("item-", self.name, rank), caption_store.LabelledCaption(text, base.labels)


def _catalogue_pools(catalogue: Catalogue, safe: list, unsafe: list) -> tuple[_Pool, _Pool]:
    fragments = sorted({" ".join(c.text.split()[:3]) for c in safe})
    unsafe_items = max(1, catalogue.items // 10)
    return (_Pool("safe", catalogue.items - unsafe_items, safe, fragments, catalogue.zipf_exponent),
            _Pool("unsafe", unsafe_items, unsafe, fragments, catalogue.zipf_exponent))


def _stable_number(kind: str, n: int) -> int:
    return int(hashlib.sha256(f"{kind}-{n}".encode()).hexdigest()[:8], 16)


def _share(weights: dict[str, float], number: int) -> str:
    """The key of `weights` whose cumulative share holds `number` (mod 10,000)."""
    point, total = (number % 10_000) / 10_000, 0.0
    for key, weight in weights.items():
        total += weight
        if point < total:
            return key
    return key


def _category(item_id: str) -> str:
    return ITEM_CATEGORIES[int(item_id[5:], 16) % len(ITEM_CATEGORIES)]


def generate(settings: GeneratorSettings, captions: list[caption_store.LabelledCaption] | None = None
             ) -> Iterator[GeneratedImpression]:
    """Yield `settings.count` impressions; the same settings always yield the same stream."""
    captions = caption_store.load() if captions is None else captions
    safe = [c for c in captions if not c.unsafe]
    unsafe = [c for c in captions if c.unsafe]
    rng = random.Random(settings.seed)
    label_rng = random.Random(f"labels-{settings.seed}")  # apart, so labels leave the impressions as they were
    labelled: set[str] = set()
    catalogue = settings.catalogue
    pools = _catalogue_pools(catalogue, safe, unsafe) if catalogue else None
    for i in range(settings.count):
        event_time = settings.start_ms + int(i * 1000 / settings.rate)
        minute = (event_time - settings.start_ms) / 60_000
        surface, region = _pick(rng, SURFACES), _pick(rng, REGIONS)
        unsafe_rate = settings.base_unsafe_rate
        for incident in settings.incidents:
            if not incident.narrowed and incident.active(surface, region, minute):
                unsafe_rate = min(1.0, unsafe_rate * incident.multiplier)

        def draw(unsafe_item: bool):
            if pools is None:
                caption = rng.choice(unsafe if unsafe_item else safe)
                return _stable_id("item-", caption.text, rng.randrange(ITEMS_PER_CAPTION)), caption
            return (pools[1] if unsafe_item else pools[0]).draw(rng, new=rng.random() < catalogue.new_item_share)

        item_id, caption = draw(rng.random() < unsafe_rate)
        user = rng.randrange(USERS)
        version = _pick(rng, RECOMMENDER_VERSIONS)
        category = _category(item_id)
        age_band = _share(AGE_BANDS, _stable_number("age", user))
        if not caption.unsafe:
            # An incident narrowed to a category and/or model version: this impression, safe so far, is
            # unsafe with the probability that brings its segment's rate to `multiplier` times the rate.
            for incident in settings.incidents:
                if incident.narrowed and incident.active(surface, region, minute) and incident.applies(category, version, age_band):
                    target = min(1.0, unsafe_rate * incident.multiplier)
                    if rng.random() < (target - unsafe_rate) / (1.0 - unsafe_rate):
                        item_id, caption = draw(True)
                        while _category(item_id) != category:  # an unsafe item of the same category
                            item_id, caption = draw(True)
                    break
        creator = int(item_id[5:], 16) % CREATORS
        creator_cohort = _share(CREATOR_COHORTS, _stable_number("creator", creator))
        text = caption.text
        if creator_cohort == settings.biased_cohort and not caption.unsafe:
            text = f"{text} {BIAS_PHRASE}"
        record = {
            "event_id": _stable_id("ev-", settings.seed, i),
            "event_time": event_time,
            "request_id": _stable_id("req-", settings.seed, i // 10),
            "user_id_hash": _stable_id("u-", user),
            "item_id": item_id,
            "creator_id": f"creator-{creator:04d}",
            "surface": surface,
            "region": region,
            "recommender_model_version": version,
            "position": i % 10,
            "item_category": category,
            "caption": text,
            "viewer_age_band": age_band,
            "viewer_locale": LOCALES[region][_stable_number("locale", user) % len(LOCALES[region])],
            "creator_cohort": creator_cohort,
        }
        yield GeneratedImpression(record, caption.labels, _label(settings, label_rng, labelled, record, caption))


def _label(settings: GeneratorSettings, rng: random.Random, labelled: set[str], record: dict,
           caption: caption_store.LabelledCaption) -> dict | None:
    """The moderation label of this impression's item, when the review queue picks it (once per item)."""
    sampling = settings.labels
    if sampling is None or record["item_id"] in labelled or rng.random() >= sampling.share:
        return None
    labelled.add(record["item_id"])
    delay_ms = int(rng.uniform(sampling.min_delay_s, sampling.max_delay_s) * 1000)
    return {"label_id": _stable_id("label-", settings.seed, record["item_id"]), "item_id": record["item_id"],
            "labeled_at": record["event_time"] + delay_ms, "reviewer_queue": sampling.queue,
            "reviewed_categories": [], "violating_categories": list(caption.labels)}
