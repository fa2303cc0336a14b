"""Write the student edition's config: _config.yml with every exercise solution hidden.

Usage: python tools/student_config.py OUT.yml
sphinx-exercise's ``hide_solutions`` removes solutions (gated ones included) from the output.
The notebook execution cache is shared with the main build, so nothing runs twice.
"""
import pathlib
import sys

import yaml

root = pathlib.Path(__file__).resolve().parents[1]
config = yaml.safe_load((root / "_config.yml").read_text())
config["title"] = config["title"] + " (student edition)"
config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
config.setdefault("execute", {})["cache"] = str(root / "_build" / ".jupyter_cache")
out = pathlib.Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(yaml.safe_dump(config, sort_keys=False))
print(f"wrote {out}")
