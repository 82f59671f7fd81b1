"""Docs pages in headless Chromium (Debian's `chromium`): the title is there, maths is typeset, markdown tables are
tables, figures load, and the page is not blank. Each page's screenshot is kept in `_docs_smoke/screenshots/`.

Chromium is driven by its command line only: a copy of the page with a small probe script (which waits for MathJax,
then writes what it measured into the DOM) is loaded with `--virtual-time-budget`, so one run gives both the DOM
after the scripts ran (`--dump-dom`) and the screenshot. Skipped only when the chromium binary is missing."""
import html, json, re, shutil, subprocess, tempfile
from pathlib import Path
import nbformat, pytest

PAGES = ["index.ipynb", "11_ta_sft.ipynb", "experiments/comparison.ipynb", "10_emd.ipynb"]   # notebooks; pages as nbdev names them

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="the chromium binary is missing (no `chromium` on PATH, no "
                                "/usr/bin/chromium): install Debian's chromium (`apt-get install chromium`; .ci/run does)")

# Headless on a machine with no network: the background-networking flags stop Chromium's own connections, and the
# resolver rule fails every host name at once (the pages' CDN scripts), so a run is the same offline or online.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", "--force-device-scale-factor=1"]
WIDTH, HEIGHT = 1280, 16000  # one tall window: the whole page is laid out and shot at once, then cropped to its end
BUDGET_MS = 60_000           # virtual time: it only runs on while the page is idle, so a slow machine needs no more

PROBE = """<script>(function () {
  var done = false;
  function report(finished) {
    if (done) return; done = true;
    var md = Array.from(document.querySelectorAll('.jp-RenderedMarkdown'));
    var prose = md.map(function (el) {  // visible prose of markdown cells and outputs: no code, no maths
      var out = [], w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      while (w.nextNode()) if (!w.currentNode.parentElement.closest(
        'code, pre, script, style, .MathJax, .MathJax_Display, .MathJax_Preview, .MJX_Assistive_MathML')) out.push(w.currentNode.nodeValue);
      return out.join('');
    }).join('\\n');
    var scripts = Array.from(document.querySelectorAll('script[type^="math/tex"]'));
    var frames = scripts.map(function (s) { return document.getElementById(s.id + '-Frame'); });
    var r = {finished: finished, title: document.title,
      h1: Array.from(document.querySelectorAll('h1')).map(function (h) { return h.textContent.replace('\\u00b6', '').trim(); }),
      mathjax: !!(window.MathJax && MathJax.Hub), math: scripts.length,
      math_typeset: frames.filter(function (f) { return f && f.getBoundingClientRect().width > 0; }).length,
      math_errors: document.querySelectorAll('.noError, .merror, .MathJax_Error').length,
      math_undefined: frames.filter(function (f) { return f && /\\\\[A-Za-z]/.test(f.textContent); }).map(function (f) { return f.textContent; }),
      md_tables: md.reduce(function (n, el) { return n + el.querySelectorAll('table').length; }, 0),
      images: Array.from(document.images).map(function (i) { return {src: i.src.slice(0, 60), complete: i.complete, width: i.naturalWidth}; }),
      bottom: Math.ceil(document.body.getBoundingClientRect().bottom + window.scrollY), prose: prose};
    var pre = document.createElement('pre'); pre.id = '__smoke__'; pre.style.display = 'none';
    pre.textContent = JSON.stringify(r); document.body.appendChild(pre);
  }
  window.addEventListener('load', function () {
    if (!(window.MathJax && MathJax.Hub)) return report(true);
    MathJax.Hub.Register.StartupHook('End', function () { MathJax.Hub.Queue(function () { report(true); }); });
    setTimeout(function () { report(false); }, 40000);  // virtual ms: report what there is if MathJax never ends
  });
})();</script>
"""

_code = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_tex_src = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$|\\\(|\\\[", re.S)       # maths in markdown source
_tex_left = re.compile(r"\$\$|\$[^$\s][^$\n]*\$|\\\(|\\\[|\\[A-Za-z]{2,}")  # TeX left in the visible prose
_table_rule = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*\|", re.M)                  # a pipe table's |---|---| row

def expectations(src:Path) -> dict:
    "What the processed notebook (the page's source) says the page must show."
    import yaml, docs_smoke
    nb = nbformat.read(src, as_version=4)
    fm = next((yaml.safe_load(m.group(1)) for c in nb.cells[:2] if c.cell_type == "raw"
               for m in [docs_smoke._front_matter.match(c.source)] if m), {}) or {}
    mds = [c.source for c in nb.cells if c.cell_type == "markdown"]
    mds += [o.data["text/markdown"] for c in nb.cells for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    mds = [_code.sub("", m) for m in mds]
    figures = sum(any(k.startswith("image/") and k != "image/svg+xml" for k in o.get("data", {}))
                  for c in nb.cells for o in c.get("outputs", []))
    return dict(title=fm.get("title"), maths=any(_tex_src.search(m) for m in mds),
                tables=sum(len(_table_rule.findall(m)) for m in mds),
                figures=figures + sum(len(re.findall(r"!\[[^\]]*\]\(", m)) for m in mds))

def browse(page:Path, shot:Path) -> dict:
    "Open `page` in headless Chromium: the probe's measurements; the screenshot, cropped to the page, goes to `shot`."
    probe = page.with_name(page.stem + ".smoke-probe.html")  # beside the page, so its relative links still work
    src = page.read_text(encoding="utf-8")
    i = src.rindex("</body>")
    probe.write_text(src[:i] + PROBE + src[i:], encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
            cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
                   f"--virtual-time-budget={BUDGET_MS}", f"--screenshot={shot}", "--dump-dom", probe.resolve().as_uri()]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    finally: probe.unlink(missing_ok=True)
    m = re.search(r'<pre id="__smoke__"[^>]*>(.*?)</pre>', r.stdout, re.S)
    if r.returncode or not m or not shot.is_file():
        noise = re.compile(r"dbus|unexpected operator|Fontconfig")
        log = "\n".join(l for l in r.stderr.splitlines() if not noise.search(l))[-3000:]
        pytest.fail(f"chromium failed on {page.name} (exit {r.returncode}, probe result {'found' if m else 'missing'}, "
                    f"screenshot {'written' if shot.is_file() else 'missing'}):\n{log}")
    res = json.loads(html.unescape(m.group(1)))
    from PIL import Image
    with Image.open(shot) as im: im.load()
    im.crop((0, 0, im.width, max(1, min(im.height, res["bottom"] + 16)))).save(shot, compress_level=3)
    return res

def blankness(shot:Path) -> tuple[float, float]:
    "Grey-level standard deviation of the whole screenshot and of its first screenful (0 for a blank image)."
    from PIL import Image, ImageStat
    with Image.open(shot) as im:
        g = im.convert("L")
        return ImageStat.Stat(g).stddev[0], ImageStat.Stat(g.crop((0, 0, g.width, min(g.height, 800)))).stddev[0]

@pytest.mark.parametrize("page", PAGES)
def test_page_in_chromium(docs_site, page):
    import docs_smoke
    html_page, src = docs_site.out / docs_smoke.page_name(page), docs_site.cache / page
    if not html_page.is_file():
        nb = Path("nbs") / page
        pytest.fail(f"page not built: {page} is not in the docs smoke build ({docs_site.out}); its notebook {nb} "
                    + ("exists but was not rendered" if (docs_site.root / nb).is_file() else "does not exist"))
    want = expectations(src)
    shots = docs_site.out / "screenshots"
    shots.mkdir(exist_ok=True)
    shot = shots / (str(docs_smoke.page_name(page)).replace("/", "__").removesuffix(".html") + ".png")
    got = browse(html_page, shot)
    where = f"{page} (screenshot: {shot})"

    assert got["finished"], f"{where}: MathJax never finished typesetting within the time budget"
    assert want["title"] and got["title"] == want["title"] and want["title"] in got["h1"], \
        f"{where}: title {want['title']!r} expected as <title> and <h1>; got <title> {got['title']!r}, <h1> {got['h1']}"
    assert got["mathjax"], f"{where}: MathJax did not load (is the local copy in {docs_site.out / '_mathjax'}?)"
    if want["maths"]: assert got["math"] > 0, f"{where}: the source has maths but MathJax found none"
    assert got["math_typeset"] == got["math"], f"{where}: only {got['math_typeset']} of {got['math']} formulas typeset"
    assert not got["math_errors"] and not got["math_undefined"], \
        f"{where}: {got['math_errors']} TeX errors, undefined macros in {got['math_undefined'][:5]}"
    left = [got["prose"][max(0, m.start() - 30):m.end() + 30] for m in _tex_left.finditer(got["prose"])]
    assert not left, f"{where}: raw TeX left in the visible text: {left[:5]}"
    rows = [got["prose"][max(0, m.start() - 30):m.end() + 30] for m in re.finditer(r"\|\s*:?-{3,}:?\s*\|", got["prose"])]
    assert not rows and got["md_tables"] >= want["tables"], \
        f"{where}: {want['tables']} markdown tables in the source, {got['md_tables']} <table>s; pipe-table text left: {rows[:3]}"
    assert len(got["images"]) >= want["figures"], f"{where}: {want['figures']} figures in the source, {len(got['images'])} <img>"
    bad = [i for i in got["images"] if not (i["complete"] and i["width"] > 0)]
    assert not bad, f"{where}: images that did not load: {bad}"
    whole, top = blankness(shot)
    assert whole > 8 and top > 8, f"{where}: the screenshot looks blank (grey-level std {whole:.1f}, first screen {top:.1f})"
