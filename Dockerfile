# syntax=docker/dockerfile:1.7
# One image per component, from this one file: the target is the component.
#   docker build --target order -t registry.example.com/minimall/minimall-order:0.1.0 .
# Targets: gateway, catalog, order, member, marketing, payment. A service's image runs its HTTP
# app, its consumer, its outbox relay and its migrations (see deploy/k8s). Pin PYTHON_IMAGE to a
# digest in CI: --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# checkov:skip=CKV_DOCKER_7:the base is ARG PYTHON_IMAGE, pinned above (checkov cannot see ARGs)

# --- build: the locked dependencies and the component's packages, into /opt/venv ------------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY . .

FROM build AS build-gateway
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package minimall-gateway

FROM build AS build-catalog
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package minimall-catalog

FROM build AS build-order
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package minimall-order

FROM build AS build-member
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package minimall-member

FROM build AS build-marketing
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package minimall-marketing

FROM build AS build-payment
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package minimall-payment

# --- runtime: the slim base, the virtualenv, a non-root user; no compiler, no pip, no uv -----
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN python -m pip uninstall --yes pip setuptools wheel \
    && groupadd --system --gid 10001 minimall \
    && useradd --system --uid 10001 --gid minimall --no-create-home --shell /usr/sbin/nologin minimall
WORKDIR /app
USER 10001:10001
# The chart sets the command of every process (uvicorn, consumer, relay, migrations); the
# default runs nothing useful on purpose.
CMD ["python", "-c", "print('set the command: see deploy/k8s/README.md')"]
HEALTHCHECK NONE

FROM runtime AS gateway
COPY --from=build-gateway /opt/venv /opt/venv
CMD ["uvicorn", "gateway.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS catalog
COPY --from=build-catalog /opt/venv /opt/venv
CMD ["uvicorn", "catalog.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS order
COPY --from=build-order /opt/venv /opt/venv
CMD ["uvicorn", "order.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS member
COPY --from=build-member /opt/venv /opt/venv
CMD ["uvicorn", "member.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS marketing
COPY --from=build-marketing /opt/venv /opt/venv
CMD ["uvicorn", "marketing.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS payment
COPY --from=build-payment /opt/venv /opt/venv
CMD ["uvicorn", "payment.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
