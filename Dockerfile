# The image holds the installed wheel, not the source tree: the SQL comes from inside the
# package (armada/sql), as for any `pip install`.
FROM python:3.12-slim AS build

WORKDIR /src
COPY setup.cfg pyproject.toml MANIFEST.in README.md ./
COPY armada ./armada
COPY sql ./sql
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ARMADA_HOST=0.0.0.0 \
    ARMADA_PORT=8000 \
    ARMADA_DB_PATH=/data/armada.db

COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /app armada \
    && mkdir -p /app /data && chown armada /data

# The working directory is where a mounted `.env` is read from.
WORKDIR /app
USER armada
VOLUME ["/data"]
EXPOSE 8000
CMD ["armada", "serve"]
