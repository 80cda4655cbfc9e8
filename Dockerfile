# The translation service with the shipped models (models/ in the build context).
#
#   docker build -t rnn-translator .
#   docker run --rm -p 8000:8000 rnn-translator
#
# CPU torch by default, from PyTorch's CPU wheel index (not the multi-GB CUDA build). For an NVIDIA GPU:
#   docker build -t rnn-translator:cuda \
#     --build-arg TORCH_VARIANT=cu124 --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124 .
#   docker run --gpus all -p 8000:8000 rnn-translator:cuda
# (CUDA wheels bring their own CUDA runtime, so python:3.11-slim still works as the base; BASE_IMAGE
# may name another base, e.g. an nvidia/cuda image, as long as it has python3.11 and pip on PATH.)
# Settings are TRANSLATOR_* environment variables (docker run -e ...); see `translator-serve --help`.
# Only classic Dockerfile syntax: builds without BuildKit.

ARG BASE_IMAGE=python:3.11-slim

# Checkpoints are saved private (a 0700 directory); make them readable, not writable, by the service user.
FROM ${BASE_IMAGE} AS models
COPY models /models
RUN chmod -R u=rwX,go=rX /models

FROM ${BASE_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin translator
WORKDIR /app

# 1. torch alone: the largest layer, rebuilt only when a torch build argument changes. The pin has the
#    variant label (+cpu) so that no other build can be picked; PyPI is there for torch's own dependencies.
RUN pip install "torch==${TORCH_VERSION}+${TORCH_VARIANT}" \
        --index-url "${TORCH_INDEX_URL}" --extra-index-url https://pypi.org/simple

# 2. The other dependencies, read from pyproject.toml alone, so editing code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# 3. The code, installed without touching the dependencies.
COPY README.md ./
COPY translator ./translator
COPY training ./training
COPY service ./service
RUN pip install --no-deps . && rm -rf build *.egg-info

# 4. The models last: retraining one rebuilds only this layer.
COPY --from=models /models ./models

USER translator
ENV TRANSLATOR_HOST=0.0.0.0 \
    TRANSLATOR_PORT=8000 \
    TRANSLATOR_MODELS_ROOT=/app/models
EXPOSE 8000

# slim has no curl; python's urllib fails (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('TRANSLATOR_PORT', '8000'), timeout=4)" || exit 1

ENTRYPOINT ["translator-serve"]
