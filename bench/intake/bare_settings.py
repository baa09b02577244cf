"""The app's settings with a one-view URLconf: the baseline of bench/bench_intake.py."""

from minqing.settings import *  # noqa: F403

ROOT_URLCONF = "bench.intake.bare_urls"
