from pathlib import Path

from lmforge.rag.documents import discover, load_documents, load_html, load_markdown


def mini_pdf(text: str) -> bytes:
    """A one-page PDF with `text`, xref offsets computed so strict readers accept it."""
    stream = f"BT /F1 18 Tf 20 80 Td ({text}) Tj ET".encode()
    objs = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>stream\n" % len(stream) + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj" % n + body + b"endobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def test_markdown_keeps_heading_path_and_ignores_code_fences():
    secs = load_markdown("# A\nintro\n## B\nbody\n```\n# not a heading\n```\n# C\nend")
    assert [(s.headings, s.text.splitlines()[0]) for s in secs] == [
        (("A",), "intro"),
        (("A", "B"), "body"),
        (("C",), "end"),
    ]


def test_html_headings_and_scripts_dropped():
    secs = load_html("<h1>T</h1><p>one</p><script>bad()</script><h2>S</h2><ul><li>two</li></ul>")
    assert [(s.headings, s.text) for s in secs] == [(("T",), "one"), (("T", "S"), "two")]


def test_load_folder_reports_unreadable_files_and_reads_the_rest(corpus: Path):
    (corpus / "owls.pdf").write_bytes(mini_pdf("Owls hunt at night."))
    (corpus / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "bad.jsonl").write_text('{"body": "no text field"}\n')
    result = load_documents(discover([corpus]))
    names = {Path(d.path).name for d in result.documents}
    assert names == {"cats.md", "dogs.html", "paris.jsonl", "notes.txt", "owls.pdf"}
    failed = {Path(p).name: reason for p, reason in result.failures}
    assert set(failed) == {"broken.txt", "bad.pdf", "bad.jsonl"}
    assert "UTF-8" in failed["broken.txt"] and "'text'" in failed["bad.jsonl"]
    pdf = next(d for d in result.documents if d.path.endswith("owls.pdf"))
    assert pdf.sections[0].headings == ("page 1",) and "Owls hunt" in pdf.sections[0].text
