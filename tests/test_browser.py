"""Every page of the built book in headless Chromium (``make browser``; needs ``make book`` and
``make book-student`` first).

For each page: it loads, MathJax typesets every formula (no raw ``$$``, ``\\begin``, ``\\(`` or
``\\[`` left in the prose), every image loads, no cell shows a traceback (cells tagged
``raises-exception`` excepted: their error is the lesson), and a screenshot is saved to
``_build/screenshots/`` for people to look at. Failures name the page.

The built pages load MathJax from jsDelivr. So that the check also runs where only package
registries are reachable, the pages are served from a temporary copy in which that one URL
points at the same MathJax release fetched from npm (``tools/fetch-mathjax.sh``).
"""
from __future__ import annotations

import functools
import re
import http.server
import pathlib
import shutil
import threading
import time

import pytest

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
STUDENT_HTML = ROOT / "_build" / "student" / "_build" / "html"
MATHJAX = ROOT / "_build" / "mathjax"
SHOTS = ROOT / "_build" / "screenshots"
CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
SKIP = {"genindex.html", "search.html", "py-modindex.html"}


def pages(html=HTML):
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if p.name not in SKIP and not p.relative_to(html).parts[0].startswith("_"))


PAGES = pages() or ["<no built book: run `make book` first>"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert HTML.is_dir(), f"{HTML} is missing: run `make book` first"
    assert (MATHJAX / "es5" / "tex-mml-chtml.js").is_file(), "run tools/fetch-mathjax.sh first"
    site = tmp_path_factory.mktemp("site") / "html"
    shutil.copytree(HTML, site)
    shutil.copytree(MATHJAX / "es5", site / "_mathjax")
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if CDN in text:
            depth = len(page.relative_to(site).parts) - 1
            page.write_text(text.replace(CDN, "../" * depth + "_mathjax/tex-mml-chtml.js"),
                            encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a, **k: None
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
                 "--window-size=1280,1600"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


# Text of the prose: the page without code, outputs of code, scripts and typeset math.
PROSE_JS = """
const body = document.querySelector('main') || document.body;
const clone = body.cloneNode(true);
clone.querySelectorAll('pre, code, script, style, mjx-container, .cell_output, .highlight')
     .forEach(e => e.remove());
return clone.innerText;
"""

WAIT_MATHJAX_JS = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done('no MathJax'); return; }
MathJax.startup.promise.then(() => done('ok')).catch(e => done('error: ' + e));
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


@pytest.mark.parametrize("page", PAGES)
def test_page(page, server, browser):
    assert not page.startswith("<"), page
    browser.get(f"{server}/{page}")
    # Poll: a page may redirect (index.html -> the root page), and the new document starts over.
    deadline, state = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        time.sleep(0.2)
        state = browser.execute_script("return document.readyState")
        if state == "complete":
            break
    assert state == "complete", f"{page}: did not finish loading within 30 s ({state})"
    status = browser.execute_async_script(WAIT_MATHJAX_JS)
    r = browser.execute_script(CHECK_JS)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / (page.replace("/", "__")[:-5] + ".png")))
    if r["nMath"]:
        assert status == "ok", f"{page}: MathJax did not run ({status})"
    assert not r["untypeset"], f"{page}: formulas not typeset: {r['untypeset'][:5]}"
    assert not r["mjxErrors"], f"{page}: MathJax errors: {r['mjxErrors'][:5]}"
    prose = browser.execute_script(PROSE_JS)
    for raw in ("$$", "\\begin{", "\\(", "\\["):
        assert raw not in prose, f"{page}: raw {raw!r} left in the text: " \
            f"...{prose[max(0, prose.index(raw) - 60):prose.index(raw) + 60]}..."
    assert not r["badImages"], f"{page}: images that did not load: {r['badImages']}"
    assert not r["tracebacks"], f"{page}: cells show a traceback: {r['tracebacks']}"
    assert "404" not in r["title"], f"{page}: title {r['title']!r}"


def test_student_edition_hides_solutions():
    """``make book-student``: every exercise is there, no solution is."""
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
