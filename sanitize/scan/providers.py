"""Provider token formats as data: one line per format, compiled into content rules.

Each :class:`TokenFormat` is a template of literal text and character runs,
``{an:36}`` (36 alphanumerics), ``{hex:32-40}`` or ``{[A-Z2-7]:16}``, read from
the provider's documentation or from the public rule catalogs of gitleaks,
betterleaks and kingfisher (facts such as prefix, alphabet and length; the rules
are our own). The same template gives three things: the rule's regex (the
``secret`` group is the token, bounded so a longer run is not this format), its
prefilter keywords (the template's fixed text), and at test time a random
valid token and a few that must not match (one character short or long, a
character outside the alphabet, a ``ghp_xxxx…`` placeholder). Formats without a
fixed prefix (a 32-hex Datadog key) are anchored to the provider's name on the
same line (``near``), as ``DATADOG_API_KEY = "…"``.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from dataclasses import dataclass
from functools import cached_property

from detect_secrets.filters import heuristic

CHARSETS: dict[str, str] = {
    "an": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "Hex": "0123456789abcdefABCDEF",
    "d": string.digits,
    "lan": string.ascii_lowercase + string.digits,
    "uan": string.ascii_uppercase + string.digits,
    "url": string.ascii_letters + string.digits + "_-",  # base64url
    "w": string.ascii_letters + string.digits + "_",
    "b64": string.ascii_letters + string.digits + "+/",
    "l": string.ascii_letters,
}

_RUN = re.compile(r"\{(?P<cs>\[[^\]]+\]|[A-Za-z0-9]+):(?P<lo>\d+)(?:-(?P<hi>\d+))?\}")


def _expand(spec: str) -> str:
    """``[A-Z2-7]`` → the characters it names (ranges expanded)."""
    body, i = spec[1:-1], 0
    out: list[str] = []
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            out.extend(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            out.append(body[i])
            i += 1
    return "".join(dict.fromkeys(out))


def _class(chars: str) -> str:
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in chars) + "]"


@dataclass(frozen=True)
class Run:
    """A run of ``lo``–``hi`` characters from ``chars``."""

    chars: str
    lo: int
    hi: int

    def regex(self, index: int) -> str:
        count = f"{{{self.lo}}}" if self.lo == self.hi else f"{{{self.lo},{self.hi}}}"
        return f"(?P<r{index}>{_class(self.chars)}{count})"


Part = str | Run


def parse_template(template: str) -> tuple[Part, ...]:
    """``ghp_{an:36}`` → ("ghp_", Run(alnum, 36, 36))."""
    parts: list[Part] = []
    pos = 0
    for m in _RUN.finditer(template):
        if m.start() > pos:
            parts.append(template[pos:m.start()])
        cs = m.group("cs")
        chars = _expand(cs) if cs.startswith("[") else CHARSETS[cs]
        lo = int(m.group("lo"))
        parts.append(Run(chars, lo, int(m.group("hi") or lo)))
        pos = m.end()
    if pos < len(template):
        parts.append(template[pos:])
    return tuple(parts)


#: Text in a token-shaped value that marks documentation, not a credential.
_STAND_INS = ("example", "xxxx", "****", "....", "your_", "your-", "yourkey", "yourtoken", "sample", "dummy",
              "placeholder", "redacted", "replace", "insert", "<", ">", "${", "{{", "***removed***")


#: SHA-256 of token-shaped values a provider publishes in its own documentation, copied into
#: tutorials and sample apps everywhere: Stripe's API reference keys (the ``sk_test_``/``pk_test_``
#: pairs its curl and SDK examples show, current and earlier editions). Public by design, they
#: unlock nothing of the user's; hashes, so the project holds no token-shaped literal.
PUBLISHED_EXAMPLES: frozenset[str] = frozenset({
    "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",  # Stripe docs secret key
    "b1471f544ceeea31333bde7e1ecbaad6eac0d4a749412ad29bd66ef895b81c6b",  # Stripe docs publishable key
    "f2d6ca16515033e5dce14eba840b979d27b5cbae24bb3e5bf484339667f86397",  # Stripe docs secret key (earlier)
    "5895b89c8fb33402a5bfc23aad5aaf863fbb438a51e1a0bb02b0ce618c8fdf9d",  # Stripe docs publishable key (earlier)
})


def is_published_example(value: str) -> bool:
    """Whether ``value`` is one of :data:`PUBLISHED_EXAMPLES` (a provider's documentation key)."""
    return hashlib.sha256(value.strip().encode("utf-8", "surrogateescape")).hexdigest() in PUBLISHED_EXAMPLES


def is_placeholder_token(match: re.Match[bytes], value: str) -> bool:
    """A token whose random parts are filler (``ghp_xxxx…``, ``0000…``, ``abcdef…``) or a documented stand-in.

    Unlike :func:`sanitize.scan.rules.is_placeholder` a UUID-shaped value is
    not a stand-in here: several providers (Heroku, npm's legacy tokens) issue
    UUIDs as secrets.
    """
    low = value.lower()
    if any(s in low for s in _STAND_INS) or is_published_example(value):
        return True
    for name, raw in match.groupdict().items():
        if not name.startswith("r") or not name[1:].isdigit() or raw is None or len(raw) < 8:
            continue
        run = raw.decode("utf-8", "replace")
        if len(set(run.lower())) <= 3 or heuristic.is_sequential_string(run):
            return True
    return False


# A provider's name followed by one of these names something else (a commit, a host, an id).
_NOT_A_SECRET_NAME = r"(?![\w.\-]{0,40}?(?:sha\d*|commit|hash|revision|version|digest|url|uri|host|region|name|id)\b)"
_ASSIGN = r"[\"'\]]{0,3}[ \t]{0,5}(?:=|:=|:|=>|\?=|,)[ \t]{0,5}[\"'`]?"


#: What every Discord bot token holds: ".<6>.<27+>". Its leading "[MNO]<23-25>" has no literal, and as a
#: hyperscan pattern it cost a fifth of the whole prefilter's time on pytest's history; this one starts at a dot.
DISCORD_TOKEN_SHAPE = r"\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27}"


@dataclass(frozen=True)
class TokenFormat:
    """One provider's token format: an id, a template, and where it must sit."""

    id: str
    template: str
    description: str
    near: tuple[str, ...] = ()  # provider words that must precede the value on its line (no fixed prefix)
    keywords: tuple[str, ...] = ()  # prefilter literals; default: the template's longest fixed text
    before: str = ""  # a regex the value must follow (kept out of the value), e.g. ``AccountKey=``
    before_text: str = ""  # what a test writes for ``before``
    after: str = ""  # a regex the value must be followed by
    after_text: str = ""
    reported: str = ""  # the finding's rule id when it is not ``id``: formats the scan reported before keep
    #                     their family id (github.token, aws.access-key, ...), which rotation and notify know
    shape: str = ""  # the prefilter pattern, when the leading shape has no literal to find fast (Discord)

    @property
    def rule_id(self) -> str:
        """The rule id findings of this format carry."""
        return self.reported or self.id

    @cached_property
    def parts(self) -> tuple[Part, ...]:
        return parse_template(self.template)

    @cached_property
    def runs(self) -> tuple[Run, ...]:
        return tuple(p for p in self.parts if isinstance(p, Run))

    def _edge_class(self, part: Part, last: bool) -> str:
        if isinstance(part, Run):
            return _class(part.chars)
        ch = part[-1] if last else part[0]
        return "[A-Za-z0-9_]" if ch.isalnum() or ch == "_" else ""

    def body(self) -> str:
        """The token's regex, without boundaries."""
        out, index = [], 0
        for part in self.parts:
            if isinstance(part, Run):
                out.append(part.regex(index))
                index += 1
            else:
                out.append(re.escape(part))
        return "".join(out)

    def regex(self) -> str:
        start, end = self._edge_class(self.parts[0], False), self._edge_class(self.parts[-1], True)
        lead = f"(?<!{start})" if start else ""
        trail = f"(?!{end})" if end else ""
        prefix = ""
        if self.near:
            words = "|".join(re.escape(w) for w in self.near)
            prefix = r"(?i:(?:" + words + r")" + _NOT_A_SECRET_NAME + r"[\w.\-]{0,40}?)" + _ASSIGN
        return prefix + self.before + lead + "(?P<secret>" + self.body() + ")" + trail + self.after

    def prefilter(self) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        """(keywords, hyperscan patterns, caseless) for the one-pass prefilter.

        A long fixed text (``github_pat_``) is the keyword. A short or missing one
        (``hf_``, ``r8_``, a Discord token) would wake the rule on every line that
        holds it, so the prefilter gets the token's own leading shape instead.
        """
        if self.near:
            return self.near, (), True
        if self.keywords:
            return self.keywords, (), False
        if self.shape:
            return (), (self.shape,), False
        literals = [p for p in self.parts if isinstance(p, str)]
        best = max(literals, key=len, default="")
        if len(best) >= 5:
            return (best,), (), False
        return (), (self.leading_shape(),), False

    def leading_shape(self) -> str:
        """A hyperscan pattern every token of this format contains.

        The parts in order, each run at its shortest; a leading run may be
        longer in the text (the pattern matches a substring), a later
        variable-length run ends the pattern.
        """
        out: list[str] = []
        for index, part in enumerate(self.parts):
            if isinstance(part, str):
                out.append(re.escape(part))
                continue
            out.append(f"{_class(part.chars)}{{{part.lo}}}")
            if part.lo != part.hi and index > 0:
                break
        return "".join(out)

    @property
    def min_len(self) -> int:
        return sum(len(p) if isinstance(p, str) else p.lo for p in self.parts)

    # -- examples, for the tests -------------------------------------------------------------

    def sample(self, rng: random.Random, *, lengths: dict[int, int] | None = None,
               fill: str | None = None) -> str:
        """A token of this format; ``lengths`` overrides run lengths (by run index), ``fill`` repeats one char."""
        out, index = [], 0
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            n = (lengths or {}).get(index, rng.randint(part.lo, min(part.hi, part.lo + 40)))
            if fill is not None:
                ch = fill if fill in part.chars else part.chars[0]
                out.append(ch * n)
            else:
                out.append("".join(rng.choice(part.chars) for _ in range(n)))
            index += 1
        return "".join(out)

    def line(self, value: str) -> str:
        """A line of text that holds ``value`` the way it is usually written."""
        text = self.before_text + value + self.after_text
        if self.near:
            return f'{self.near[0].upper()}_KEY = "{text}"\n'
        return f'value = "{text}"\n'

    def negatives(self, rng: random.Random) -> list[tuple[str, str]]:
        """(why, line) pairs that hold no token of this format."""
        out: list[tuple[str, str]] = []
        last = len(self.runs) - 1
        run = self.runs[last]
        if run.lo > 1:
            out.append(("one character short", self.line(self.sample(rng, lengths={last: run.lo - 1}))))
        if run.hi < 400:
            out.append(("one character long", self.line(self.sample(rng, lengths={last: run.hi + 1}))))
        # A character outside the alphabet, inside the run's required part.
        good = self.sample(rng, lengths={last: run.lo})
        end = len(good) - len(self.after_text) - len(self._trailing_literal())
        pos = end - run.lo + rng.randrange(run.lo)
        outside = [c for c in string.ascii_letters + string.digits if c not in run.chars] or ["!"]
        bad = good[:pos] + rng.choice(outside) + good[pos + 1:]
        out.append(("a character outside the alphabet", self.line(bad)))
        out.append(("a placeholder", self.line(self.sample(rng, fill="x"))))
        if self.near:
            out.append(("no provider name on the line", f'value = "{self.before_text}{self.sample(rng)}"\n'))
            out.append(("the name says it is something else",
                        f'{self.near[0].upper()}_COMMIT_SHA = "{self.before_text}{self.sample(rng)}"\n'))
        return out

    def _trailing_literal(self) -> str:
        tail = []
        for part in reversed(self.parts):
            if isinstance(part, Run):
                break
            tail.append(part)
        return "".join(reversed(tail))


_UUID = "{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}"
_UUID_UP = "{HEX:8}-{HEX:4}-{HEX:4}-{HEX:4}-{HEX:12}"
_BECH32_UP = "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]"
T = TokenFormat

#: Every provider format, grouped by provider. Ids are ``token.<provider>-<kind>``.
TOKEN_FORMATS: tuple[TokenFormat, ...] = (
    # --- cloud: AWS ---
    T("token.aws-access-key-id", "AKIA{uan:16}", "AWS IAM user access key id (AKIA…).", reported="aws.access-key"),
    T("token.aws-temporary-access-key-id", "ASIA{uan:16}", "AWS STS temporary access key id (ASIA…).",
      reported="aws.access-key"),
    T("token.aws-abia-key-id", "ABIA{uan:16}", "AWS STS service bearer key id (ABIA…).", reported="aws.access-key"),
    T("token.aws-acca-key-id", "ACCA{uan:16}", "AWS context-specific credential id (ACCA…).",
      reported="aws.access-key"),
    T("token.aws-a3t-key-id", "A3T{uan:17}", "AWS access key id (A3T… form).", reported="aws.access-key"),
    T("token.aws-secret-access-key", "{b64:40}", "AWS secret access key next to an AWS_SECRET_ACCESS_KEY-like name.",
      near=("aws_secret_access_key", "aws_secret_key", "aws_secret", "awssecretaccesskey", "secret_access_key",
            "awssecretkey"), reported="aws.secret-key"),
    T("token.aws-bedrock-api-key", "ABSK{b64:109-269}", "Amazon Bedrock long-lived API key (ABSK…)."),
    # --- cloud: Google ---
    T("token.gcp-api-key", "AIza{url:35}", "Google Cloud / Firebase / Gemini (Google AI) API key (AIza…)."),
    T("token.gcp-oauth-client-secret", "GOCSPX-{url:28}", "Google OAuth client secret (GOCSPX-…)."),
    T("token.gcp-oauth-access-token", "ya29.{url:60-400}", "Google OAuth 2.0 access token (ya29.…)."),
    T("token.gcp-oauth-refresh-token", "1//{url:60-200}", "Google OAuth 2.0 refresh token (1//…).",
      near=("refresh_token", "refreshtoken", "google")),
    T("token.firebase-fcm-server-key", "AAAA{url:7}:APA91b{url:134}", "Firebase Cloud Messaging legacy server key."),
    # --- cloud: Azure ---
    T("token.azure-storage-account-key", "{b64:86}==", "Azure storage account key in a connection string.",
      before=r"(?i:AccountKey)=", before_text="DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
      keywords=("AccountKey=",)),
    T("token.azure-ad-client-secret", "{[a-zA-Z0-9_~.]:3}{d:1}Q~{[a-zA-Z0-9_~.-]:31-34}",
      "Microsoft Entra ID (Azure AD) application client secret (…Q~…).", keywords=("Q~",)),
    T("token.azure-sas-signature", "{[A-Za-z0-9%]:43-120}", "Azure shared access signature (sig= of a SAS URL).",
      before=r"\bsv=\d{4}-\d\d-\d\d&[^\s\"'<>]{0,300}?\bsig=", before_text="https://acct.blob.core.windows.net/c?"
      "sv=2024-11-04&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig=", keywords=("sig=",)),
    T("token.azure-devops-pat", "{[a-z2-7]:52}", "Azure DevOps personal access token (legacy 52-char form).",
      near=("azure_devops", "azuredevops", "ado_pat", "azdo", "devops_pat", "system_accesstoken")),
    T("token.azure-servicebus-key", "{b64:43}=", "Azure Service Bus / Event Hubs shared access key.",
      before=r"(?i:SharedAccessKey)=", before_text="Endpoint=sb://ns.servicebus.windows.net/;"
      "SharedAccessKeyName=root;SharedAccessKey=", keywords=("SharedAccessKey=",)),
    T("token.azure-appconfig-secret", "{b64:43}=", "Azure App Configuration connection string secret.",
      before=r"\.azconfig\.io;Id=[^;\s\"']{4,80};Secret=",
      before_text="Endpoint=https://cfg.azconfig.io;Id=abcd-l0-s0:kid;Secret=", keywords=(".azconfig.io",)),
    # --- cloud: other ---
    T("token.alibaba-access-key-id", "LTAI{an:17-21}", "Alibaba Cloud AccessKey id (LTAI…)."),
    T("token.tencent-secret-id", "AKID{an:32}", "Tencent Cloud SecretId (AKID…)."),
    T("token.digitalocean-pat", "dop_v1_{hex:64}", "DigitalOcean personal access token."),
    T("token.digitalocean-oauth-token", "doo_v1_{hex:64}", "DigitalOcean OAuth access token."),
    T("token.digitalocean-refresh-token", "dor_v1_{hex:64}", "DigitalOcean OAuth refresh token."),
    T("token.heroku-api-key", _UUID, "Heroku API key (a UUID next to a Heroku name).", near=("heroku",)),
    T("token.heroku-api-key-v2", "HRKU-AA{url:58}", "Heroku platform API key (HRKU-AA…)."),
    T("token.cloudflare-origin-ca-key", "v1.0-{hex:24}-{hex:146}", "Cloudflare Origin CA key."),
    T("token.cloudflare-api-token", "{url:40}", "Cloudflare API token next to a Cloudflare name.",
      near=("cloudflare", "cf_api_token")),
    T("token.cloudflare-global-api-key", "{hex:37}", "Cloudflare global API key next to a Cloudflare name.",
      near=("cloudflare", "cf_api_key")),
    T("token.flyio-token", "fo1_{url:43}", "Fly.io organization/user access token (fo1_…)."),
    T("token.flyio-macaroon", "fm2_{b64:100-400}", "Fly.io macaroon token (fm2_…)."),
    T("token.scalingo-api-token", "tk-us-{url:48}", "Scalingo API token."),
    T("token.openshift-user-token", "sha256~{url:43}", "OpenShift user OAuth token."),
    T("token.vercel-pat", "vcp_{url:56}", "Vercel personal access token (vcp_…)."),
    T("token.vercel-integration-token", "vci_{url:56}", "Vercel integration token (vci_…)."),
    T("token.vercel-app-token", "vca_{url:56}", "Vercel app access token (vca_…)."),
    T("token.netlify-pat", "nfp_{an:36}", "Netlify personal access token (nfp_…)."),
    T("token.render-api-key", "rnd_{an:28}", "Render API key (rnd_…)."),
    T("token.supabase-pat", "sbp_{[a-z0-9_-]:40}", "Supabase personal access token (sbp_…)."),
    T("token.supabase-secret-key", "sb_secret_{url:31}", "Supabase secret API key (sb_secret_…)."),
    T("token.neon-api-key", "napi_{an:64}", "Neon API key (napi_…)."),
    T("token.planetscale-token", "pscale_tkn_{[A-Za-z0-9_=.-]:32-64}", "PlanetScale service token."),
    T("token.planetscale-oauth-token", "pscale_oauth_{[A-Za-z0-9_=.-]:32-64}", "PlanetScale OAuth token."),
    T("token.planetscale-password", "pscale_pw_{[A-Za-z0-9_=.-]:32-64}", "PlanetScale database password."),
    T("token.mongodb-atlas-sa-secret", "mdb_sa_sk_{url:40}", "MongoDB Atlas service account secret."),
    T("token.databricks-token", "dapi{hex:32}", "Databricks personal access token (dapi…)."),
    T("token.clickhouse-api-secret", "4b1d{an:38}", "ClickHouse Cloud API secret key (4b1d…)."),
    T("token.tailscale-api-key", "tskey-api-{url:20-36}", "Tailscale API access token."),
    T("token.tailscale-auth-key", "tskey-auth-{url:20-36}", "Tailscale auth key."),
    # --- code hosts ---
    T("token.github-pat", "ghp_{an:36-251}", "GitHub personal access token (classic).", reported="github.token"),
    T("token.github-oauth", "gho_{an:36-251}", "GitHub OAuth access token.", reported="github.token"),
    T("token.github-user-to-server", "ghu_{an:36-251}", "GitHub App user-to-server token.", reported="github.token"),
    T("token.github-server-to-server", "ghs_{an:36-251}", "GitHub App installation (server-to-server) token.",
      reported="github.token"),
    T("token.github-refresh-token", "ghr_{an:36-251}", "GitHub App refresh token.", reported="github.token"),
    T("token.github-fine-grained-pat", "github_pat_{w:82-255}", "GitHub fine-grained personal access token.",
      reported="github.token"),
    T("token.gitlab-pat", "glpat-{url:20}", "GitLab personal/project/group access token."),
    T("token.gitlab-pat-routable", "glpat-{url:27-300}.{lan:9}", "GitLab routable personal access token."),
    T("token.gitlab-deploy-token", "gldt-{url:20}", "GitLab deploy token."),
    T("token.gitlab-runner-token", "glrt-{url:20}", "GitLab runner authentication token."),
    T("token.gitlab-runner-token-routable", "glrt-t{d:1}_{url:27-300}.{lan:9}",
      "GitLab routable runner authentication token."),
    T("token.gitlab-runner-registration-token", "GR1348941{url:20}", "GitLab runner registration token."),
    T("token.gitlab-pipeline-trigger-token", "glptt-{hex:40}", "GitLab pipeline trigger token."),
    T("token.gitlab-feed-token", "glft-{url:20}", "GitLab feed token."),
    T("token.gitlab-incoming-mail-token", "glimt-{url:25}", "GitLab incoming mail token."),
    T("token.gitlab-agent-token", "glagent-{url:50}", "GitLab agent for Kubernetes token."),
    T("token.gitlab-oauth-app-secret", "gloas-{url:64}", "GitLab OAuth application secret."),
    T("token.gitlab-scim-token", "glsoat-{url:20}", "GitLab SCIM OAuth token."),
    T("token.gitlab-ci-job-token", "glcbt-{an:1-5}_{url:20}", "GitLab CI/CD job token."),
    T("token.gitlab-feature-flag-token", "glffct-{url:20}", "GitLab feature flags client token."),
    T("token.bitbucket-app-password", "ATBB{an:32}", "Bitbucket app password (ATBB…)."),
    T("token.bitbucket-access-token", "ATCTT3xFfGN0{url:180-200}", "Bitbucket repository/workspace access token."),
    T("token.atlassian-api-token", "ATATT3{[A-Za-z0-9_=-]:186}", "Atlassian (Jira, Confluence) API token."),
    T("token.gitea-token", "{hex:40}", "Gitea/Forgejo access token next to a Gitea token name.",
      near=("gitea_token", "gitea-token", "giteatoken", "gitea_access_token", "forgejo_token")),
    T("token.sourcegraph-token", "sgp_{Hex:16}_{Hex:40}", "Sourcegraph access token."),
    # --- CI, registries, infrastructure as code ---
    T("token.npm-token", "npm_{an:36}", "npm access token (npm_…)."),
    T("token.pypi-token", "pypi-AgEIcHlwaS5vcmc{url:50-1000}", "PyPI API token (pypi-AgEIcHlwaS5vcmc…)."),
    T("token.testpypi-token", "pypi-AgENdGVzdC5weXBpLm9yZw{url:50-1000}", "TestPyPI API token."),
    T("token.dockerhub-pat", "dckr_pat_{url:27}", "Docker Hub personal access token."),
    T("token.dockerhub-oat", "dckr_oat_{url:32}", "Docker Hub organization access token."),
    T("token.rubygems-token", "rubygems_{hex:48}", "RubyGems API key."),
    T("token.nuget-api-key", "oy2{lan:43}", "NuGet API key (oy2…)."),
    T("token.cratesio-token", "cio{an:32}", "crates.io API token (cio…).", near=("crates", "cargo")),
    T("token.clojars-token", "CLOJARS_{lan:60}", "Clojars deploy token."),
    T("token.artifactory-api-key", "AKCp{an:68-70}", "JFrog Artifactory API key (AKCp…)."),
    T("token.artifactory-reference-token", "cmVmd{an:59}", "JFrog Artifactory reference token (cmVmd…)."),
    T("token.circleci-pat", "CCIPAT_{an:22}_{lan:40}", "CircleCI personal API token (CCIPAT_…)."),
    T("token.circleci-project-token", "CCIPRJ_{an:22}_{lan:40}", "CircleCI project API token (CCIPRJ_…)."),
    T("token.circleci-legacy-token", "{hex:40}", "CircleCI API token next to a CircleCI name.",
      near=("circleci", "circle_token", "circle_ci_token")),
    T("token.buildkite-token", "bkua_{lan:40}", "Buildkite user access token."),
    T("token.travisci-token", "{an:22}", "Travis CI token next to a Travis name.", near=("travis",)),
    T("token.sonarqube-user-token", "squ_{hex:40}", "SonarQube user token (squ_…)."),
    T("token.sonarqube-project-token", "sqp_{hex:40}", "SonarQube project analysis token (sqp_…)."),
    T("token.sonarqube-global-token", "sqa_{hex:40}", "SonarQube global analysis token (sqa_…)."),
    T("token.snyk-token", _UUID, "Snyk API token next to a Snyk name.", near=("snyk",)),
    T("token.terraform-cloud-token", "{lan:14}.atlasv1.{[a-z0-9_=-]:60-70}", "Terraform Cloud/Enterprise API token."),
    T("token.pulumi-token", "pul-{hex:40}", "Pulumi access token."),
    T("token.vault-service-token", "hvs.{url:90-120}", "HashiCorp Vault service token (hvs.…)."),
    T("token.vault-batch-token", "hvb.{url:138-300}", "HashiCorp Vault batch token (hvb.…)."),
    T("token.vault-legacy-token", "s.{an:24}", "HashiCorp Vault legacy service token next to a Vault name.",
      near=("vault_token", "vault")),
    T("token.doppler-personal-token", "dp.pt.{an:43}", "Doppler personal token."),
    T("token.doppler-service-token", "dp.st.{an:40-44}", "Doppler service token."),
    T("token.doppler-cli-token", "dp.ct.{an:40-44}", "Doppler CLI token."),
    T("token.doppler-service-account-token", "dp.sa.{an:40-44}", "Doppler service account token."),
    T("token.doppler-scim-token", "dp.scim.{an:40-44}", "Doppler SCIM token."),
    T("token.onepassword-service-account", "ops_eyJ{b64:250-2000}", "1Password service account token."),
    T("token.onepassword-secret-key", "A3-{uan:6}-{uan:11}-{uan:5}-{uan:5}-{uan:5}", "1Password account secret key."),
    T("token.age-secret-key", "AGE-SECRET-KEY-1{" + _BECH32_UP + ":58}", "age encryption secret key."),
    T("token.harness-pat", "pat.{url:22}.{hex:24}.{an:20}", "Harness personal access token."),
    T("token.harness-sat", "sat.{url:22}.{hex:24}.{an:20}", "Harness service account token."),
    T("token.octopus-deploy-api-key", "API-{uan:26}", "Octopus Deploy API key."),
    T("token.prefect-api-key", "pnu_{an:36}", "Prefect Cloud API key."),
    T("token.infracost-api-key", "ico-{an:32}", "Infracost API key."),
    T("token.docker-swarm-join-token", "SWMTKN-1-{lan:50-60}-{lan:24-30}", "Docker Swarm join token."),
    T("token.docker-swarm-unlock-key", "SWMKEY-1-{b64:40-50}", "Docker Swarm unlock key."),
    # --- chat ---
    T("token.slack-bot-token", "xoxb-{d:10-13}-{d:10-13}-{an:24}", "Slack bot token (xoxb-…).", reported="slack.token"),
    T("token.slack-user-token", "xoxp-{d:10-13}-{d:10-13}-{d:10-13}-{Hex:32}", "Slack user token (xoxp-…).",
      reported="slack.token"),
    T("token.slack-legacy-bot-token", "xoxb-{d:8-14}-{an:18-26}", "Slack legacy bot token.", reported="slack.token"),
    T("token.slack-workspace-token", "xoxa-2-{an:8-48}", "Slack workspace access token (xoxa-…).",
      reported="slack.token"),
    T("token.slack-workspace-refresh-token", "xoxr-{an:8-48}", "Slack workspace refresh token (xoxr-…).",
      reported="slack.token"),
    T("token.slack-config-token", "xoxe.xoxp-1-{uan:163-166}", "Slack app configuration access token.",
      reported="slack.token"),
    T("token.slack-config-refresh-token", "xoxe-1-{uan:146}", "Slack app configuration refresh token.",
      reported="slack.token"),
    T("token.slack-app-token", "xapp-1-{uan:9-12}-{d:10-13}-{hex:64}", "Slack app-level token (xapp-…).",
      reported="slack.token"),
    T("token.slack-session-token", "xoxc-{d:9-15}-{d:9-15}-{d:9-15}-{hex:64}", "Slack browser session token.",
      reported="slack.token"),
    T("token.slack-webhook", "https://hooks.slack.com/services/T{uan:8-11}/B{uan:8-11}/{an:24}",
      "Slack incoming-webhook URL (the URL is the credential).", reported="slack.webhook"),
    T("token.slack-workflow-webhook", "https://hooks.slack.com/triggers/T{uan:8-11}/{d:10-14}/{hex:32}",
      "Slack workflow trigger URL.", reported="slack.webhook"),
    T("token.discord-bot-token", "{[MNO]:1}{url:23-25}.{url:6}.{url:27-38}", "Discord bot token.",
      shape=DISCORD_TOKEN_SHAPE),
    T("token.discord-webhook", "https://discord.com/api/webhooks/{d:17-20}/{url:60-68}", "Discord webhook URL."),
    T("token.discordapp-webhook", "https://discordapp.com/api/webhooks/{d:17-20}/{url:60-68}",
      "Discord webhook URL (discordapp.com)."),
    T("token.telegram-bot-token", "{d:8-10}:AA{url:33}", "Telegram bot API token."),
    T("token.teams-webhook", "https://{lan:3-20}.webhook.office.com/webhookb2/" + _UUID + "@" + _UUID
      + "/IncomingWebhook/{hex:32}/" + _UUID, "Microsoft Teams incoming webhook URL."),
    T("token.mattermost-token", "{lan:26}", "Mattermost access token next to a Mattermost name.", near=("mattermost",)),
    # --- payments and commerce ---
    T("token.stripe-live-secret-key", "sk_live_{an:16-247}", "Stripe live secret key.", reported="stripe.key"),
    T("token.stripe-live-restricted-key", "rk_live_{an:16-247}", "Stripe live restricted key.", reported="stripe.key"),
    T("token.stripe-test-secret-key", "sk_test_{an:16-247}", "Stripe test-mode secret key."),
    T("token.stripe-test-restricted-key", "rk_test_{an:16-247}", "Stripe test-mode restricted key."),
    T("token.stripe-webhook-secret", "whsec_{an:32-64}", "Stripe webhook signing secret."),
    T("token.square-access-token", "sq0atp-{url:22}", "Square OAuth access token (sq0atp-…)."),
    T("token.square-production-token", "EAAA{url:60}", "Square production access token (EAAA…)."),
    T("token.square-oauth-secret", "sq0csp-{url:43}", "Square OAuth application secret."),
    T("token.braintree-access-token", "access_token$production${lan:16}${hex:32}",
      "Braintree (PayPal) production access token."),
    T("token.braintree-sandbox-token", "access_token$sandbox${lan:16}${hex:32}", "Braintree sandbox access token."),
    T("token.paypal-client-secret", "E{url:79}", "PayPal REST client secret next to a PayPal name.",
      near=("paypal",)),
    T("token.shopify-access-token", "shpat_{Hex:32}", "Shopify Admin API access token."),
    T("token.shopify-custom-app-token", "shpca_{Hex:32}", "Shopify custom app access token."),
    T("token.shopify-private-app-token", "shppa_{Hex:32}", "Shopify private app access token."),
    T("token.shopify-shared-secret", "shpss_{Hex:32}", "Shopify app shared secret."),
    T("token.flutterwave-secret-key", "FLWSECK-{hex:32}-X", "Flutterwave live secret key."),
    T("token.flutterwave-test-secret-key", "FLWSECK_TEST-{hex:32}-X", "Flutterwave test secret key."),
    T("token.shippo-live-token", "shippo_live_{Hex:40}", "Shippo live API token."),
    T("token.shippo-test-token", "shippo_test_{Hex:40}", "Shippo test API token."),
    T("token.duffel-live-token", "duffel_live_{[A-Za-z0-9_=-]:43}", "Duffel live API token."),
    T("token.duffel-test-token", "duffel_test_{[A-Za-z0-9_=-]:43}", "Duffel test API token."),
    T("token.easypost-api-key", "EZAK{an:54}", "EasyPost production API key."),
    T("token.easypost-test-key", "EZTK{an:54}", "EasyPost test API key."),
    T("token.plaid-access-token", "access-production-" + _UUID, "Plaid production access token."),
    T("token.plaid-sandbox-token", "access-sandbox-" + _UUID, "Plaid sandbox access token."),
    T("token.ramp-client-secret", "ramp_sec_{an:48}", "Ramp API client secret."),
    T("token.coinbase-token", "{url:64}", "Coinbase access token next to a Coinbase name.", near=("coinbase",)),
    # --- AI ---
    T("token.openai-project-key", "sk-proj-{url:58-74}T3BlbkFJ{url:58-74}", "OpenAI project API key.",
      reported="openai.key"),
    T("token.openai-service-account-key", "sk-svcacct-{url:58-74}T3BlbkFJ{url:58-74}",
      "OpenAI service account key.", reported="openai.key"),
    T("token.openai-admin-key", "sk-admin-{url:58-74}T3BlbkFJ{url:58-74}", "OpenAI admin key.", reported="openai.key"),
    T("token.openai-legacy-key", "sk-{an:20}T3BlbkFJ{an:20}", "OpenAI user API key (legacy form).",
      reported="openai.key"),
    T("token.anthropic-api-key", "sk-ant-api03-{url:93}AA", "Anthropic API key."),
    T("token.anthropic-admin-key", "sk-ant-admin01-{url:93}AA", "Anthropic Admin API key."),
    T("token.anthropic-oauth-token", "sk-ant-oat01-{url:93}AA", "Anthropic (Claude) OAuth token."),
    T("token.huggingface-token", "hf_{l:34}", "Hugging Face access token."),
    T("token.huggingface-org-token", "api_org_{l:34}", "Hugging Face organization API token."),
    T("token.groq-api-key", "gsk_{an:52}", "Groq API key."),
    T("token.openrouter-api-key", "sk-or-v1-{hex:64}", "OpenRouter API key."),
    T("token.perplexity-api-key", "pplx-{an:48}", "Perplexity API key."),
    T("token.xai-api-key", "xai-{url:70-120}", "xAI (Grok) API key."),
    T("token.replicate-api-token", "r8_{an:37}", "Replicate API token."),
    T("token.langsmith-pat", "lsv2_pt_{Hex:32}_{Hex:10}", "LangSmith personal access token."),
    T("token.langsmith-service-key", "lsv2_sk_{Hex:32}_{Hex:10}", "LangSmith service key."),
    T("token.deepseek-api-key", "sk-{hex:32}", "DeepSeek API key next to a DeepSeek name.", near=("deepseek",)),
    T("token.mistral-api-key", "{an:32}", "Mistral AI API key next to a Mistral name.", near=("mistral",)),
    T("token.cohere-api-key", "{an:40}", "Cohere API key next to a Cohere name.", near=("cohere", "co_api_key")),
    T("token.pinecone-api-key", "pcsk_{an:5-6}_{an:63}", "Pinecone API key."),
    T("token.nvidia-api-key", "nvapi-{url:60-70}", "NVIDIA NGC / API catalog key."),
    T("token.cerebras-api-key", "csk-{lan:48}", "Cerebras API key."),
    T("token.wandb-api-key", "wandb_v1_{w:77}", "Weights & Biases API key (v1)."),
    T("token.together-api-key", "tgp_v1_{url:43}", "Together AI API key."),
    # --- mail, SMS, messaging ---
    T("token.sendgrid-api-key", "SG.{url:22}.{url:43}", "SendGrid API key."),
    T("token.mailgun-api-key", "key-{hex:32}", "Mailgun private API key next to a Mailgun name.", near=("mailgun",)),
    T("token.mailgun-signing-key", "{hex:32}-{hex:8}-{hex:8}", "Mailgun webhook signing key.", near=("mailgun",)),
    T("token.mailchimp-api-key", "{hex:32}-us{d:1-2}", "Mailchimp API key."),
    T("token.brevo-api-key", "xkeysib-{hex:64}-{an:16}", "Brevo (Sendinblue) API key."),
    T("token.brevo-smtp-key", "xsmtpsib-{hex:64}-{an:16}", "Brevo (Sendinblue) SMTP key."),
    T("token.mailersend-token", "mlsn.{an:64}", "MailerSend API token."),
    T("token.twilio-api-key", "SK{Hex:32}", "Twilio API key SID (SK…)."),
    T("token.twilio-auth-token", "{hex:32}", "Twilio auth token next to a Twilio name.", near=("twilio",)),
    T("token.postmark-token", _UUID, "Postmark server token next to a Postmark name.", near=("postmark",)),
    T("token.messagebird-token", "{an:25}", "MessageBird API key next to a MessageBird name.",
      near=("messagebird", "message_bird")),
    # --- observability ---
    T("token.datadog-api-key", "{hex:32}", "Datadog API key next to a Datadog name.",
      near=("datadog", "dd_api_key", "dd-api-key")),
    T("token.datadog-app-key", "{hex:40}", "Datadog application key next to a Datadog name.",
      near=("datadog", "dd_app_key", "dd_application_key", "dd-application-key")),
    T("token.newrelic-user-api-key", "NRAK-{uan:27}", "New Relic user API key."),
    T("token.newrelic-insert-key", "NRII-{url:32}", "New Relic insights insert key."),
    T("token.newrelic-browser-key", "NRJS-{hex:19}", "New Relic browser API token."),
    T("token.newrelic-license-key", "{Hex:36}NRAL", "New Relic ingest license key (…NRAL)."),
    T("token.sentry-user-token", "sntryu_{hex:64}", "Sentry user auth token."),
    T("token.sentry-org-token", "sntrys_eyJpYXQiO{b64:80-400}_{b64:43}", "Sentry organization auth token."),
    T("token.sentry-dsn", "https://{hex:32}@o{d:4-10}.ingest.sentry.io/{d:4-10}", "Sentry DSN (client key URL)."),
    T("token.sentry-dsn-regional", "https://{hex:32}@o{d:4-10}.ingest.us.sentry.io/{d:4-10}",
      "Sentry DSN on a regional ingest host."),
    T("token.grafana-service-account-token", "glsa_{an:32}_{Hex:8}", "Grafana service account token."),
    T("token.grafana-cloud-token", "glc_{b64:40-150}", "Grafana Cloud access policy token."),
    T("token.grafana-api-key", "eyJrIjoi{b64:40-380}", "Grafana API key (legacy)."),
    T("token.dynatrace-token", "dt0c01.{uan:24}.{an:64}", "Dynatrace API token."),
    T("token.elastic-api-key", "essu_{url:60-200}", "Elastic Cloud API key (essu_…)."),
    T("token.honeycomb-key", "{an:22}", "Honeycomb API key next to a Honeycomb name.", near=("honeycomb",)),
    T("token.posthog-personal-key", "phx_{url:41-49}", "PostHog personal API key."),
    T("token.rootly-api-key", "rootly_{hex:64}", "Rootly API key."),
    # --- productivity, SaaS ---
    T("token.postman-api-key", "PMAK-{hex:24}-{hex:34}", "Postman API key."),
    T("token.linear-api-key", "lin_api_{an:40}", "Linear API key."),
    T("token.notion-token", "ntn_{d:11}{an:35}", "Notion integration token (ntn_…)."),
    T("token.notion-legacy-secret", "secret_{an:43}", "Notion integration secret (secret_…).", near=("notion",)),
    T("token.airtable-pat", "pat{an:14}.{hex:64}", "Airtable personal access token."),
    T("token.figma-pat", "figd_{url:38-42}", "Figma personal access token."),
    T("token.clickup-token", "pk_{d:8-9}_{uan:32}", "ClickUp personal API token."),
    T("token.hubspot-pat-na", "pat-na1-" + _UUID, "HubSpot private app access token (NA)."),
    T("token.hubspot-pat-eu", "pat-eu1-" + _UUID, "HubSpot private app access token (EU)."),
    T("token.hubspot-api-key", _UUID_UP, "HubSpot API key next to a HubSpot name.", near=("hubspot",)),
    T("token.asana-client-secret", "{an:32}", "Asana client secret next to an Asana name.", near=("asana",)),
    T("token.typeform-token", "tfp_{[A-Za-z0-9_=.-]:59}", "Typeform personal access token."),
    T("token.readme-api-key", "rdme_{lan:70}", "ReadMe API key."),
    T("token.contentful-pat", "CFPAT-{url:43}", "Contentful personal access token."),
    T("token.salesforce-access-token", "00D{an:12}!{[A-Za-z0-9._-]:80-260}", "Salesforce session / access token."),
    T("token.zendesk-token", "{an:40}", "Zendesk API token next to a Zendesk name.", near=("zendesk",)),
    T("token.launchdarkly-sdk-key", "sdk-" + _UUID, "LaunchDarkly server-side SDK key."),
    T("token.launchdarkly-api-token", "api-" + _UUID, "LaunchDarkly API access token."),
    T("token.okta-token", "00{[A-Za-z0-9_=-]:40}", "Okta API token next to an Okta name.", near=("okta",)),
    T("token.twitter-bearer-token", "A" * 22 + "{[A-Za-z0-9%]:80-100}", "X (Twitter) app bearer token."),
    T("token.facebook-access-token", "EAA{[CM]:1}{an:100-300}", "Facebook (Meta) page/user access token."),
    T("token.dropbox-token", "sl.{[A-Za-z0-9_=-]:130-160}", "Dropbox short-lived access token.", near=("dropbox",)),
    T("token.mapbox-secret-token", "sk.eyJ1Ijoi{url:50-300}.{url:22}", "Mapbox secret access token."),
    T("token.maxmind-license-key", "{an:6}_{an:29}_mmk", "MaxMind license key."),
    T("token.adobe-client-secret", "p8e-{an:32}", "Adobe client secret."),
    T("token.frameio-token", "fio-u-{[A-Za-z0-9_=-]:64}", "Frame.io developer token."),
    T("token.settlemint-pat", "sm_pat_{an:16}", "SettleMint personal access token."),
    T("token.settlemint-app-token", "sm_aat_{an:16}", "SettleMint application access token."),
    T("token.settlemint-service-token", "sm_sat_{an:16}", "SettleMint service access token."),
    T("token.intra42-secret", "s-s4t2ud-{hex:64}", "42 intra OAuth client secret."),
    T("token.yandex-api-key", "AQVN{url:35-38}", "Yandex Cloud API key."),
    # --- catch-alls: broader shapes of the formats above (they report only what nothing more specific did) ---
    T("token.slack-token", "xox{[abposr]:1}-{[A-Za-z0-9-]:10-250}", "Any other Slack token (xox?-…).",
      reported="slack.token"),
    T("token.sk-secret-key", "sk-{an:32-200}", "An sk-… key (OpenAI legacy form, also OpenAI-compatible APIs).",
      reported="openai.key"),
    T("token.openai-project-key-untagged", "sk-proj-{url:40-300}", "An OpenAI project key without its marker.",
      reported="openai.key"),
    T("token.jwt", "eyJ{url:15-2000}.eyJ{url:15-4000}.{url:20-1000}",
      "A JSON Web Token (signed header.payload.signature)."),
)

