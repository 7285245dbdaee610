# syntax=docker/dockerfile:1
# The function's runtime image, where a Docker engine exists. `make image` builds the
# equivalent image without Docker (hack/image/build.sh: debootstrap instead of the
# debian:bookworm-slim base, otherwise the same steps). Both run the same scripts
# (hack/image/setup.sh, wheel.sh, venv.sh) with the same pins (hack/image/versions.env,
# requirements/runtime.txt and build.txt, hash-checked); tests/test_image.py checks that
# this file still does, and that USER, ENV, LABEL and ENTRYPOINT match what make image sets.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS base
COPY hack/image/versions.env hack/image/setup.sh /opt/image/
RUN . /opt/image/versions.env \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${IMAGE_PACKAGES} \
 && /bin/sh /opt/image/setup.sh \
 && rm -rf /opt/image

# The wheel and the virtualenv, built in the image's own Python (no interpreter mismatch).
FROM base AS build
COPY hack/image/ /tmp/src/hack/image/
COPY requirements/ /tmp/src/requirements/
COPY pyproject.toml README.md /tmp/src/
COPY function/ /tmp/src/function/
RUN /tmp/src/hack/image/wheel.sh /tmp/src /tmp/dist \
 && /tmp/src/hack/image/venv.sh /tmp/src/requirements/runtime.txt /tmp/dist/*.whl

FROM base AS runtime
COPY --from=build /venv/fn /venv/fn
ENV PATH=/venv/fn/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
LABEL org.opencontainers.image.source=https://github.com/function-multigres/function-multigres \
      org.opencontainers.image.version=0.1.0
USER 65532:65532
ENTRYPOINT ["/venv/fn/bin/function"]
