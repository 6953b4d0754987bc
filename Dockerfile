# camerahub: one image for every command (serve, record, deploy, audit, export, ...).
#
#   docker build -t camerahub:0.1.0 .
#   docker run --rm camerahub:0.1.0 --version
#
# Stage "build" makes a wheel of this checkout and installs it with its dependencies into a
# virtual environment at /opt/camerahub; stage "runtime" copies that environment onto a
# clean slim image. Nothing but PyPI (pip) and Debian (apt) is contacted while building;
# nothing at all at run time. No secret is built in: configuration, passwords and keys come
# from the environment and mounted files when a container starts (see README, "Running for
# real").
#
# Shared libraries: the PyAV and opencv-python-headless wheels bundle FFmpeg and OpenCV
# with their codecs (av.libs/, opencv_python_headless.libs/); psycopg2-binary, lxml and
# cryptography bundle libpq, libxml2 and OpenSSL. What they still take from the system is
# glibc, libgcc_s, libstdc++ and zlib (checked with ldd on every .so of those wheels), all of
# which the slim image has; the runtime stage installs them by name anyway so that a
# slimmer base cannot drop them unnoticed, and imports every native module before it ends.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# pyproject.toml names README.md as the long description; policies/ holds the Casbin model.
COPY pyproject.toml README.md ./
COPY camerahub ./camerahub
COPY simulator ./simulator
COPY policies ./policies
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/camerahub \
 && /opt/camerahub/bin/pip install /wheels/camerahub-*.whl
# The wheel ships policies/ beside camerahub; fail the build if the policy does not load.
RUN /opt/camerahub/bin/python -I -c \
        'from camerahub.authz.policy import new_enforcer; new_enforcer()'


FROM ${PYTHON_IMAGE} AS runtime
ARG CAMERAHUB_UID=10001
LABEL org.opencontainers.image.title="camerahub" \
      org.opencontainers.image.description="Video-surveillance backend: ONVIF discovery, stream-copy recording to S3, audited playback"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libstdc++6 zlib1g tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${CAMERAHUB_UID}" camerahub \
 && useradd --system --uid "${CAMERAHUB_UID}" --gid camerahub \
        --home-dir /var/lib/camerahub --no-create-home --shell /usr/sbin/nologin camerahub \
 && install -d -o camerahub -g camerahub -m 0750 /var/lib/camerahub \
 && install -d -o root -g root -m 0755 /etc/camerahub
COPY --from=build /opt/camerahub /opt/camerahub
COPY deploy/docker/healthcheck.py /usr/local/bin/camerahub-healthcheck
ENV PATH=/opt/camerahub/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CAMERAHUB_CONFIG=/etc/camerahub/camerahub.yaml \
    CAMERAHUB_DATA_DIR=/var/lib/camerahub
# Fail the build, not the first start, if a native library or a packaged file is missing:
# every native module imports, the Casbin model loads, the migrations run on SQLite, and
# the health check script runs.
RUN chmod 0755 /usr/local/bin/camerahub-healthcheck \
 && python -c 'import av, cv2, numpy, psycopg2, lxml.etree, argon2, cryptography.hazmat.primitives.asymmetric.ed25519, zoneinfo; zoneinfo.ZoneInfo("Asia/Tokyo")' \
 && python -c 'from camerahub.authz.policy import new_enforcer; new_enforcer()' \
 && python -c 'from camerahub.db.engine import open_database; open_database("sqlite:////tmp/smoke.db")' \
 && rm -f /tmp/smoke.db* \
 && camerahub --version \
 && camerahub-healthcheck recorder

# Numeric, so that Kubernetes' runAsNonRoot can check it without a passwd lookup.
USER ${CAMERAHUB_UID}:${CAMERAHUB_UID}
WORKDIR /var/lib/camerahub
# The data directory: spool (recorder), audit anchor log (API), SQLite when no
# CAMERAHUB_DATABASE_URL is given. Mount a volume here; everything else can be read-only.
VOLUME ["/var/lib/camerahub"]
EXPOSE 8000
# GET /healthz over loopback (TLS when the API serves TLS); recorders override this with
# `camerahub-healthcheck recorder`, which checks that the spool can be written.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["camerahub-healthcheck", "api"]
ENTRYPOINT ["camerahub"]
CMD ["serve"]
