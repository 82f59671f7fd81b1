"""Docs smoke build: process every notebook the way `nbdev-docs` does, then render each page to HTML.

Pages are named as on nbdev's site (`nbs/11_ta_sft.ipynb` -> `ta_sft.html`), so the prose's cross-page links work,
and each page gets the site's sidebar from `nbs/sidebar.yml` (a plain list of links in the left margin).

Quarto cannot be installed on every machine (it is a downloaded binary), so this check stands in for
`nbdev-docs` in CI: it runs nbdev's own notebook processors (`nbdev.serve.proc_nbs`, the step before Quarto),
renders the processed notebooks to standalone HTML pages with nbconvert, and fails on a broken page. Like Quarto,
it turns each page's front matter into a title block and drops pandoc's link attributes (`[source](url){...}`).

    python tools/docs_smoke.py [--out _docs_smoke] [--mathjax cdn|local|URL]

Maths is typeset in the browser by MathJax. By default the pages load it from nbconvert's CDN (the reader must be
online); `--mathjax local` copies the MathJax 2 that `jupyter_server_mathjax` ships (a dev dependency) into
`OUT/_mathjax/` and points every page at it, so maths renders offline (the browser test uses that).
"""
from __future__ import annotations
import argparse, base64, os, re, shutil, sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def process_notebooks():
    "Run nbdev's docs pre-processing (sidebar, quarto yml, processors) into `_proc/`; returns the cache folder."
    os.chdir(ROOT)
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.doclinks import _build_modidx
    from nbdev.serve import proc_nbs
    refresh_quarto_yml()
    _build_modidx()
    nbdev_sidebar.__wrapped__()
    return proc_nbs(n_workers=0, force=True)

# nbdev's own directives must be consumed by its processors; Quarto cell options (`#| echo: false`) stay on purpose.
_directive = re.compile(r"^\s*#\s*\|\s*(export|exporti|exports|default_exp|hide|hide_line|exec_doc)\b", re.M)
_CELL_KEYS = {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}
_front_matter = re.compile(r"\A\s*---\s*\n(.*?)\n---\s*\Z", re.S)
_link_attrs = re.compile(r"(\]\([^)\s]*\))\{[^}\n]*\}")  # pandoc link attributes: `[source](url){target="_blank"}`

def page_problems(nb) -> list[str]:
    "What is broken in one processed notebook: error outputs, unprocessed directives, bad images, no title."
    probs = []
    if not any(c.cell_type == "raw" and "title:" in c.source for c in nb.cells[:2]):
        probs.append("no title (the first markdown cell must be '# Title')")
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code": continue
        if _directive.search(c.source): probs.append(f"cell {i}: an nbdev directive was not processed")
        for o in c.get("outputs", []):
            if o.output_type == "error": probs.append(f"cell {i}: error output {o.ename}: {o.evalue}")
            if o.output_type == "stream" and o.name == "stderr" and "Traceback" in o.text:
                probs.append(f"cell {i}: a traceback on stderr")
            png = o.get("data", {}).get("image/png")
            if png is not None and not base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n":
                probs.append(f"cell {i}: an image output is not a valid PNG")
    return probs

def local_mathjax() -> Path:
    "The folder of the MathJax 2 that `jupyter_server_mathjax` ships: `MathJax.js`, its config files, jax and STIX fonts."
    import jupyter_server_mathjax
    return Path(jupyter_server_mathjax.__file__).parent/"static"

_LOCAL_MATHJAX = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"  # the combined config that MathJax ships
# That MathJax has only the STIX web fonts (Jupyter's classic notebook configured it so); by default MathJax would
# look for TeX fonts that are not there. MathJax reads this config at start-up, so it goes before MathJax.js.
_LOCAL_MATHJAX_CONFIG = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], '
                         'preferredFont: null, webFont: "STIX-Web", imageFont: null}});</script>\n')

def title_block(nb):
    "Turn nbdev's front matter (the raw first cell) into a title block and the page's <title>, as Quarto does."
    import yaml
    for c in nb.cells[:2]:
        m = _front_matter.match(c.source) if c.cell_type == "raw" else None
        fm = yaml.safe_load(m.group(1)) if m else None
        if not isinstance(fm, dict) or not fm.get("title"): continue
        nb.metadata["title"] = str(fm["title"])
        c.cell_type, c.source = "markdown", f"# {fm['title']}" + (f"\n\n{fm['description']}" if fm.get("description") else "")
        c.metadata.pop("raw_mimetype", None)
        return

def render(out:Path, mathjax_url:str|None=None) -> dict[str, list[str]]:
    """Process and render every page into `out`; returns {page: problems} (empty lists when all is well).
    `mathjax_url`: None for nbconvert's default (a CDN), "local" for a copy of `local_mathjax()` in `out/_mathjax`
    (maths typesets offline), or any other URL of a MathJax 2 `MathJax.js?config=...`."""
    return render_pages(process_notebooks(), out, mathjax_url)

_img_src = re.compile(r"<img[^>]*?\ssrc=\"([^\"]+)\"")

def copy_images(html:str, src_dir:Path, dst_dir:Path) -> list[str]:
    "Copy the image files a page links by relative path next to it (as Quarto does with resources); a missing one is a problem."
    probs = []
    for link in set(_img_src.findall(html)):
        if re.match(r"[a-z]+:|/|#", link): continue                        # data:, http(s):, absolute
        f = (src_dir/link).resolve()
        if not f.is_file(): probs.append(f"image {link} not found (looked for {f})"); continue
        (dst_dir/link).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst_dir/link)
    return probs

def page_name(rel:Path) -> Path:
    "The page a notebook becomes, as on nbdev's site: its number prefix dropped (`11_ta_sft.ipynb` -> `ta_sft.html`)."
    rel = Path(rel)
    return rel.with_name(re.sub(r"^\d+_", "", rel.stem) + ".html")

SIDEBAR_CSS = ("<style>#smoke-sidebar{position:fixed;top:0;left:0;bottom:0;width:200px;overflow:auto;padding:12px 10px;"
               "font:13px/1.5 sans-serif;border-right:1px solid #ddd;background:#fafafa;z-index:10}"
               "#smoke-sidebar a{display:block;color:#0550ae;text-decoration:none}#smoke-sidebar a.current{font-weight:bold;color:#000}"
               "#smoke-sidebar strong{display:block;margin-top:8px;color:#555}body{margin-left:224px!important}</style>")

def sidebar(cache:Path, titles:dict) -> list:
    "`nbs/sidebar.yml` (nbdev writes it) as [(section or None, [notebook paths])], only notebooks that were processed."
    import yaml
    spec = yaml.safe_load((ROOT/"nbs"/"sidebar.yml").read_text())["website"]["sidebar"]["contents"]
    groups = []
    for item in spec:
        if isinstance(item, str): groups.append((None, [item]))
        else: groups.append((item.get("section"), [x for x in item.get("contents", []) if isinstance(x, str)]))
    return [(sec, [Path(x) for x in nbs if Path(x) in titles]) for sec, nbs in groups]

def sidebar_html(groups:list, titles:dict, here:Path) -> str:
    "The sidebar for page `here` (a notebook path): links relative to its page, the current one marked."
    def link(nb):
        href = Path(os.path.relpath(page_name(nb), page_name(here).parent)).as_posix()
        return f'<a href="{href}"{" class=current" if nb == here else ""}>{escape(titles[nb])}</a>'
    parts = [(f"<strong>{escape(sec)}</strong>" if sec else "") + "".join(link(nb) for nb in nbs) for sec, nbs in groups]
    return f'<nav id="smoke-sidebar" aria-label="pages">{"".join(parts)}</nav>'

def render_pages(cache:Path, out:Path, mathjax_url:str|None=None) -> dict[str, list[str]]:
    "Render every processed notebook under `cache` into `out` (see `render`), each with the site's sidebar."
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    exporter = HTMLExporter(template_name="lab", config=Config(TagRemovePreprocessor=dict(
        enabled=True, remove_input_tags={"remove_input"})))
    out.mkdir(parents=True, exist_ok=True)
    local = mathjax_url == "local"
    if local: shutil.copytree(local_mathjax(), out/"_mathjax", dirs_exist_ok=True)
    elif mathjax_url: exporter.mathjax_url = mathjax_url
    report, nbs = {}, {p.relative_to(cache): nbformat.read(p, as_version=4) for p in sorted(cache.rglob("*.ipynb"))}
    probs_of = {rel: page_problems(nb) for rel, nb in nbs.items()}       # before the title block changes the first cell
    for nb in nbs.values(): title_block(nb)
    titles = {rel: nb.metadata.get("title", page_name(rel).stem) for rel, nb in nbs.items()}
    groups = sidebar(cache, titles)
    for rel, nb in nbs.items():
        dst, probs = out/page_name(rel), probs_of[rel]
        for c in nb.cells:  # nbdev annotates cells for Quarto (e.g. `has_sd`); nbformat's schema rejects such keys
            for k in set(c) - _CELL_KEYS: del c[k]
            c.metadata.pop("execution", None)  # execution timings, also off-schema
            if c.cell_type == "code" and re.search(r"^#\|\s*echo:\s*false", c.source, re.M):
                c.metadata.setdefault("tags", []).append("remove_input")  # as Quarto does for `#| echo: false`
            if c.cell_type == "markdown": c.source = _link_attrs.sub(r"\1", c.source)
            for o in c.get("outputs", []):
                if "text/markdown" in o.get("data", {}): o.data["text/markdown"] = _link_attrs.sub(r"\1", o.data["text/markdown"])
        if local: exporter.mathjax_url = f"{Path(os.path.relpath(out/'_mathjax', dst.parent)).as_posix()}/{_LOCAL_MATHJAX}"
        try:
            html, _ = exporter.from_notebook_node(nb)
            if len(html) < 1000 or "<body" not in html: probs.append("rendered HTML is empty")
            if local:
                tag = f'<script src="{exporter.mathjax_url}">'
                if html.count(tag) != 1: probs.append("the page does not load the local MathJax")
                html = html.replace(tag, _LOCAL_MATHJAX_CONFIG + tag)
            body = re.search(r"<body[^>]*>", html)
            if body is None: probs.append("no <body> to put the sidebar in")
            else: html = html[:body.end()] + SIDEBAR_CSS + sidebar_html(groups, titles, rel) + html[body.end():]
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(html, encoding="utf-8")
            probs += copy_images(html, ROOT/"nbs"/rel.parent, dst.parent)
        except Exception as e: probs.append(f"nbconvert failed: {type(e).__name__}: {e}")
        report[str(rel)] = probs
    return report

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT/"_docs_smoke"), help="where to write the HTML pages")
    ap.add_argument("--mathjax", default="cdn", help="where pages load MathJax from: cdn (nbconvert's default; the "
                    "reader must be online), local (a copy in OUT/_mathjax: maths renders offline), or a URL")
    args = ap.parse_args()
    rep = render(Path(args.out), mathjax_url=None if args.mathjax == "cdn" else args.mathjax)
    for page, probs in rep.items(): print(("ok    " if not probs else "BROKEN") + f" {page}" + "".join(f"\n       {q}" for q in probs))
    sys.exit(1 if any(rep.values()) or not rep else 0)
