"""The fallback main text of an article page: its <article>, its <main>, else its largest block of text.

trafilatura (the main extractor) rejects some pages a reader would call articles, e.g. a brief whose only
text is the standfirst in the article's <header>. This plain reading is used only when it finds nothing or
too little; the result goes through the same boilerplate removal as every loader.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from corpus.cleaning import clean_article_text

# Page chrome wherever it is; <header> only outside the article (inside it, it holds the headline and lead).
_CHROME = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "nav",
        "aside", "footer", "form", "button", "select", "dialog", "figure", "figcaption", "menu",
    }
)  # fmt: skip
_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "body", "dd", "div", "dl", "dt", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul", "br",
    }
)  # fmt: skip
# Class or id words of page parts that are never the story (whole words, so "lead" or "header" survive).
_CHROME_NAME = re.compile(
    r"(?:^|[\s_-])(?:share|sharing|social|related|comments?|newsletter|subscribe|cookies?|consent|promo|"
    r"advert|ads?|breadcrumbs?|menu|sidebar|widget|popup|modal|banner|paywall)(?:$|[\s_-])",
    re.IGNORECASE,
)


def _is_chrome(el: etree._Element) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _CHROME:
        return True
    if tag == "header" and not any(a.tag in ("article", "main") for a in el.iterancestors()):
        return True
    if el.get("role") in ("navigation", "banner", "contentinfo", "complementary"):
        return True
    return bool(_CHROME_NAME.search(f"{el.get('class') or ''} {el.get('id') or ''}"))


def _strip_chrome(root: etree._Element) -> None:
    """Remove page chrome in place, keeping the text that follows each removed element."""
    for el in [e for e in root.iter() if not isinstance(e.tag, str) or _is_chrome(e)]:
        if el.getparent() is not None:
            el.drop_tree()


def block_text(el: etree._Element) -> str:
    """The text of an element, one line per block element, whitespace collapsed."""
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        block = node.tag in _BLOCKS
        if block:
            parts.append("\n")
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str):
                walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    walk(el)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _own_text_length(el: etree._Element) -> int:
    """Characters of text directly in a block, not in nested blocks and not in links."""
    size = len((el.text or "").strip())
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _BLOCKS and child.tag != "a":
            size += len(" ".join(child.itertext()).strip())
        size += len((child.tail or "").strip())
    return size


def _largest_block(root: etree._Element) -> etree._Element | None:
    """The block holding the most running text, counting a container's direct paragraphs as its own."""
    scores: dict[etree._Element, int] = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag not in _BLOCKS:
            continue
        own = _own_text_length(el)
        if not own:
            continue
        scores[el] = scores.get(el, 0) + own
        parent = el.getparent()
        if parent is not None and el.tag in ("p", "li", "blockquote", "pre"):
            scores[parent] = scores.get(parent, 0) + own
    return max(scores, key=scores.__getitem__) if scores else None


def _drop_headline(text: str, title: str | None) -> str:
    """The story's headline, when the page repeats it as the first line, is not body text."""
    first, _, rest = text.partition("\n")
    if title and rest and " ".join(first.split()).casefold() == " ".join(title.split()).casefold():
        return rest
    return text


def fallback_text(page_html: str, title: str | None = None) -> str:
    """The cleaned text of the page's <article> (the longest), else <main>, else its largest text block."""
    if not page_html.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(page_html)
    except (etree.ParserError, ValueError):
        return ""
    _strip_chrome(root)
    for path in ("//article", "//main | //*[@role='main']"):
        texts = [block_text(el) for el in root.xpath(path)]
        best = max(texts, key=len, default="")
        if best:
            return clean_article_text(_drop_headline(best, title))
    block = _largest_block(root)
    return clean_article_text(_drop_headline(block_text(block), title)) if block is not None else ""
