"""A reader for gettext .po files, enough for the catalogue checks (entries, flags, translations)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    """One message: its id (with plural and context), translations, flags; obsolete ones too."""

    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str, str]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def _unquote(text: str) -> str:
    return ast.literal_eval(text.strip()) if text.strip() else ""


def read_po(path: Path) -> tuple[dict[str, str], list[Entry]]:
    """The header's fields and every entry but the header."""
    entries: list[Entry] = []
    current: Entry | None = None
    last: tuple[str, int] | None = None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            if current is not None:
                entries.append(current)
            current, last = None, None
            continue
        if line.startswith("#,"):
            current = current or Entry()
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        current = current or Entry()
        current.obsolete = current.obsolete or obsolete
        keyword, _, rest = line.partition(" ")
        if line.startswith('"') and last is not None:
            name, index = last
            value = _unquote(line)
            if name == "msgstr":
                current.msgstr[index] += value
            else:
                setattr(current, name, (getattr(current, name) or "") + value)
        elif keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if "[" in keyword else 0
            current.msgstr[index] = _unquote(rest)
            last = ("msgstr", index)
        elif keyword in ("msgid", "msgid_plural", "msgctxt"):
            setattr(current, keyword, _unquote(rest))
            last = (keyword, 0)
    header_entry = next((e for e in entries if e.msgid == "" and e.msgctxt is None), None)
    header: dict[str, str] = {}
    if header_entry is not None:
        for line in header_entry.msgstr.get(0, "").splitlines():
            name, _, value = line.partition(":")
            header[name.strip()] = value.strip()
        header["#fuzzy"] = "yes" if "fuzzy" in header_entry.flags else ""
    return header, [e for e in entries if e is not header_entry]
