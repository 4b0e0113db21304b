# The gateway's image (Containerfile is this file). Build and run:
#   docker build -t llm-gateway .
#   docker run -p 8000:8000 llm-gateway               # SQLite in /data, the mock LLM
#   docker run llm-gateway migrate                    # any `gateway` command: migrate, keys, audit, export
# compose.yaml runs it with PostgreSQL and Redis. BASE is any Debian-like image with python3 (3.11)
# and its venv module; the tests build on one made from Debian's own packages.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
# Only the lock's files, each checked against its hash: the same code on every build.
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock

FROM ${BASE}
RUN useradd --system --uid 10001 --no-create-home --home-dir /app gateway \
    && mkdir /data && chown 10001 /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY schema/ schema/
COPY gateway/ gateway/
RUN /opt/venv/bin/python -m compileall -q gateway schema
# PORT and WEB_CONCURRENCY are read by `gateway serve`; PROMETHEUS_MULTIPROC_DIR, with several
# workers, is a fresh directory unless set. DATABASE_URL: set it to PostgreSQL in production.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    WEB_CONCURRENCY=1 \
    DATABASE_URL=sqlite:////data/gateway.db
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['PORT'], timeout=4)"]
# The gateway command itself, no shell: SIGTERM reaches uvicorn, whose streams then get
# GRACEFUL_SHUTDOWN_SECONDS (20) and end with their records written.
ENTRYPOINT ["python", "-m", "gateway.cli"]
CMD ["serve"]
