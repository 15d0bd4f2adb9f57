"""A provider's published documentation key (Stripe's API-reference keys) is not a leak; anything else is.

The list holds hashes only, so the test cannot name a published value: it generates a token of
the same format from a seed, checks it is reported, then adds its hash to the list and checks
that neither the provider rule nor a generic assignment reports it, while a token one character
away still is.
"""

from __future__ import annotations

import functools
import random
import re
import string

import pytest

from sanitize.scan import providers
from sanitize.scan.detectors import Detector
from sanitize.secret import sha256_hex

FORMAT = next(f for f in providers.TOKEN_FORMATS if f.id == "token.stripe-test-secret-key")


def _lines(value: str) -> list[bytes]:
    return [FORMAT.line(value).encode(), f'config = {{"api_secret": "{value}"}}\n'.encode()]


@functools.lru_cache(maxsize=1)
def _detector() -> Detector:
    return Detector()  # the list is read at match time, so one compiled detector serves every case


def _reported(value: str) -> bool:
    det = _detector()
    return all(any(h.secret_sha256 == sha256_hex(value) for h in det.scan_blob(text, "app/billing.py"))
               for text in _lines(value))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_published_example_is_not_reported_and_a_near_miss_is(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    value = FORMAT.sample(rng, lengths={0: 24})
    assert _reported(value)  # negative example: an unlisted token of the format is a finding
    monkeypatch.setattr(providers, "PUBLISHED_EXAMPLES", providers.PUBLISHED_EXAMPLES | {sha256_hex(value)})
    assert not _reported(value)  # positive example: the published key is not
    tail = value[-1]
    other = value[:-1] + rng.choice([c for c in string.ascii_letters + string.digits if c != tail])
    assert _reported(other)


def test_the_list_holds_only_sha256_hashes() -> None:
    assert providers.PUBLISHED_EXAMPLES
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in providers.PUBLISHED_EXAMPLES)
