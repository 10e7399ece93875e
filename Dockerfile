FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ARMADA_HOST=0.0.0.0 \
    ARMADA_PORT=8000 \
    ARMADA_DB_PATH=/data/armada.db

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY armada ./armada
COPY sql ./sql
RUN pip install --no-cache-dir -e . \
    && useradd --system --uid 10001 --home-dir /app armada \
    && mkdir -p /data && chown armada /data

USER armada
VOLUME ["/data"]
EXPOSE 8000
CMD ["python", "-m", "armada", "serve"]
