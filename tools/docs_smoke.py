"""Docs smoke build: process every notebook the way `nbdev-docs` does, then render each page to HTML.

Quarto cannot be installed on every machine (it is a downloaded binary), so this check stands in for
`nbdev-docs` in CI: it runs nbdev's own notebook processors (`nbdev.serve.proc_nbs`, the step before Quarto),
renders the processed notebooks to standalone HTML pages with nbconvert, and fails on a broken page.

    python tools/docs_smoke.py [--out _docs_smoke]
"""
from __future__ import annotations
import argparse, base64, os, re, sys
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

def render(out:Path) -> dict[str, list[str]]:
    "Process and render every page into `out`; returns {page: problems} (empty lists when all is well)."
    import nbformat
    from nbconvert import HTMLExporter
    cache = process_notebooks()
    from traitlets.config import Config
    exporter = HTMLExporter(template_name="lab", config=Config(TagRemovePreprocessor=dict(
        enabled=True, remove_input_tags={"remove_input"})))
    out.mkdir(parents=True, exist_ok=True)
    report = {}
    for p in sorted(cache.rglob("*.ipynb")):
        rel = p.relative_to(cache)
        nb = nbformat.read(p, as_version=4)
        probs = page_problems(nb)
        for c in nb.cells:  # nbdev annotates cells for Quarto (e.g. `has_sd`); nbformat's schema rejects such keys
            for k in set(c) - _CELL_KEYS: del c[k]
            c.metadata.pop("execution", None)  # execution timings, also off-schema
            if c.cell_type == "code" and re.search(r"^#\|\s*echo:\s*false", c.source, re.M):
                c.metadata.setdefault("tags", []).append("remove_input")  # as Quarto does for `#| echo: false`
        try:
            html, _ = exporter.from_notebook_node(nb)
            if len(html) < 1000 or "<body" not in html: probs.append("rendered HTML is empty")
            dst = out/rel.with_suffix(".html")
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(html, encoding="utf-8")
        except Exception as e: probs.append(f"nbconvert failed: {type(e).__name__}: {e}")
        report[str(rel)] = probs
    return report

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT/"_docs_smoke"), help="where to write the HTML pages")
    rep = render(Path(ap.parse_args().out))
    for page, probs in rep.items(): print(("ok    " if not probs else "BROKEN") + f" {page}" + "".join(f"\n       {q}" for q in probs))
    sys.exit(1 if any(rep.values()) or not rep else 0)
