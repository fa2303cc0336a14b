"""Every page of both built editions in headless Chromium (``make browser``; needs ``make book``
and ``make book-student`` first).

For each page of the instructor edition (``_build/html``) and of the student edition
(``_build/student/_build/html``):

* it loads, MathJax typesets every formula (no raw ``$$``, ``\\begin``, ``\\(`` or ``\\[`` left in
  the prose), every image loads, no cell shows a traceback (cells tagged ``raises-exception``
  excepted: their error is the lesson);
* every figure the chapter's notebook draws is in the page: the page's code cells are matched one
  to one with the notebook's code cells, and each figure cell (``tools/book_checks.py`` derives
  them from the notebook's source: a ``plt.subplots``/``plt.figure`` call or ``mystnb.figure``
  metadata, cells tagged ``widget`` excepted) must show an image that loaded
  (``naturalWidth > 0``) and is not blank (its pixels vary, measured on a canvas in the page).
  The page's count of such images must be at least the notebook's count of figure cells;
* each ``widget`` cell's ``widget-twin`` shows its image;
* the page does not scroll sideways, at desktop width (1280 px) and at phone width (390 px):
  wide code and tables scroll inside their own box (``_static/overflow.css``);
* screenshots go to ``_build/screenshots/`` (``EDITION__PAGE.png`` at 1280 px,
  ``EDITION__PAGE@390.png`` at 390 px, and ``...__fig1`` of the first figure at both widths).

Failures name the edition, the page and, where there is one, the notebook cell.
``test_checker_catches`` runs the same checks on a page made to fail (a blank image, a broken
image, a figure cell without an image, a wide block), so a checker that stopped seeing them fails.

The student edition also must keep every exercise and show no solution text
(``test_student_page``).

The built pages load MathJax from jsDelivr. So that the check also runs where only package
registries are reachable, the pages are served from a temporary copy in which that one URL
points at the same MathJax release fetched from npm (``tools/fetch-mathjax.sh``).
"""
from __future__ import annotations

import base64
import fcntl
import functools
import http.server
import io
import json
import pathlib
import re
import shutil
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import book_checks  # noqa: E402

pytestmark = pytest.mark.browser

EDITIONS = {
    "book": (ROOT / "_build" / "html", ROOT / "notebooks"),
    "student": (ROOT / "_build" / "student" / "_build" / "html",
                ROOT / "_build" / "student" / "notebooks"),
}
HTML, STUDENT_HTML = EDITIONS["book"][0], EDITIONS["student"][0]
MATHJAX = ROOT / "_build" / "mathjax"
SHOTS = ROOT / "_build" / "screenshots"
CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
SKIP = {"genindex.html", "search.html", "py-modindex.html"}
DESKTOP, PHONE = 1280, 390


def pages(html=HTML):
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if p.name not in SKIP and not p.relative_to(html).parts[0].startswith("_"))


# An edition that is not built is one failing test, never a silently shorter list.
PAGES = [(ed, p) for ed, (html, _) in EDITIONS.items()
         for p in (pages(html) or [f"<no {ed} edition at {html}: run `make book` and "
                                   "`make book-student` first>"])]
STUDENT_PAGES = [p for p in pages(STUDENT_HTML) if p.startswith("notebooks/")] or [
    "<no student edition: run `make book-student` first>"]


def copy_site(src: pathlib.Path, dest: pathlib.Path) -> None:
    """``src`` into ``dest`` with MathJax served from ``dest/_mathjax``."""
    shutil.copytree(src, dest)
    shutil.copytree(MATHJAX / "es5", dest / "_mathjax")
    for page in dest.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if CDN in text:
            depth = len(page.relative_to(dest).parts) - 1
            page.write_text(text.replace(CDN, "../" * depth + "_mathjax/tex-mml-chtml.js"),
                            encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    assert (MATHJAX / "es5" / "tex-mml-chtml.js").is_file(), "run tools/fetch-mathjax.sh first"
    root = tmp_path_factory.mktemp("site")
    for edition, (html, _) in EDITIONS.items():
        if html.is_dir():
            copy_site(html, root / edition)
    (root / "selfcheck").mkdir()
    return root


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", f"--window-size={DESKTOP},1600"):
        options.add_argument(flag)
    service = webdriver.ChromeService(
        executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


# Text of the prose: the page without code, outputs of code, scripts and typeset math.
RAW_MARKUP = re.compile(r"\{(term|ref|numref|cite|doc|eq|index|math)\}`|\*\*\w|\$\\|"
                        r"\\(frac|sum|prod|partial|odot|operatorname|mathbb|top|alpha|beta)\b")
TABLE_NUMBERS_JS = """
return [...document.querySelectorAll('figure[id^="tbl-"]')].map(f => ({
  id: f.id, text: (f.querySelector('.caption-number') || {innerText: '(none)'}).innerText}));
"""
PROSE_JS = """
const body = document.querySelector('main') || document.body;
const clone = body.cloneNode(true);
clone.querySelectorAll('pre, code, script, style, mjx-container, .cell_output, .highlight')
     .forEach(e => e.remove());
return clone.innerText;
"""

#: a Markdown table that a cell printed and nobody parsed (a display(Markdown(...)) cell
#: without ``mystnb: {markdown_format: gfm}``): its separator row left as text
RAW_TABLE = re.compile(r"\|\s*:?(?:-{3,}|—|–):?\s*\|")
OUTPUT_TEXT_JS = """
return [...document.querySelectorAll('.cell_output')].map(o => {
  const c = o.cloneNode(true);
  c.querySelectorAll('pre, code, script, style, table').forEach(e => e.remove());
  return c.innerText; }).join('\\n');
"""

WAIT_MATHJAX_JS = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done('no MathJax'); return; }
MathJax.startup.promise.then(() => done('ok')).catch(e => done('error: ' + e));
"""

WAIT_IMAGES_JS = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = 'eager'; });
Promise.all(imgs.map(i => i.complete ? Promise.resolve() :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })))
  .then(() => done(imgs.length));
"""

CHECK_JS = """
const mathNodes = Array.from(document.querySelectorAll('span.math, div.math'));
const untypeset = mathNodes.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
const mjxErrors = Array.from(document.querySelectorAll('mjx-merror')).map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120) + ' in: ' + (e.closest('.math')?.getAttribute('data-tex') || e.closest('mjx-container')?.parentElement?.textContent || '').slice(0, 80));
const badImages = Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
const tracebacks = Array.from(document.querySelectorAll('.cell')).filter(c =>
    !c.className.includes('tag_raises-exception') &&
    (c.querySelector('.traceback, .output.error, .stderr') !== null && /Traceback|Error/.test(c.querySelector('.cell_output')?.innerText || '')
     || /Traceback \\(most recent call last\\)/.test(c.querySelector('.cell_output')?.innerText || ''))
).map(c => (c.querySelector('.cell_input')?.innerText || '').slice(0, 80));
return {nMath: mathNodes.length, untypeset, mjxErrors, badImages, tracebacks,
        title: document.title};
"""

# Per code cell of the page, in order: its tags and every image it shows outside its input,
# with the image's natural size and the variance of its pixels (per channel, summed) measured
# by drawing it on a canvas (at most 400 px wide).
CELLS_JS = """
const root = document.querySelector('main') || document.body;
function stats(img) {
  const r = {src: (img.getAttribute('src') || '').slice(0, 80), w: img.naturalWidth, h: img.naturalHeight,
             variance: -1, error: null};
  if (!(img.complete && img.naturalWidth > 0)) return r;
  try {
    const w = Math.min(img.naturalWidth, 400);
    const h = Math.max(1, Math.round(img.naturalHeight * w / img.naturalWidth));
    const cv = document.createElement('canvas'); cv.width = w; cv.height = h;
    const ctx = cv.getContext('2d'); ctx.drawImage(img, 0, 0, w, h);
    const d = ctx.getImageData(0, 0, w, h).data, n = d.length / 4;
    const s = [0, 0, 0, 0], s2 = [0, 0, 0, 0];
    for (let i = 0; i < d.length; i++) { s[i % 4] += d[i]; s2[i % 4] += d[i] * d[i]; }
    r.variance = [0, 1, 2, 3].reduce((a, c) => a + s2[c] / n - (s[c] / n) ** 2, 0);
  } catch (e) { r.error = String(e); }
  return r;
}
return Array.from(root.querySelectorAll('div.cell')).map(c => ({
  tags: Array.from(c.classList).filter(x => x.startsWith('tag_')).map(x => x.slice(4)),
  input: (c.querySelector('.cell_input')?.textContent || '').trim().slice(0, 60),
  imgs: Array.from(c.querySelectorAll('img')).filter(i => !i.closest('.cell_input')).map(stats),
}));
"""

# Sideways scrolling: the document wider than the window, and the elements that stick out
# without a scrolling or clipping box around them (named with their cell's input, if any).
OVERFLOW_JS = """
const de = document.documentElement, W = de.clientWidth;
const clipped = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX; if (o !== 'visible') return true; } return false; };
const culprits = [];
if (de.scrollWidth > W) {
  for (const e of document.body.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= W + 1 || clipped(e)) continue;
    if (Array.from(e.children).some(k => k.getBoundingClientRect().right > W + 1 && !clipped(k))
        && culprits.length) continue;
    const cell = e.closest('div.cell');
    culprits.push(`<${e.tagName.toLowerCase()} class="${e.className}"> right edge ${Math.round(r.right)} px` +
      (cell ? ` in the cell ${JSON.stringify((cell.querySelector('.cell_input')?.textContent || '').trim().slice(0, 50))}` :
              ` (${JSON.stringify((e.textContent || '').trim().slice(0, 50))})`));
    if (culprits.length >= 5) break;
  }
}
return {scrollWidth: de.scrollWidth, clientWidth: W, culprits};
"""


def set_width(browser, width: int | None) -> None:
    """Emulate a viewport ``width`` px wide (a phone: mobile, 390 px); ``None``: the window."""
    if width is None:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    else:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    time.sleep(0.3)


def load(browser, url: str, where: str) -> str:
    browser.get(url)
    # Poll: a page may redirect (index.html -> the root page), and the new document starts over.
    deadline, state = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        time.sleep(0.2)
        state = browser.execute_script("return document.readyState")
        if state == "complete":
            break
    assert state == "complete", f"{where}: did not finish loading within 30 s ({state})"
    browser.execute_async_script(WAIT_IMAGES_JS)
    return browser.execute_async_script(WAIT_MATHJAX_JS)


def shoot(browser, name: str, figure: bool) -> None:
    """Screenshot the window, and the first figure scrolled into view when ``figure``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    if figure:
        browser.execute_script("""
            const i = Array.from(document.querySelectorAll('div.cell img'))
                           .find(i => !i.closest('.cell_input'));
            if (i) i.scrollIntoView({block: 'center'});""")
        time.sleep(0.2)
        browser.save_screenshot(str(SHOTS / f"{name}__fig1.png"))
        browser.execute_script("window.scrollTo(0, 0)")


def notebook_for(edition: str, page: str) -> pathlib.Path | None:
    if not page.startswith("notebooks/"):
        return None
    nb = EDITIONS[edition][1] / (pathlib.PurePosixPath(page).stem + ".ipynb")
    return nb if nb.is_file() else None


def figure_problems(nb: dict, page_cells: list[dict], where: str) -> tuple[list[str], int, int]:
    """Match the page's code cells to the notebook's and name every figure cell whose image is
    missing, broken or blank. Returns (problems, figures expected, good images in the page)."""
    nb_cells = [(i, c) for i, c in enumerate(nb["cells"])
                if c.get("cell_type") == "code" and "remove-cell" not in book_checks.tags(c)]
    figures = book_checks.figure_cells(nb)
    good = [img for c in page_cells for img in c["imgs"] if img["w"] > 0 and img["variance"] > 0]
    problems = []
    for k, c in enumerate(page_cells):
        for img in c["imgs"]:
            if img["w"] == 0:
                problems.append(f"{where}: page cell {k} ({c['input']!r}): image {img['src']} "
                                "did not load")
            elif img["variance"] <= 0:
                problems.append(f"{where}: page cell {k} ({c['input']!r}): image {img['src']} is "
                                f"blank (pixel variance {img['variance']}, {img['error'] or ''})")
    if len(nb_cells) != len(page_cells):
        problems.append(f"{where}: the page has {len(page_cells)} code cells, the notebook "
                        f"{len(nb_cells)} (not tagged remove-cell): cannot match them; figure "
                        "cells of the notebook: " + ", ".join(map(str, figures)))
    else:
        for (i, cell), pc in zip(nb_cells, page_cells):
            want = {t for t in book_checks.tags(cell) if re.fullmatch(r"[\w-]+", t)}
            if not want <= set(pc["tags"]):
                problems.append(f"{where}: notebook cell {i} has tags {sorted(want)}, its page "
                                f"cell {sorted(pc['tags'])}: the page does not match the notebook")
                break
            if i in figures and not any(im["w"] > 0 and im["variance"] > 0 for im in pc["imgs"]):
                kind = "widget twin" if "widget-twin" in book_checks.tags(cell) else "figure"
                problems.append(f"{where}: {book_checks.cell_label('notebook', i, cell)} draws "
                                f"a {kind}, but the page shows no image for it")
    if len(good) < len(figures):
        problems.append(f"{where}: {len(good)} images from cell outputs, fewer than the "
                        f"{len(figures)} figures the notebook draws")
    return problems, len(figures), len(good)


def record_count(key: str, n_fig: int, n_img: int) -> None:
    """Keep the per-page counts in ``_build/screenshots/counts.json`` for people to read."""
    path = SHOTS / "counts.json"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with open(SHOTS / "counts.lock", "w") as lock:  # make browser runs two pytest workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        counts = json.loads(path.read_text()) if path.is_file() else {}
        counts[key] = {"figure_cells": n_fig, "images": n_img}
        path.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("edition,page", PAGES, ids=[f"{e}:{p}" for e, p in PAGES])
def test_page(edition, page, site, server, browser):
    assert not page.startswith("<"), page
    assert (site / edition).is_dir(), f"{EDITIONS[edition][0]} is missing"
    where = f"{edition} edition, {page}"
    set_width(browser, None)
    status = load(browser, f"{server}/{edition}/{page}", where)
    r = browser.execute_script(CHECK_JS)
    cells = browser.execute_script(CELLS_JS)
    name = edition + "__" + page.replace("/", "__")[:-5]
    has_fig = any(im["w"] > 0 for c in cells for im in c["imgs"])
    shoot(browser, name, has_fig)
    wide = browser.execute_script(OVERFLOW_JS)
    set_width(browser, PHONE)
    narrow = browser.execute_script(OVERFLOW_JS)
    shoot(browser, f"{name}@{PHONE}", has_fig)
    set_width(browser, None)

    if r["nMath"]:
        assert status == "ok", f"{where}: MathJax did not run ({status})"
    assert not r["untypeset"], f"{where}: formulas not typeset: {r['untypeset'][:5]}"
    assert not r["mjxErrors"], f"{where}: MathJax errors: {r['mjxErrors'][:5]}"
    prose = browser.execute_script(PROSE_JS)
    for raw in ("$$", "\\begin{", "\\(", "\\["):
        assert raw not in prose, f"{where}: raw {raw!r} left in the text: " \
            f"...{prose[max(0, prose.index(raw) - 60):prose.index(raw) + 60]}..."
    # markup MyST did not parse: a role, bold, or a TeX command outside the math (e.g. a
    # formula cut in two by a line that starts with "+ " and so became a list item)
    if hit := RAW_MARKUP.search(prose):
        raise AssertionError(f"{where}: unparsed markup {hit[0]!r} in the text: "
                             f"...{prose[max(0, hit.start() - 60):hit.end() + 60]}...")
    outputs = browser.execute_script(OUTPUT_TEXT_JS)
    if hit := RAW_TABLE.search(outputs):
        raise AssertionError(f"{where}: a cell output shows a Markdown table as text: "
                             f"...{outputs[max(0, hit.start() - 80):hit.end() + 40]}...")
    numbers = browser.execute_script(TABLE_NUMBERS_JS)  # cell outputs labelled tbl-*
    wrong = [n for n in numbers if not n["text"].startswith("Table")]
    assert not wrong, f"{where}: tables numbered as something else: {wrong}"
    assert not r["badImages"], f"{where}: images that did not load: {r['badImages']}"
    assert not r["tracebacks"], f"{where}: cells show a traceback: {r['tracebacks']}"
    assert "404" not in r["title"], f"{where}: title {r['title']!r}"
    for width, o in ((DESKTOP, wide), (PHONE, narrow)):
        assert o["scrollWidth"] <= o["clientWidth"], (
            f"{where}: at {width} px the page scrolls sideways ({o['scrollWidth']} > "
            f"{o['clientWidth']} px); sticking out: {o['culprits']}")
    nb = notebook_for(edition, page)
    if page.startswith("notebooks/"):
        assert nb is not None, f"{where}: no notebook {EDITIONS[edition][1]}/{page[10:-5]}.ipynb"
    if nb is not None:
        problems, n_fig, n_img = figure_problems(book_checks.load(nb), cells, where)
        record_count(f"{edition}:{page}", n_fig, n_img)
        print(f"{where}: {n_img} images from cell outputs, {n_fig} figure cells")
        assert not problems, "\n".join(problems)


def tiny_png(blank: bool) -> str:
    """A 40x30 PNG as a data-free file body (base64): one colour, or a diagonal line."""
    import matplotlib
    matplotlib.use("Agg")  # this test's own process only: it writes files, shows nothing
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(0.4, 0.3), dpi=100)
    if not blank:
        fig.add_artist(plt.Line2D([0, 1], [0, 1], color="k", lw=3))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_checker_catches(site, server, browser):
    """The checks above, on a page made to fail: they must see a blank image, a broken image,
    a figure cell with no image and a block that makes the page scroll sideways."""
    cell = ('<div class="cell {tags} docutils container"><div class="cell_input">'
            '<pre>{code}</pre></div><div class="cell_output">{out}</div></div>')
    good, blank = tiny_png(False), tiny_png(True)
    html = ('<html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
            "</head><body><main>") + "".join([
        cell.format(tags="tag_hide-input", code="fig = plt.figure()",
                    out=f'<img src="data:image/png;base64,{good}">'),
        cell.format(tags="tag_hide-input", code="fig = plt.figure()",
                    out=f'<img src="data:image/png;base64,{blank}">'),
        cell.format(tags="", code="fig, ax = plt.subplots()", out='<img src="missing.png">'),
        cell.format(tags="", code="fig, ax = plt.subplots()", out=""),
        '<div style="width: 600px">a wide block</div>',
        '<div style="overflow-x: auto"><pre style="width: 2000px">scrolls in its own box</pre></div>',
        '<p>the right one is $\\prod_{j=p+1}^n a_j</p><ul><li>\\sum_{i=p+1}^{n} \\dots</li></ul>',
        '<div class="cell_output"><p>| model | loss | | &mdash; | &mdash;: | | a | 1.5 |</p></div>',
    ]) + "</main></body></html>"
    (site / "selfcheck" / "index.html").write_text(html)
    nb = {"cells": [
        {"cell_type": "code", "metadata": {"tags": ["hide-input"]}, "source": "fig = plt.figure()"},
        {"cell_type": "code", "metadata": {"tags": ["hide-input"]}, "source": "fig = plt.figure()"},
        {"cell_type": "code", "metadata": {}, "source": "fig, ax = plt.subplots()"},
        {"cell_type": "code", "metadata": {}, "source": "fig, ax = plt.subplots()"}]}
    set_width(browser, None)
    load(browser, f"{server}/selfcheck/index.html", "selfcheck")
    problems, n_fig, n_img = figure_problems(nb, browser.execute_script(CELLS_JS), "selfcheck")
    text = "\n".join(problems)
    assert (n_fig, n_img) == (4, 1), (n_fig, n_img)
    assert "page cell 1" in text and "is blank" in text, text
    assert "page cell 2" in text and "did not load" in text, text
    for i in (1, 2, 3):
        assert f"notebook cell {i} " in text, text
    assert "notebook cell 0 " not in text, text
    assert "1 images from cell outputs, fewer than the 4" in text, text
    o = browser.execute_script(OVERFLOW_JS)
    assert o["scrollWidth"] <= o["clientWidth"], o  # 600 px fit the desktop window
    set_width(browser, PHONE)
    o = browser.execute_script(OVERFLOW_JS)
    set_width(browser, None)
    assert o["clientWidth"] == PHONE, o
    assert o["scrollWidth"] > o["clientWidth"], o
    culprits = " ".join(o["culprits"])
    assert "a wide block" in culprits and "own box" not in culprits, o
    hit = RAW_MARKUP.search(browser.execute_script(PROSE_JS))  # the formula cut by a list item
    assert hit and hit[0] == "$\\", hit
    hit = RAW_TABLE.search(browser.execute_script(OUTPUT_TEXT_JS))  # the unparsed table
    assert hit and "—" in hit[0], hit


TINY_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "c0", "metadata": {}, "source": "# One figure"},
        {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None,
         "outputs": [], "source": "import matplotlib.pyplot as plt"},
        {"cell_type": "code", "id": "c2", "execution_count": None, "outputs": [],
         "metadata": {"tags": ["hide-input"], "mystnb": {"figure": {
             "name": "fig-ch99-line", "caption": "A line."}}},
         "source": "fig, ax = plt.subplots()\nax.plot([0, 1], [0, 1])\nplt.show()"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize("backend", ["inline", "Agg"])
def test_agg_build_fails_the_check(backend, tmp_path, site, server, browser, monkeypatch):
    """Mutation check of the whole chain: a one-figure notebook built by ``jupyter-book`` with
    the kernel's own backend passes the figure checks; with ``MPLBACKEND=Agg`` forced back on,
    both the build's check (``book_checks.py figures``) and this page check name its cell."""
    import subprocess
    nb = tmp_path / "tiny.ipynb"
    nb.write_text(json.dumps(TINY_NOTEBOOK))
    if backend == "Agg":
        monkeypatch.setenv("MPLBACKEND", "Agg")
    else:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    jb = pathlib.Path(sys.executable).with_name("jupyter-book")
    config = tmp_path / "_config.yml"  # execute through a jupyter-cache, as the book does
    config.write_text("title: tiny\nexecute:\n  execute_notebooks: cache\n")
    r = subprocess.run([str(jb), "build", str(nb), "--config", str(config),
                        "--path-output", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    page = tmp_path / "out" / "_build" / "_page" / "tiny"
    executed, why = book_checks.cached_execution(nb, page / ".jupyter_cache")  # as make book
    assert executed is not None, why
    build = book_checks.executed_problems(executed, "tiny.ipynb")
    copy_site(page / "html", site / f"tiny-{backend}")
    load(browser, f"{server}/tiny-{backend}/tiny.html", backend)
    problems, n_fig, n_img = figure_problems(TINY_NOTEBOOK, browser.execute_script(CELLS_JS),
                                             f"tiny ({backend})")
    if backend == "inline":
        assert (build, problems, n_fig, n_img) == ([], [], 1, 1), (build, problems)
    else:
        assert len(build) == 1 and build[0].startswith("tiny.ipynb cell 2 "), build
        assert (n_fig, n_img) == (1, 0), (n_fig, n_img)
        assert any("notebook cell 2 " in p and "shows no image" in p for p in problems), problems


SOLUTION_LINES_JS = """
const main = document.querySelector('main') || document.body;
const rest = main.cloneNode(true);
rest.querySelectorAll('.solution').forEach(e => e.remove());
const elsewhere = new Set(rest.innerText.split('\\n').map(s => s.trim()));
const lines = [];
main.querySelectorAll('.solution').forEach(s => s.innerText.split('\\n').forEach(l => {
  l = l.trim(); if (l.length >= 25 && !elsewhere.has(l)) lines.push(l); }));
return {lines, exercises: main.querySelectorAll('.exercise').length,
        solutions: main.querySelectorAll('.solution').length};
"""

STUDENT_JS = """
const main = document.querySelector('main') || document.body;
const visible = e => e.offsetParent !== null || e.getClientRects().length > 0;
return {text: main.innerText,
        exercises: Array.from(main.querySelectorAll('.exercise')).filter(visible).length,
        solutions: main.querySelectorAll('.solution').length};
"""


@pytest.mark.parametrize("page", STUDENT_PAGES)
def test_student_page(page, site, server, browser):
    """The student edition's chapter keeps every exercise of the instructor edition, visible,
    and shows no line of any solution (lines of 25+ characters found only in solutions)."""
    assert not page.startswith("<"), page
    assert pages(STUDENT_HTML) == pages(HTML), "the two editions have different pages"
    set_width(browser, None)
    load(browser, f"{server}/book/{page}", f"book edition, {page}")
    full = browser.execute_script(SOLUTION_LINES_JS)
    assert full["solutions"] >= full["exercises"], \
        f"book edition, {page}: {full['exercises']} exercises but {full['solutions']} solutions"
    load(browser, f"{server}/student/{page}", f"student edition, {page}")
    st = browser.execute_script(STUDENT_JS)
    assert st["exercises"] == full["exercises"], (
        f"student edition, {page}: {st['exercises']} visible exercises, the instructor edition "
        f"has {full['exercises']}")
    assert st["solutions"] == 0, f"student edition, {page}: {st['solutions']} solution blocks"
    shown = set(line.strip() for line in st["text"].split("\n"))
    leaked = [line for line in full["lines"] if line in shown]
    assert not leaked, f"student edition, {page}: solution text visible: {leaked[:3]}"


def test_student_edition_hides_solutions():
    """``make book-student``: every exercise is there, no solution is (in the HTML source)."""
    assert STUDENT_HTML.is_dir(), f"{STUDENT_HTML} is missing: run `make book-student` first"
    assert pages(STUDENT_HTML) == pages(HTML), "the two editions have different pages"
    for page in pages(HTML):
        full = (HTML / page).read_text(encoding="utf-8")
        student = (STUDENT_HTML / page).read_text(encoding="utf-8")
        n_ex = len(re.findall(r'class="[^"]*\bexercise\b[^"]*admonition', full))
        n_sol = len(re.findall(r'class="[^"]*\bsolution\b[^"]*admonition', full))
        assert n_sol == n_ex, f"{page}: {n_ex} exercises but {n_sol} solutions in the full edition"
        assert len(re.findall(r'class="[^"]*\bexercise\b[^"]*admonition', student)) == n_ex, page
        assert not re.search(r'class="[^"]*\bsolution\b', student), f"{page}: a solution is visible"


def test_launch_buttons_use_the_repository_url():
    """The Colab and Binder buttons of every chapter point at ``_config.yml``'s repository."""
    import yaml
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    slug = re.sub(r"^https?://github\.com/", "", url)
    assert HTML.is_dir(), f"{HTML} is missing: run `make book` first"
    for page in pages(HTML):
        if not page.startswith("notebooks/"):
            continue
        text = (HTML / page).read_text(encoding="utf-8")
        stem = pathlib.PurePosixPath(page).stem
        colab = f"colab.research.google.com/github/{slug}/blob/"
        assert colab in text and f"notebooks/{stem}.ipynb" in text, \
            f"{page}: no Colab button for {url}"
        assert f"mybinder.org/v2/gh/{slug}/" in text, f"{page}: no Binder button for {url}"

