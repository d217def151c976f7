"""Print a built wheel's own requirements (Requires-Dist without extras), one per line.

The lowest-versions leg passes them to ``uv pip install --resolution lowest-direct`` as direct
requirements, so each resolves to the lowest version our metadata allows.
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import Parser


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    for requirement in metadata.get_all("Requires-Dist") or []:
        if "extra ==" not in requirement:
            print(requirement)


if __name__ == "__main__":
    main(sys.argv[1])
