"""Write ``_config.yml``'s ``repository.url`` into every chapter's Colab install cell.

The repository URL has one source of truth, ``_config.yml`` (``repository.url``); Jupyter Book's
launch buttons (Colab, Binder) and the repository button read it there. Each notebook's FIRST
code cell installs ``gl`` with ``%pip install ... "git+URL"``; this tool rewrites that URL.

Usage: python tools/sync_repo_url.py [--check] [ROOT]
  --check   change nothing; list the notebooks that disagree and exit 1 if any does.
ROOT is the book's folder (default: the repository this file is in).
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml

PIP_URL = re.compile(r"(git\+)(https?://[^\s\"'@#]+)")


def repository_url(root: pathlib.Path) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise SystemExit(f"{root / '_config.yml'}: no repository.url")
    return str(url).rstrip("/")


def install_cell(cells: list[dict], name: str) -> tuple[int, dict]:
    """The first code cell; it must hold a ``git+URL`` pip install."""
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            src = cell["source"]
            src = "".join(src) if isinstance(src, list) else src
            if "pip install" not in src or not PIP_URL.search(src):
                raise SystemExit(f"{name}: the first code cell (cell {i}) has no "
                                 "`pip install ... git+URL`")
            return i, cell
    raise SystemExit(f"{name}: no code cell")


def installed_urls(nb_path: pathlib.Path) -> list[str]:
    """The URLs the notebook's install cell pip-installs from."""
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    _, cell = install_cell(cells, nb_path.name)
    src = cell["source"]
    src = "".join(src) if isinstance(src, list) else src
    return [m.group(2).rstrip("/") for m in PIP_URL.finditer(src)]


def sync(root: pathlib.Path, check: bool) -> list[str]:
    """Rewrite (or, with ``check``, only list) the notebooks whose install URL differs."""
    url = repository_url(root)
    changed = []
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        text = nb.read_text(encoding="utf-8")
        data = json.loads(text)
        i, cell = install_cell(data["cells"], nb.name)
        src = cell["source"]
        lines = src if isinstance(src, list) else [src]
        new = [PIP_URL.sub(lambda m: m.group(1) + url, line) for line in lines]
        if new == lines:
            continue
        changed.append(f"{nb.name} cell {i}: {installed_urls(nb)} -> {url}")
        if not check:
            cell["source"] = new if isinstance(src, list) else new[0]
            nb.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    root = pathlib.Path(args[0]) if args else pathlib.Path(__file__).resolve().parents[1]
    changed = sync(root, check)
    for line in changed:
        print(("disagrees: " if check else "rewrote: ") + line)
    if not changed:
        print(f"every install cell uses {repository_url(root)}")
    return 1 if (check and changed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
