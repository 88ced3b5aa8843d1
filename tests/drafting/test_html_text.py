"""html_to_text: what real mail HTML looks like once it reaches a prompt."""
from __future__ import annotations

import pytest

from backend.drafting.html_text import html_to_text

OUTLOOK_WORD_HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office">
<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>Draft title</title>
<style><!-- p.MsoNormal {margin:0cm; font-family:"Calibri"} --></style>
<!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->
</head>
<body lang="EN-GB"><div class="WordSection1">
<p class="MsoNormal">Hi Bob,<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">Please find the agenda below.<o:p></o:p></p>
<p class="MsoListParagraph" style="text-indent:-18.0pt;mso-list:l0 level1 lfo1">
<![if !supportLists]><span style="font-family:Symbol"><span style="mso-list:Ignore">·
<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp;&nbsp;&nbsp;&nbsp; </span></span></span>
<![endif]>Budget<o:p></o:p></p>
<p class="MsoListParagraph" style="text-indent:-18.0pt;mso-list:l0 level1 lfo1">
<![if !supportLists]><span style="font-family:Symbol"><span style="mso-list:Ignore">·
<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp;&nbsp;&nbsp;&nbsp; </span></span></span>
<![endif]>Timeline<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">Kind regards,<o:p></o:p></p>
<p class="MsoNormal">Jane<o:p></o:p></p>
</div></body></html>"""


def test_outlook_word_html_becomes_tight_lines_with_its_own_blank_lines() -> None:
    assert html_to_text(OUTLOOK_WORD_HTML) == (
        "Hi Bob,\n\nPlease find the agenda below.\n- Budget\n- Timeline\n\nKind regards,\nJane"
    )


def test_outlook_conditional_comments_styles_and_title_are_dropped() -> None:
    text = html_to_text(OUTLOOK_WORD_HTML)

    assert "shapedefaults" not in text
    assert "MsoNormal" not in text
    assert "Calibri" not in text
    assert "Draft title" not in text


def test_outlook_reply_header_keeps_one_label_per_line() -> None:
    html = ('<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal">'
            '<b>From:</b> Jane &lt;jane@x.com&gt;<br><b>Sent:</b> Monday, January 6, 2025<br>'
            '<b>To:</b> Bob &lt;bob@y.com&gt;<br><b>Subject:</b> Hi<o:p></o:p></p></div>')

    assert html_to_text(html) == (
        "From: Jane <jane@x.com>\nSent: Monday, January 6, 2025\nTo: Bob <bob@y.com>\nSubject: Hi"
    )


def test_gmail_divs_and_empty_br_divs_become_lines_and_blank_lines() -> None:
    html = ('<div dir="ltr">Hi Bob,<div><br></div><div>Can we meet <b>Tuesday</b>?</div>'
            '<div><br></div><div>Thanks,</div><div>Jane</div></div>')

    assert html_to_text(html) == "Hi Bob,\n\nCan we meet Tuesday?\n\nThanks,\nJane"


def test_br_breaks_lines_and_paragraphs_get_one_blank_line() -> None:
    html = "<p>First line<br>second line</p><p>Next paragraph</p>"

    assert html_to_text(html) == "First line\nsecond line\n\nNext paragraph"


def test_never_more_than_one_blank_line_in_a_row() -> None:
    html = "<p>a</p><p>&nbsp;</p><p></p><br><br><br><div><br></div><p>b</p>"

    assert html_to_text(html) == "a\n\nb"


def test_whitespace_is_collapsed_inside_lines() -> None:
    html = "<p>  lots \n of\t\tspace   here  </p>"

    assert html_to_text(html) == "lots of space here"


def test_entities_are_decoded_and_nbsp_becomes_a_plain_space() -> None:
    text = html_to_text(
        "<p>Fish&nbsp;&amp;&nbsp;chips &lt;3 caf&eacute; &#8364;5 &quot;ok&quot;</p>"
    )

    assert text == 'Fish & chips <3 café €5 "ok"'
    assert "\xa0" not in text


def test_lone_surrogates_do_not_cut_the_text_short() -> None:
    assert html_to_text("<p>before\ud800after</p><p>more</p>") == "before\ufffdafter\n\nmore"


def test_zero_width_padding_is_removed() -> None:
    assert html_to_text("<p>Hel\u200blo&zwnj;&#8203; world\ufeff</p>") == "Hello world"


def test_unordered_list_items_get_dashes_and_nested_ones_are_indented() -> None:
    html = "<ul><li>one</li><li>two<ul><li>two point one</li></ul></li><li>three</li></ul>"

    assert html_to_text(html) == "- one\n- two\n  - two point one\n- three"


def test_ordered_list_items_are_numbered_from_their_start() -> None:
    html = '<ol start="3"><li>third</li><li><p>fourth</p></li></ol>'

    assert html_to_text(html) == "3. third\n4. fourth"


def test_table_rows_become_lines_with_cells_joined_by_a_bar() -> None:
    html = ("<table><tr><th>Item</th><th>Qty</th><th>Price</th></tr>"
            "<tr><td>Apples</td><td>3</td><td>&euro;2</td></tr>"
            "<tr><td>Pears</td><td></td><td>&euro;1</td></tr></table><p>Total follows.</p>")

    assert html_to_text(html) == (
        "Item | Qty | Price\nApples | 3 | €2\nPears | €1\n\nTotal follows."
    )


def test_layout_tables_with_multi_line_cells_stay_plain_lines() -> None:
    html = ('<table width="600"><tr><td><p>Dear customer,</p><p>Your order shipped.</p></td>'
            '<td>&nbsp;</td></tr></table>')

    assert html_to_text(html) == "Dear customer,\n\nYour order shipped."


def test_link_text_is_followed_by_its_url() -> None:
    html = '<p>See <a href="https://acme.example/pricing">our pricing</a>.</p>'

    assert html_to_text(html) == "See our pricing (https://acme.example/pricing)."


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://acme.example/">https://acme.example/</a>',
        '<a href="https://www.acme.example">acme.example</a>',
        '<a href="mailto:jane@acme.example">jane@acme.example</a>',
        '<a href="tel:+442079460000">+442079460000</a>',
    ],
)
def test_link_whose_text_is_its_url_is_not_repeated(html: str) -> None:
    assert "(" not in html_to_text(html)


@pytest.mark.parametrize(
    "html",
    [
        '<a href="#section">Jump</a>',
        '<a href="javascript:alert(1)">Jump</a>',
        '<a href="https://track.example/x"><img src="logo.png" alt="Logo"></a>Jump',
    ],
)
def test_anchor_script_and_image_only_links_add_no_url(html: str) -> None:
    assert html_to_text(html) == "Jump"


def test_outlook_safe_links_are_unwrapped_to_the_real_url() -> None:
    html = ('<a href="https://eur01.safelinks.protection.outlook.com/'
            '?url=https%3A%2F%2Facme.example%2Fdocs&amp;data=05%7C01&amp;reserved=0">the docs</a>')

    assert html_to_text(html) == "the docs (https://acme.example/docs)"


def test_blockquote_lines_are_prefixed_so_quotes_stay_detectable() -> None:
    html = ('<div>Sure.</div><div class="gmail_quote">On Mon, Jan 6, 2025 at 10:00 AM Jane '
            '&lt;j@x.com&gt; wrote:<br><blockquote class="gmail_quote">'
            '<div>Hello<br><br>there</div>'
            '<blockquote><div>older</div></blockquote></blockquote></div>')

    assert html_to_text(html) == (
        "Sure.\nOn Mon, Jan 6, 2025 at 10:00 AM Jane <j@x.com> wrote:\n"
        "> Hello\n>\n> there\n> > older"
    )


def test_preformatted_text_keeps_its_line_breaks() -> None:
    html = "<pre>line 1\nline 2\n\n\n\nline 6</pre><p>after</p>"

    assert html_to_text(html) == "line 1\nline 2\n\nline 6\n\nafter"


def test_white_space_pre_div_keeps_its_line_breaks() -> None:
    html = '<div style="white-space: pre-wrap">a\nb</div><div>c d</div>'

    assert html_to_text(html) == "a\nb\nc d"


@pytest.mark.parametrize(
    "hidden",
    [
        '<span style="display:none">INJECTED</span>',
        '<div style="DISPLAY: NONE !important">INJECTED</div>',
        '<p style="visibility:hidden">INJECTED</p>',
        '<span style="mso-hide:all">INJECTED</span>',
        '<span style="font-size:0px">INJECTED</span>',
        '<span style="opacity:0">INJECTED</span>',
        '<div style="max-height:0;overflow:hidden">INJECTED</div>',
        "<div hidden>INJECTED</div>",
        "<script>INJECTED</script>",
        "<noscript>INJECTED</noscript>",
        "<title>INJECTED</title>",
        "<head><title>INJECTED</title></head>",
        "<template><p>INJECTED</p></template>",
        "<!-- INJECTED -->",
    ],
)
def test_hidden_content_never_reaches_the_text(hidden: str) -> None:
    text = html_to_text(f"<p>Visible before</p>{hidden}<p>Visible after</p>")

    assert "INJECTED" not in text
    assert text == "Visible before\n\nVisible after"


def test_text_after_a_hidden_element_on_the_same_line_is_kept() -> None:
    assert html_to_text('<p>Keep <span style="display:none">drop</span>this</p>') == "Keep this"


def test_small_but_visible_text_is_kept() -> None:
    html = '<span style="font-size:10px;opacity:0.8">Small print</span>'

    assert html_to_text(html) == "Small print"


@pytest.mark.parametrize(
    "html",
    ["", "   \n ", "<!-- only a comment -->", "<html></html>", "<p></p>", "<br><br>",
     '<?xml version="1.0" encoding="utf-8"?>'],
)
def test_empty_documents_give_empty_text(html: str) -> None:
    assert html_to_text(html) == ""


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<b>unclosed <i>tags <p>para", "unclosed tags\n\npara"),
        ("plain text, no tags at all", "plain text, no tags at all"),
        ('<?xml version="1.0" encoding="utf-8"?><p>declared</p>', "declared"),
        ("</p></div>stray closers<td>cell", "stray closers\ncell"),
        ("nul\x00byte", "nulbyte"),
        ("<<<>>> & <p", "<<<>>> &"),
        ("<tr><td>a</td><td>b</td></tr>", "a | b"),
    ],
)
def test_broken_html_does_not_crash_and_keeps_the_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_deeply_nested_long_threads_keep_all_their_text() -> None:
    html = "<div>" * 1500 + "deep" + "</div>" * 1500 + "<blockquote>" * 300 + "q"

    text = html_to_text(html)

    assert text.startswith("deep\n")
    assert text.endswith("> > q")


def test_nesting_beyond_the_parser_limit_drops_the_rest_without_error() -> None:
    html = "<p>before</p>" + "<div>" * 5000 + "too deep" + '<span style="display:none">x</span>'

    assert html_to_text(html) == "before"
