"""Refresh the Bitrix24 UI kit design tokens the app serves: `python -m devstack.vendor_assets`.

The official UI kit (npm `@bitrix24/b24ui-nuxt`, MIT) publishes its design tokens as CSS.
The app's pages use those variables so they look at home inside a portal, and serve the files
themselves (no CDN: a portal's iframe must not depend on a third host). The files are
committed under templates/static/vendor/b24ui/ with the package's licence and version; this
script takes them from the package again when the kit is upgraded.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@bitrix24/b24ui-nuxt@2.13.0"
TOKENS = "package/dist/runtime/air-design-tokens/"
FILES = {  # the global scale (spacing, type, radius) and the light context's colours
    f"{TOKENS}001_b24_global.css": "b24-global.css",
    f"{TOKENS}003_b24_context_light.css": "b24-light.css",
    "package/LICENSE": "LICENSE",
}
DEST = Path(__file__).resolve().parents[1] / "templates" / "static" / "vendor" / "b24ui"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        tgz = next(Path(tmp).glob("*.tgz"))
        DEST.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tar:
            for member, name in FILES.items():
                data = tar.extractfile(member)
                assert data is not None, member
                (DEST / name).write_bytes(data.read())
    (DEST / "VERSION").write_text(PACKAGE + "\n")
    print(f"design tokens of {PACKAGE} written to {DEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
