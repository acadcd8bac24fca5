"""Benchmarks: each writes its results as <name>.json and <name>.md under benchmarks/results/."""
from __future__ import annotations

import json
import os


def write_results(results_dir: str, name: str, data, markdown: str) -> None:
    """<results_dir>/<name>.json and <name>.md, and the Markdown on stdout."""
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, f"{name}.json"), "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    with open(os.path.join(results_dir, f"{name}.md"), "w") as f:
        f.write(markdown)
    print(markdown)
