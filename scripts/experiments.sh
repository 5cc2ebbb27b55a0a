#!/usr/bin/env bash
# Run the shipped experiments and write what docs/experiments/ shows for each: the wall time and machine,
# the default report (both threshold rules, paired tests) as text and markdown, the long CSV, and the figures.
#   scripts/experiments.sh quickstart paper-synthetic mulan-yeast baselines-keel       (the quick ones, ~15 min)
#   scripts/experiments.sh keel-contest keel-contest-defaults   (the fair KEEL study and its untuned twin, ~1 h)
# (default: all six). A tune study (a config with a tune: block) runs `hfa tune`, any other `hfa sweep`.
# Each sweep is resumable: a second call trains only the runs that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
HFA=${HFA:-.venv/bin/hfa}
RUNS=${RUNS:-runs}
WORKERS=${WORKERS:-1}
PYTHON=${PYTHON:-.venv/bin/python}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(quickstart paper-synthetic mulan-yeast baselines-keel keel-contest keel-contest-defaults)

for name in "${names[@]}"; do
  docs="docs/experiments/$name"
  mkdir -p "$docs"
  start=$(date +%s)
  # A tune study (tune: block) tunes every method with one budget; its final runs are what the report reads.
  command=sweep runs="$RUNS/$name" by=()
  if grep -q '^tune:' "configs/$name.yaml"; then command=tune runs="$RUNS/$name/final" by=(--by data.name,name); fi
  # Exit 1 means some runs failed (SMOTE on a set with too few positives, say): they are counted in the report.
  status=0
  nice -n 10 "$HFA" "$command" --config "configs/$name.yaml" --out "$RUNS" --workers "$WORKERS" 2>"$docs/$command.log" \
    || status=$?
  [ "$status" -le 1 ] || exit "$status"
  wall=$(( $(date +%s) - start ))
  [ "$command" = tune ] && cp "$RUNS/$name/choices.csv" "$docs/choices.csv"
  {
    echo "command: $HFA $command --config configs/$name.yaml --out $RUNS --workers $WORKERS"
    echo "wall_s: $wall"
    echo "finished: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc --all) CPU cores, $(uname -sm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "python: $("$PYTHON" -c 'import platform, torch; print(platform.python_version(), "torch", torch.__version__)')"
  } > "$docs/run.txt"
  # One call: the tables on screen (report.txt), the same as markdown (report.md), and the figures.
  # The weighted-BCE seed's claim is about recall and precision: test those beside F1.
  extra=()
  [ "$name" = mulan-yeast ] && extra=(--test recall,precision,f1)
  # The page's figures are remade whole (figures written before hfa marked its own would be refused as a user's).
  rm -f "$docs"/report*.png
  # The untuned twin's figures (12 methods x 111 sets, 6 MB) are left out: its page is the contest's.
  plot=(--plot "$docs/report.png")
  [ "$name" = keel-contest-defaults ] && plot=()
  COLUMNS=80 "$HFA" report "$runs" "${by[@]}" "${extra[@]}" --out "$docs/report.md" "${plot[@]}" \
    > "$docs/report.txt" 2> "$docs/report-notes.txt"
  "$HFA" report "$runs" "${by[@]}" "${extra[@]}" --format csv --out "$docs/report.csv" 2>/dev/null
  # The multi-label page quotes the label averages with the multi-label metrics: their own long table.
  if [ "$name" = mulan-yeast ]; then
    "$HFA" report "$runs" --label macro,micro --metrics precision,recall,f1,hamming_loss,subset_accuracy \
      --test recall,precision,f1 --format csv --out "$docs/averages.csv" 2>/dev/null
  fi
  echo "$name: ${wall} s; wrote $docs"
done
# What tuning changed: the contest's final runs paired with its untuned twin's, partition by partition.
if [ -d "$RUNS/keel-contest/final" ] && [ -d "$RUNS/keel-contest-defaults" ]; then
  "$PYTHON" scripts/tuning_effect.py "$RUNS/keel-contest/final" "$RUNS/keel-contest-defaults" \
    --out docs/experiments/keel-contest/tuning-effect.csv > /dev/null
fi
# The numbers the pages quote come from the files just written.
"$PYTHON" scripts/docs_numbers.py
