"""BB codes of chat messages as safe HTML (connector.bbcode)."""

from __future__ import annotations

import pytest

from connector.bbcode import to_html
from robots.deal_workspace.config import CHAT_MESSAGE


@pytest.mark.parametrize(("bb", "html"), [
    ("[B]bold[/B] [I]it[/I] [U]u[/U] [S]s[/S]", "<b>bold</b> <i>it</i> <u>u</u> <s>s</s>"),
    ("a[BR]b[br]c", "a<br>b<br>c"),
    ("[URL=https://x.test/a?b=1&c=2]open[/URL]",
     '<a href="https://x.test/a?b=1&amp;c=2" rel="noopener">open</a>'),
    ("[URL]https://x.test[/URL]", '<a href="https://x.test" rel="noopener">https://x.test</a>'),
    ("[USER=5]Maria[/USER]", '<span class="mention" data-user="5">Maria</span>'),
    ("[CODE][B]x[/B] <i>[/CODE]", "<code>[B]x[/B] &lt;i&gt;</code>"),
    ("[QUOTE]said[/QUOTE]", "<blockquote>said</blockquote>"),
    ("[b][i]open", "<b><i>open</i></b>"),  # left open: closed at the end
    ("stray[/B] [X]unknown[/X]", "stray[/B] [X]unknown[/X]"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("[URL=javascript:alert(1)]x[/URL]", "x"),  # no unsafe address becomes a link
    ('[URL=https://x.test/"onmouseover=1]x[/URL]',  # the quote stays inside the address
     '<a href="https://x.test/&quot;onmouseover=1" rel="noopener">x</a>'),
    ("[B]a [I]b[/B] c", "<b>a <i>b</i></b> c"),  # a closer closes what it encloses
])
def test_bb_codes_become_safe_html(bb: str, html: str):
    assert str(to_html(bb)) == html


def test_the_default_first_message_renders_every_code():
    out = str(to_html(CHAT_MESSAGE.replace("{LINK}", "https://p.test/crm/deal/details/7/")))
    assert out.startswith("<b>{TITLE}</b><br>Amount: {MONEY}<br>")
    assert out.endswith('<a href="https://p.test/crm/deal/details/7/" rel="noopener">'
                        "Open the deal</a>")
