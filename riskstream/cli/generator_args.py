"""The generator's command-line options, shared by `riskstream produce` and `riskstream demo`."""
from __future__ import annotations

import argparse
import time

from riskstream.cli.generator import CREATOR_COHORTS, Catalogue, GeneratorSettings, Incident, LabelSampling


def add_options(parser: argparse.ArgumentParser, count: int, rate: float) -> None:
    """The generator's flags, with the command's own default count and rate."""
    parser.add_argument("--seed", type=int, default=42, help="generator seed: same seed, same stream")
    parser.add_argument("--count", type=int, default=count, help="impressions to produce")
    parser.add_argument("--start-ms", type=int, default=None,
                        help="event time of the first impression, epoch ms (default: so the stream ends about now)")
    parser.add_argument("--rate", type=float, default=rate, help="impressions per second of event time")
    parser.add_argument("--base-unsafe-rate", type=float, default=0.02, help="share of unsafe captions outside incidents")
    parser.add_argument("--incident", action="append", default=[], metavar="SPEC",
                        help="surface=S,region=R,start=MIN[,multiplier=X][,end=MIN][,category=C][,model_version=V]"
                             "[,viewer_age_band=B] (category / model_version / viewer_age_band: only that segment of "
                             "the slice gets worse); repeatable")
    parser.add_argument("--catalogue-items", type=int, default=0,
                        help="draw items from a catalogue of this many, each with its own caption, with Zipf "
                             "popularity (0: the corpus's captions as a few items each, uniformly)")
    parser.add_argument("--zipf", type=float, default=1.1, help="the catalogue's Zipf exponent")
    parser.add_argument("--new-items", type=float, default=0.0,
                        help="share of impressions that show an item never shown before (with --catalogue-items)")
    parser.add_argument("--labels-share", type=float, default=0.0,
                        help="also write moderation labels: each impression's item, not yet labelled, is labelled "
                             "with this probability, 30 s to 5 min later, with the caption's true labels (0: none)")
    parser.add_argument("--biased-cohort", choices=sorted(CREATOR_COHORTS),
                        help="simulate a model biased against this creator cohort: its benign captions carry slang "
                             "the model over-flags (people label them benign)")


def settings(args: argparse.Namespace) -> GeneratorSettings:
    """Generator settings from parsed flags."""
    # By default the stream ends about now, starting on a whole minute.
    duration_ms = args.count / args.rate * 1000
    start_ms = args.start_ms if args.start_ms is not None else int((time.time() * 1000 - duration_ms) // 60_000 * 60_000)
    return GeneratorSettings(seed=args.seed, count=args.count, rate=args.rate, start_ms=start_ms,
                             base_unsafe_rate=args.base_unsafe_rate,
                             incidents=tuple(Incident.parse(text) for text in args.incident),
                             catalogue=Catalogue(args.catalogue_items, args.zipf, args.new_items)
                             if args.catalogue_items else None,
                             labels=LabelSampling(args.labels_share) if args.labels_share else None,
                             biased_cohort=args.biased_cohort)
