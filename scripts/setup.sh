#!/usr/bin/env bash
# Creates .venv and installs hfa into it, with the PyTorch build that fits this machine.
#   scripts/setup.sh        runtime only (train, sweep, report)
#   scripts/setup.sh dev    plus pytest, ruff, pyarrow and Ray (tests, benchmarks)
# A plain `pip install torch` on Linux pulls several GB of CUDA libraries even where there is no GPU,
# so torch is installed first, explicitly: CUDA build where nvidia-smi sees a GPU, CPU build elsewhere.
# Override with TORCH_SPEC (e.g. TORCH_SPEC="torch==2.5.1" or a wheel path).
set -euo pipefail
cd "$(dirname "$0")/.."

extra="${1:-}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
# Some pip configurations warn once per package about unreadable index folders; keep real errors only.
pip() { .venv/bin/python -m pip --quiet --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2); }

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if [ -n "${TORCH_SPEC:-}" ]; then
    pip install "$TORCH_SPEC"
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    pip install torch
  else
    # A local or mirrored CPU wheel first; PyTorch's CPU index otherwise.
    pip install "torch==2.13.0+cpu" 2>/dev/null \
      || pip install torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi

if [ "$extra" = "dev" ]; then
  pip install -e ".[dev]"
else
  pip install -e .
fi
.venv/bin/python -c "import torch, hfa; print(f'hfa {hfa.__version__} ready: torch {torch.__version__}, cuda={torch.cuda.is_available()}')"
