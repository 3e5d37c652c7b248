"""Render the book's link-preview image, `_static/social-card.png` (1200 x 630).

Link previews (OpenGraph `og:image`, Twitter cards) show this committed PNG for
every page (`ogp_image` in _config.yml); a build neither draws nor downloads it.
Run this after changing the logo (images/logo.svg) or the book's title or
address, and commit the PNG:

    .venv/bin/python scripts/make_social_card.py

It is drawn by the system Chromium (the one the browser tests use), from the
logo, the title in `_config.yml` and the site's address.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))  # bookfacts, jaxbook_*

import bookfacts
import headless

ROOT = bookfacts.book.ROOT
OUT = ROOT / "_static" / "social-card.png"
WIDTH, HEIGHT = 1200, 630
TAGLINE = "An open book that teaches JAX by running it: every output, figure and timing was produced by executing the chapter."


def card_html() -> str:
    facts = bookfacts.book.config(ROOT)
    logo = (ROOT / "images" / "logo.svg").read_text()
    address = facts["site_url"].removeprefix("https://")
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
  html, body {{ margin: 0; width: {WIDTH}px; height: {HEIGHT}px; }}
  body {{ box-sizing: border-box; padding: 72px 80px; background: #f7f5ee; color: #1d2b28;
         font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif;
         display: flex; flex-direction: column; justify-content: space-between;
         border-top: 18px solid #0b5d4f; }}
  .top {{ display: flex; align-items: center; gap: 44px; }}
  .top svg {{ width: 190px; height: 190px; flex: none; }}
  h1 {{ font-size: 76px; line-height: 1.05; margin: 0; font-weight: 700; color: #0b5d4f; }}
  p {{ font-size: 33px; line-height: 1.35; margin: 0; max-width: 1000px; }}
  .url {{ font-size: 26px; color: #4a5a56; }}
</style></head><body>
  <div class="top">{logo}<h1>{html.escape(facts["title"])}</h1></div>
  <p>{html.escape(TAGLINE)}</p>
  <div class="url">{html.escape(address)}</div>
</body></html>"""


def main() -> int:
    problem = headless.missing_chromium_message()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = headless.launch(p)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
            page.set_content(card_html())
            OUT.write_bytes(page.screenshot(type="png"))
        finally:
            browser.close()
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
