"""Links in README.md and docs/, and the code's references to docs pages, point at files and headings that exist.

Markdown: every relative link `[text](path)`, `[text](path#anchor)`, `[text](#anchor)` and reference definition
`[ref]: path` outside code must name an existing file; an anchor into a Markdown file must be the GitHub slug of
one of its headings. Code (`*.py`, `*.yaml`, `*.yml`, `*.json`, outside tests/data and node_modules): every
`docs/<page>.md` or `docs/<page>.md#anchor` it cites is checked the same way, relative to the repository root.
Every hand-written page under docs/ is linked from docs/README.md and from README.md.

Stdlib and pytest only, so it runs before anything else is installed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Written by the generators in scripts/ (another change); a link to one of these may point at a file that does
# not exist yet. Once the file exists it is checked like any other, anchors included.
GENERATED = frozenset(
    {
        "docs/reference/configuration.md",
        "docs/reference/policies.md",
        "docs/reference/stack.schema.json",
    }
)

SOURCE_SUFFIXES = (".py", ".yaml", ".yml", ".json")
SKIPPED_DIRS = ("tests/data/", "node_modules/", ".git/")

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
SOURCE_REFERENCE = re.compile(r"(?<![\w./-])(docs/[\w./-]*?[\w-]\.md)(#[\w-]+)?")


def repo_files() -> list[str]:
    """Tracked files, plus new ones git does not ignore; every file under the repository if git is unavailable."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        files = sorted({line for line in out.splitlines() if line and (REPO / line).is_file()})
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    return sorted(
        p.relative_to(REPO).as_posix()
        for p in REPO.rglob("*")
        if p.is_file() and not any(part in {".git", "node_modules", ".venv"} or part.startswith(".venv") for part in p.parts)
    )


def markdown_files() -> list[str]:
    return [f for f in repo_files() if f == "README.md" or (f.startswith("docs/") and f.endswith(".md"))]


def source_files() -> list[str]:
    return [f for f in repo_files() if f.endswith(SOURCE_SUFFIXES) and not any(f.startswith(d) or f"/{d}" in f"/{f}" for d in SKIPPED_DIRS)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: lowercase, stripped, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps letters and digits in any script, and underscores
    return text.replace(" ", "-")


def heading_text(raw: str) -> str:
    """What a heading renders as: link and image text kept, code spans unwrapped, HTML tags dropped."""
    text = CODE_SPAN.sub(lambda m: m.group(2), raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"<[^>]+>", "", text)


def prose_lines(text: str):
    """(line number, line) for every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            yield number, line
        elif (
            match
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
            and not line.strip()[len(match.group(1)) :].strip()
        ):
            fence = None


def anchors(text: str) -> set[str]:
    """The slugs of every ATX heading outside code; a repeated slug gets -1, -2, … as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for _, line in prose_lines(text):
        match = ATX_HEADING.match(line)
        if not match:
            continue
        base = slug(heading_text(match.group(2) or ""))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(text: str):
    """(line number, link text, target) for every link outside code blocks and code spans."""
    for number, line in prose_lines(text):
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            yield number, definition.group(1), definition.group(2).strip("<>")
            continue
        visible = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        for match in INLINE_LINK.finditer(visible):
            yield number, match.group(1), match.group(2).strip("<>")


def _anchor_cache():
    cache: dict[Path, set[str]] = {}

    def of(path: Path) -> set[str]:
        if path not in cache:
            cache[path] = anchors(path.read_text(encoding="utf-8"))
        return cache[path]

    return of


def check_target(target_path: Path, anchor: str | None, anchors_of) -> str | None:
    """Why the target is broken, or None."""
    try:
        relative = target_path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        relative = None
    if not target_path.exists():
        if relative in GENERATED:
            return None
        return f"{relative or target_path} does not exist"
    if anchor:
        if target_path.is_dir() or target_path.suffix.lower() != ".md":
            return None
        if anchor not in anchors_of(target_path.resolve()):
            return f"{relative or target_path} has no heading with the anchor #{anchor}"
    return None


def broken_links(markdown: Path, anchors_of=None) -> list[str]:
    """One message per broken link of a Markdown file: file, line, link and what is wrong."""
    anchors_of = anchors_of or _anchor_cache()
    shown = markdown.relative_to(REPO).as_posix() if markdown.is_relative_to(REPO) else str(markdown)
    problems = []
    for number, text, target in links(markdown.read_text(encoding="utf-8")):
        if SCHEME.match(target):  # http:, https:, mailto:, …
            continue
        path_part, _, anchor = target.partition("#")
        target_path = markdown if not path_part else (markdown.parent / path_part)
        problem = check_target(target_path, anchor or None, anchors_of)
        if problem:
            problems.append(f"{shown}:{number}: [{text}]({target}): {problem}")
    return problems


def broken_source_references(source: Path, anchors_of=None) -> list[str]:
    anchors_of = anchors_of or _anchor_cache()
    shown = source.relative_to(REPO).as_posix()
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in SOURCE_REFERENCE.finditer(line):
            page, anchor = match.group(1), (match.group(2) or "")[1:]
            problem = check_target(REPO / page, anchor or None, anchors_of)
            if problem:
                problems.append(f"{shown}:{number}: {match.group(0)}: {problem}")
    return problems


# --- the repository --------------------------------------------------------------------------------------------


def test_the_readme_and_docs_are_found():
    files = markdown_files()
    assert "README.md" in files and "docs/README.md" in files, files


@pytest.mark.parametrize("markdown", markdown_files())
def test_every_link_of_a_markdown_file_resolves(markdown):
    problems = broken_links(REPO / markdown)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_every_docs_reference_in_the_code_resolves():
    anchors_of = _anchor_cache()
    problems = [p for source in source_files() for p in broken_source_references(REPO / source, anchors_of)]
    assert not problems, "broken docs references:\n" + "\n".join(problems)


def _linked_pages(markdown: str) -> set[str]:
    path = REPO / markdown
    found = set()
    for _, _, target in links(path.read_text(encoding="utf-8")):
        path_part = target.partition("#")[0]
        if path_part and not SCHEME.match(target):
            resolved = (path.parent / path_part).resolve()
            if resolved.is_relative_to(REPO):
                found.add(resolved.relative_to(REPO).as_posix())
    return found


def test_every_docs_page_is_linked_from_the_index_and_the_readme():
    pages = [f for f in markdown_files() if f.startswith("docs/") and not f.startswith("docs/reference/")]
    from_index, from_readme = _linked_pages("docs/README.md"), _linked_pages("README.md")
    missing = [f"{page}: not linked from docs/README.md" for page in pages if page != "docs/README.md" and page not in from_index]
    missing += [f"{page}: not linked from README.md" for page in pages if page not in from_readme]
    assert not missing, "\n".join(missing)


# --- the checker itself ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Workspace as code", "workspace-as-code"),
        ("What the guard, drift and baseline accept", "what-the-guard-drift-and-baseline-accept"),
        ("The guard: `python -m tools.guard preview.json`", "the-guard-python--m-toolsguard-previewjson"),
        ("`bootstrap/`: run once per subscription, by an administrator", "bootstrap-run-once-per-subscription-by-an-administrator"),
        ("Guardrails: the policy pack", "guardrails-the-policy-pack"),
        ("  Spaces  around  ", "spaces--around"),
        ("snake_case and CAPS", "snake_case-and-caps"),
        ("Bounded-memory readers", "bounded-memory-readers"),
    ],
)
def test_slugs_follow_github(heading, expected):
    assert slug(heading_text(heading)) == expected


def test_repeated_headings_get_numbered_anchors_and_code_blocks_hold_no_headings():
    text = "# Title\n## Notes\n## Notes\n```bash\n# not a heading\n```\n## Notes\n"
    assert anchors(text) == {"title", "notes", "notes-1", "notes-2"}


def test_a_broken_link_is_reported_with_its_file_and_target(tmp_path):
    (tmp_path / "other.md").write_text("# Real heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n"
        "[fine](other.md#real-heading) [fine too](#page) [web](https://example.com/x.md) [mail](mailto:a@b.c)\n"
        "[gone](missing.md) [bad anchor](other.md#no-such-heading) [bad local](#nowhere)\n"
        "`[in code](missing-too.md)`\n"
        "```\n[in a block](missing-three.md)\n```\n"
    )
    problems = broken_links(page)
    assert len(problems) == 3, problems
    assert all(str(page) in p for p in problems)
    assert "[gone](missing.md)" in problems[0] and "does not exist" in problems[0]
    assert "#no-such-heading" in problems[1] and "#nowhere" in problems[2]


def test_code_references_are_found_with_their_anchor():
    docs = "docs"  # split, so this file cites no page itself
    line = f'raise ValueError("see {docs}/configuration.md#rules-for-every-key and {docs}/batch.md")'
    found = [(m.group(1), m.group(2)) for m in SOURCE_REFERENCE.finditer(line)]
    assert found == [("docs/configuration.md", "#rules-for-every-key"), ("docs/batch.md", None)]
