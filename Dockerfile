# syntax=docker/dockerfile:1
# stancewatch: one image for every role of the stack (web, worker, beat, migrate); the command picks it.
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: compilers live here only, for any dependency without a wheel (e.g. pyahocorasick) ---
FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The project is installed from its own pyproject (not an editable install: the final image has no /src).
COPY pyproject.toml README.md ./
COPY services ./services
COPY workers ./workers
COPY web ./web
COPY seeds ./seeds
RUN pip install --upgrade pip \
    && pip install . \
    && stancewatch --version

# --- final: slim base, the virtualenv, no compilers, a non-root user ---
FROM ${PYTHON_IMAGE} AS final
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    STANCEWATCH_LOG_FORMAT=json \
    STANCEWATCH_DATA_DIR=/var/lib/stancewatch
RUN groupadd --system --gid 10001 stancewatch \
    && useradd --system --uid 10001 --gid stancewatch --home-dir /var/lib/stancewatch \
       --shell /usr/sbin/nologin stancewatch \
    && mkdir -p /var/lib/stancewatch/prometheus \
    && chown -R stancewatch:stancewatch /var/lib/stancewatch
COPY --from=builder /opt/venv /opt/venv
WORKDIR /var/lib/stancewatch
USER stancewatch:stancewatch
EXPOSE 8000
# /healthz checks the database and the broker; worker and beat override this in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["stancewatch", "web", "--host", "0.0.0.0", "--port", "8000"]
