"""Every provider token format: a generated token is found with its exact value, and its negatives are not.

Tokens are generated at run time from each format's template and a seed
(``random.Random``), so the repository holds no token-shaped literal.
"""

from __future__ import annotations

import random
import zlib

import pytest

from sanitize.scan.detectors import Detector
from sanitize.scan.providers import TOKEN_FORMATS, TokenFormat, parse_template
from sanitize.scan.rules import BUILTIN_CONTENT_RULES, TOKEN_RULES, token_rule
from sanitize.secret import sha256_hex

DETECTOR = Detector()
IDS = [f.id for f in TOKEN_FORMATS]


def _rng(fmt: TokenFormat, salt: int = 0) -> random.Random:
    return random.Random(zlib.crc32(fmt.id.encode()) + salt)


def test_the_table_has_at_least_150_formats_with_unique_ids() -> None:
    assert len(TOKEN_FORMATS) >= 150
    assert len(set(IDS)) == len(IDS)
    assert all(i.startswith("token.") for i in IDS)
    assert [r.id for r in TOKEN_RULES] == [f.rule_id for f in TOKEN_FORMATS]
    assert {r.id for r in TOKEN_RULES} <= {r.id for r in BUILTIN_CONTENT_RULES}
    # Formats the scan reported before keep their family id (rotation, notify and the demo know them).
    assert {f.reported for f in TOKEN_FORMATS if f.reported} == {
        "aws.access-key", "aws.secret-key", "github.token", "slack.token", "slack.webhook", "stripe.key", "openai.key"}


@pytest.mark.parametrize("rule", TOKEN_RULES, ids=IDS)
def test_every_format_has_a_prefilter(rule: object) -> None:
    assert getattr(rule, "keywords") or getattr(rule, "hs_patterns")


@pytest.mark.parametrize("fmt", TOKEN_FORMATS, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_generated_token_is_found_with_its_exact_value(fmt: TokenFormat, seed: int) -> None:
    value = fmt.sample(_rng(fmt, seed))
    data = fmt.line(value).encode()
    hits = DETECTOR.scan_blob(data, "src/settings.txt")
    assert (fmt.rule_id, sha256_hex(value)) in {(h.rule, h.secret_sha256) for h in hits}, (fmt.id, hits)
    values = DETECTOR.values(data, "src/settings.txt")
    assert sha256_hex(value) in values and values[sha256_hex(value)].reveal() == value


@pytest.mark.parametrize("fmt", TOKEN_FORMATS, ids=IDS)
def test_a_token_is_found_in_other_surroundings(fmt: TokenFormat) -> None:
    value = fmt.sample(_rng(fmt, 7))
    text = fmt.before_text + value + fmt.after_text
    prefix = f"{fmt.near[0]}: " if fmt.near else ""
    for data in (f"{prefix}{text}\n", f"x\r\n{prefix}{text}\r\n", f'{{"k": "{prefix}{text}"}}'):
        hits = DETECTOR.scan_blob(data.encode(), "notes/a.txt")
        assert (fmt.rule_id, sha256_hex(value)) in {(h.rule, h.secret_sha256) for h in hits}, (fmt.id, data[:20])


@pytest.mark.parametrize("fmt", TOKEN_FORMATS, ids=IDS)
def test_negatives_are_not_reported_by_the_format(fmt: TokenFormat) -> None:
    rule = token_rule(fmt)
    negatives = fmt.negatives(_rng(fmt, 3))
    assert len(negatives) >= 2
    for why, line in negatives:
        data = line.encode()
        accepted = [m for m in rule.compiled.finditer(data) if rule.accepts(m, m.group("secret").decode())]
        assert not accepted, (fmt.id, why)
    # A format whose findings carry its own id: the whole detector does not report the negatives under it.
    if not fmt.reported:
        for why, line in negatives:
            assert fmt.id not in {h.rule for h in DETECTOR.scan_blob(line.encode(), "src/settings.txt")}, why


def test_templates_parse_into_literals_and_runs() -> None:
    parts = parse_template("ab_{hex:4}-{[A-C]:2-3}")
    assert parts[0] == "ab_" and parts[2] == "-"
    assert parts[1].chars == "0123456789abcdef" and (parts[1].lo, parts[1].hi) == (4, 4)
    assert parts[3].chars == "ABC" and (parts[3].lo, parts[3].hi) == (2, 3)


def test_uuid_shaped_provider_tokens_are_not_discarded_as_placeholders() -> None:
    heroku = next(f for f in TOKEN_FORMATS if f.id == "token.heroku-api-key")
    value = heroku.sample(random.Random(5))
    hits = DETECTOR.scan_blob(f"HEROKU_API_KEY={value}\n".encode(), "deploy.sh")
    assert ("token.heroku-api-key", sha256_hex(value)) in {(h.rule, h.secret_sha256) for h in hits}
