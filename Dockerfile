# syntax=docker/dockerfile:1
# Build and runtime stages share one base (Debian 13, Python 3.13) so the virtualenv's
# interpreter path and ABI match: the mismatch in function-template-python#167 can't happen.
ARG PYTHON_IMAGE=python:3.13-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /venv/fn
COPY pyproject.toml README.md ./
COPY function ./function
RUN /venv/fn/bin/pip install --no-compile . \
 && /venv/fn/bin/python -m compileall -q /venv/fn

FROM ${PYTHON_IMAGE} AS runtime
COPY --from=build /venv/fn /venv/fn
# 65532: the conventional non-root uid; Pod Security "restricted" compatible.
USER 65532:65532
EXPOSE 9443 8080
ENTRYPOINT ["/venv/fn/bin/function"]
