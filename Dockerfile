# git-sanitize in a container: the scan and purge CLI, the rotation engine, git and
# the pinned git-filter-repo; runs as an unprivileged user (uid 10001, as the
# Kubernetes CronJob from `rotate --print-schedule k8s` expects).
#
#   docker build -t git-sanitize:0.1.0 .
#   docker run --rm -v "$PWD:/repo:ro" git-sanitize:0.1.0 scan /repo
#
# The install steps (the two RUNs that mention /dist) are exercised by the test
# suite in a fresh venv (tests/plugins/installed_wheel.py); keep them plain shell.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sanitize ./sanitize
COPY rotation ./rotation
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist /src

FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="git-sanitize" \
      org.opencontainers.image.description="Purge secrets from git history, keep them out, rotate what leaked" \
      org.opencontainers.image.licenses="Apache-2.0"
# git for every stage; ssh and CA certificates to clone and push over the network.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/git-sanitize \
        --shell /usr/sbin/nologin git-sanitize \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/git-sanitize /run/git-sanitize
COPY --from=build /dist /dist
RUN python -m venv /opt/git-sanitize \
 && /opt/git-sanitize/bin/python -m pip install --no-cache-dir /dist/*.whl \
 && rm -rf /dist \
 && /opt/git-sanitize/bin/git-sanitize --version \
 && /opt/git-sanitize/bin/git-filter-repo --version \
 && /opt/git-sanitize/bin/git-sanitize man --install
# Repositories mounted from the host belong to another uid: git would refuse them as
# "dubious ownership". GIT_CONFIG_* is command-scope config, which git honours for this.
ENV PATH=/opt/git-sanitize/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GIT_CONFIG_COUNT=1 \
    GIT_CONFIG_KEY_0=safe.directory \
    GIT_CONFIG_VALUE_0=*
USER 10001:10001
WORKDIR /var/lib/git-sanitize
ENTRYPOINT ["git-sanitize"]
CMD ["--help"]
