"The docs smoke build (the stand-in for Quarto) and the README generated from nbs/index.ipynb."
import html, re
import pytest
from pathlib import Path
import nbformat
import docs_smoke, make_readme

def test_every_page_renders(docs_site):
    report, out = docs_site.report, docs_site.out
    assert report, "no pages were processed"
    broken = {p: q for p, q in report.items() if q}
    assert not broken, broken
    for page in report: assert (out / docs_smoke.page_name(page)).stat().st_size > 1000
    assert {"index.ipynb", "00_core.ipynb"} <= set(report)
    assert (out / "_mathjax" / "MathJax.js").is_file(), "the local MathJax was not copied beside the pages"

def test_broken_pages_are_caught():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("no title here"),
        nbformat.v4.new_code_cell("#| export\n1/0", outputs=[nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])])])
    probs = " ".join(docs_smoke.page_problems(nb))
    assert "no title" in probs and "ZeroDivisionError" in probs and "directive was not processed" in probs

def test_readme_in_sync_with_index():
    assert (make_readme.ROOT / "README.md").read_text(encoding="utf-8") == make_readme.readme_text(), \
        "README.md is out of date: run `python tools/make_readme.py`"

def test_readme_results_are_the_demos():
    "The README's results table and figure are the ones `safetune demo --out nbs/demo` wrote, and that table is its CSV."
    from test_organism import check_summary_md
    demo, readme = make_readme.ROOT / "nbs" / "demo", (make_readme.ROOT / "README.md").read_text(encoding="utf-8")
    assert (demo / "summary.md").read_text(encoding="utf-8").strip() in readme
    assert "![harmful rate against utility](nbs/demo/harm_vs_utility.png)" in readme
    import pandas as pd
    assert check_summary_md(demo) == len(pd.read_csv(demo / "summary.csv")) * 5   # five rated columns for every arm

def test_readme_real_model_results_are_its_demo():
    "The README's SmolLM2 table and figure are the ones `safetune demo --model smollm2-135m-instruct --out nbs/demo_smollm2` wrote."
    from test_organism import check_summary_md
    demo, readme = make_readme.ROOT / "nbs" / "demo_smollm2", (make_readme.ROOT / "README.md").read_text(encoding="utf-8")
    assert (demo / "summary.md").read_text(encoding="utf-8").strip() in readme
    assert "![harmful rate against utility](nbs/demo_smollm2/harm_vs_utility.png)" in readme
    assert readme.index("nbs/demo_smollm2/harm_vs_utility.png") < readme.index("nbs/demo/harm_vs_utility.png")   # the real model first
    import pandas as pd
    assert check_summary_md(demo) == len(pd.read_csv(demo / "summary.csv")) * 4   # direct, prefill 5, over-refusal, utility

@pytest.mark.parametrize("runs, made_by", [
    (["demo_smollm2", "demo_smollm2_seed1", "demo_smollm2_seed2"], "`safetune demo --model smollm2-135m-instruct"),
    (["demo", "demo_seed1", "demo_seed2"], "on the model organism")], ids=["smollm2", "organism"])
def test_readme_seed_tables_are_its_demos(runs, made_by):
    "Each three-seed README table is `seeds_markdown` of the demo runs of seeds 0, 1 and 2 that `nbs/` holds, above seed 0's figure."
    from safetune.compare import seeds_markdown, seeds_summary
    nbs, readme = make_readme.ROOT / "nbs", (make_readme.ROOT / "README.md").read_text(encoding="utf-8")
    runs = [nbs / r for r in runs]
    for seed, run in enumerate(runs):
        about = (run / "summary.md").read_text(encoding="utf-8")
        assert f"seed {seed}." in about and made_by in about, run
    table = seeds_markdown(seeds_summary(runs))
    assert table in readme and readme.index(table) < readme.index(f"nbs/{runs[0].name}/harm_vs_utility.png")   # the headline first

def test_readme_prompt_defences_are_the_smollm2_page():
    "Each row of the README's SmolLM2 prompt-defence table repeats the figures the SmolLM2 page's cell printed from its runs."
    import json
    readme = (make_readme.ROOT / "README.md").read_text(encoding="utf-8")
    nb = json.loads((make_readme.ROOT / "nbs/experiments/smollm2.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "DEFENCES = {" in "".join(c["source"]))
    printed = "".join(t for o in cell["outputs"] for t in o.get("data", {}).get("text/plain", []))
    names = {"none": "none", "manual safe system prompt (Llama-2's)": "manual safe system prompt",
             "Self-Reminder (Xie et al. 2023)": "Self-Reminder", "ICD, one-shot (Wei et al. 2023)": "ICD (one-shot)"}
    for readme_name, page_name in names.items():
        row = re.search(rf"^\| {re.escape(readme_name)} \|(.*)\|$", readme, re.M)
        line = next(l for l in printed.splitlines() if l.startswith(page_name + "  "))
        assert row, readme_name
        page = re.findall(r"(\d\.\d{3}) \(", line)                 # each rate before its interval, in the page's column order
        assert [v.strip() for v in row.group(1).split("|")] == page[:5], (readme_name, line)

_href = re.compile(r'<a\s[^>]*?href="([^"#]*)[^"]*"')

def test_internal_links_resolve(docs_site):
    "Every relative link on every page (the prose's cross-page links and the sidebar) opens a page or file of the render."
    out, broken, n = docs_site.out, [], 0
    pages = [docs_site.out / docs_smoke.page_name(p) for p in docs_site.report]
    for page in pages:
        for target in _href.findall(page.read_text(encoding="utf-8")):
            if not target or re.match(r"[a-z][a-z0-9+.-]*:", target): continue   # a same-page anchor, http(s):, mailto: ...
            n += 1
            if not (page.parent / html.unescape(target)).resolve().is_file(): broken.append(f"{page.relative_to(out)} -> {target}")
    assert not broken, f"{len(broken)} broken links of {n}: {broken[:20]}"
    assert n >= 20 * len(pages), f"only {n} internal links on {len(pages)} pages: is the sidebar there?"
    assert (out / "ta_sft.html").is_file() and not (out / "11_ta_sft.html").exists()   # nbdev's page names
