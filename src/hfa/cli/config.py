"""`hfa config`: the config a run would use, every default filled in, without training anything."""

from __future__ import annotations

from pathlib import Path

import typer

from hfa.cli.app import app, console, user_errors
from hfa.cli.train import CONFIG_HELP, OVERRIDES_HELP


@app.command(
    name="config",
    epilog=(
        "Examples:\n\n"
        "  hfa config --config configs/quickstart.yaml\n\n"
        "  hfa config loss.name=fbeta data.name=keel/yeast4"
    ),
)
@user_errors
def show_config(
    overrides: list[str] | None = typer.Argument(None, metavar="[KEY=VALUE]...", help=OVERRIDES_HELP),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
) -> None:
    """Print the resolved config as YAML: the file and overrides over the defaults, as a run's config.yaml holds it.

    Keys the run does not use (loss.beta for bce, data.n_samples for a file) are left out, as in its run id: two
    settings that print the same are the same run. A `sweep:` block is summarised on a comment line.
    """
    import yaml

    from hfa.config import canonical, load_config, run_id

    cfg = load_config(config, overrides or [])
    text = yaml.safe_dump(canonical(cfg), sort_keys=False)
    console.print(f"# run id {run_id(cfg)}", highlight=False, markup=False)
    if cfg.sweep:
        axes = ", ".join(f"{key} ({len(values)})" for key, values in cfg.sweep.items())
        console.print(
            f"# sweep: {axes}; hfa sweep lists its distinct runs", highlight=False, markup=False, soft_wrap=True
        )
    console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
