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
# /healthz through the image's own python and its standard library (no curl in the image);
# any answer but a 2xx, or none within the timeout, exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ARMADA_PORT', '8000') + '/healthz', timeout=4)"]
CMD ["armada", "serve"]
