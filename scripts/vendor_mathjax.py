"""Vendor MathJax into `_vendor/mathjax/` (run by hand when upgrading it).

    .venv/bin/python scripts/vendor_mathjax.py

Why: Sphinx's default loads MathJax from cdn.jsdelivr.net (`mathjax@3`, a
moving target) on every page with math. The book serves its own pinned copy
instead, so pages work without third-party requests (and the browser tests,
which run offline, see every request succeed).

What: the `tex-mml-chtml` component (what Sphinx loads by default), the CHTML
web fonts and the TeX extensions that MathJax autoloads on demand. Menu-only
accessibility features (the expression explorer and its speech rules) are not
vendored; `_config.yml` points MathJax at the same pinned version on jsDelivr
for those, so they still work for readers who switch them on.

The package comes from the npm registry (`npm pack`) and is checked against
the pinned integrity hash before anything is written. The copied files are
listed in `_vendor/mathjax/FILES`.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "3.2.2"
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
KEEP = (  # the files and folders copied (name prefixes: the pinned package has no other match)
    "LICENSE",
    "es5/tex-mml-chtml.js",
    "es5/output/chtml/fonts/woff-v2/",
    "es5/input/tex/extensions/",
)
DEST = Path(__file__).resolve().parent.parent / "_vendor" / "mathjax"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"mathjax@{VERSION}", "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL
        )
        tarball = Path(tmp) / f"mathjax-{VERSION}.tgz"
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != INTEGRITY:
            print(f"integrity mismatch for mathjax {VERSION}: {digest}", file=sys.stderr)
            return 1
        shutil.rmtree(DEST, ignore_errors=True)
        copied = []
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("package/")
                if not member.isfile() or not name.startswith(KEEP):
                    continue
                target = DEST / name.removeprefix("es5/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
                copied.append(target.relative_to(DEST).as_posix())
    (DEST / "FILES").write_text(
        f"MathJax {VERSION} from the npm registry ({INTEGRITY}),\n"
        "vendored by scripts/vendor_mathjax.py (Apache-2.0, see LICENSE). Files:\n"
        + "".join(f"{c}\n" for c in sorted(copied))
    )
    total = sum((DEST / c).stat().st_size for c in copied)
    print(f"MathJax {VERSION}: {len(copied)} files, {total:,} bytes in {DEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
