"""The project carries its own documentation: the policy it implements (P-ids and defaults)
and the FAQ file format; the examples in docs/faq-format.md load as written."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.services.owner_admin import parse_faq_upload
from bot.services.staff import OWNER_DEFAULTS
from phrases.faq_file import parse_faq

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_policy_doc_lists_every_requirement_with_the_owner_defaults() -> None:
    text = (DOCS / "policy.md").read_text(encoding="utf-8")
    assert all(f"| P{n} |" in text or f"**P{n}**" in text for n in range(1, 25))
    for name in ("complaint_steps", "complaint_period", "swap_limit", "swap_fine",
                 "late_grace_minutes"):
        assert name in text
    assert "30,60,dismiss" in text and OWNER_DEFAULTS["complaint_steps"] == "30,60,dismiss"


def test_faq_format_examples_load_as_documented() -> None:
    text = (DOCS / "faq-format.md").read_text(encoding="utf-8")
    blocks = re.findall(r"\n\n((?:    .*\n)+)", text)
    yaml_block = next(b for b in blocks if b.lstrip().startswith("faq:"))
    faq = parse_faq(yaml.safe_load("\n".join(line[4:] for line in yaml_block.splitlines())))
    assert faq.entries[0].id == "ship_time" and faq.entries[0].threshold == 0.6
    csv_block = next(b for b in blocks if b.lstrip().startswith("id,question"))
    csv = "\n".join(line[4:] for line in csv_block.splitlines()).encode()
    [entry] = parse_faq_upload("faq.csv", csv).entries
    assert entry.alt == ("can the teapot go in the dishwasher", "dishwasher teapot")


def test_readme_points_at_the_projects_own_docs() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    assert "docs/policy.md" in readme and "docs/faq-format.md" in readme
