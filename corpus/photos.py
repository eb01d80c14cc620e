"""Photo furniture scraped into article text: a gallery's widget text and photo credits."""

from __future__ import annotations

import bisect
import re

_SPACES_RE = re.compile("  +")

# A photo gallery's widget text inside a paragraph (whole lines of it are boilerplate patterns in cleaning).
_CAPTION_COUNTER_RE = re.compile(r"\bHide Caption \d+ of (\d+)\b")
_MAX_CAPTION_WORDS = 120
_GALLERY_RE = re.compile(r"(?:(?<=\s)|^)(?:Photos: )+", re.MULTILINE)

# Whom a photo is credited to, the last part of a credit: "Robyn Beck/AFP/Getty Images", "Ali Khara/Reuters".
# Only these close a credit, so a slash in prose ("AC/DC", "a Reuters/Ipsos poll") is never read as one.
_PHOTO_SOURCES = (
    "AFP via Getty Images|Pool via Reuters|Pool via AP|Getty Images|USA TODAY Sports|USA TODAY|Anadolu Agency|"
    "Kyodo News|SOPA Images|ZUMA Press|Zuma Press|ZUMA Wire|Sipa USA|PA Images|PA Wire|EPA-EFE|Hulton Archive|"
    "AFP|AP|Reuters|REUTERS|EPA|Shutterstock|Bloomberg|Sipa|NurPhoto|Alamy|Xinhua|LightRocket|Pool|Redux|"
    "Polaris|Yonhap|TASS|Sputnik|Imagn|WireImage|FilmMagic|Corbis|Newscom|PA|Bettmann|Kobal|NASA|Handout"
)
# A photographer's name (up to four words: "Douglas E. Curran", "Frank Franklin II", "JONATHAN BRADY"), then
# up to three more parts ("/Hindustan Times/Sipa") before the source.
_NAME_WORD = r"(?:[A-Z]\.|[A-Z][\w'’-]*|de|van|von|da|del|la|le|du|dos|al|bin)"
_PART = r"[A-Z][\w'’.&-]*(?: [A-Z][\w'’.&-]*){0,3}"
_CREDIT = rf"{_NAME_WORD}(?: {_NAME_WORD}){{0,3}}(?:/{_PART}){{0,3}}/(?:{_PHOTO_SOURCES})(?![\w/])"
# A credit stands where a caption ends: at a line's start or after a sentence. Mid-sentence, nothing tells the
# caption's last words from the photographer's name, so such a credit stays.
_SLASH_CREDIT_RE = re.compile(rf"(?:^|(?<=[.!?”\"’)] )){_CREDIT}", re.MULTILINE)
# A gallery scraped without counters: "... Photos: The life of Queen Elizabeth II Chris Jackson/Getty Images
# Elizabeth listens to ...". Its title and the credit go together.
_GALLERY_TITLE_CREDIT_RE = re.compile(rf"(?:(?<=\s)|^)Photos: [^\n.!?]{{0,120}}?{_CREDIT}", re.MULTILINE)
_PAREN_CREDIT_RE = re.compile(
    r"\((?:(?:AP|AFP|Reuters|EPA|UPI) Photo/|Photo by |Photo: |(?:Photo )?[Cc]redit: )[^()\n]{1,80}\)"
)
_LINE_END_CREDIT_RE = re.compile(r"([.!?”\"]) (?:Photo )?Credit: [^\n]{1,100}$", re.MULTILINE)
# Where a credit may be: a line naming a source after a slash (a quick search that spares the rest).
_SOURCE_RE = re.compile(rf"/(?:{_PHOTO_SOURCES})(?![\w/])")
# A source alone, without a photographer, where a caption ends: at a line's end ("AP" as a line of its own), or
# an unmistakable one before the next caption ("... on June 22. Getty Images People help ..."). "AP" or "Pool"
# before a capital may open a sentence ("AP Top 25 poll"), and "Reuters" or "Bloomberg" before anything.
_LINE_END_SOURCES = ("AP", "AFP", "EPA", "Getty Images", "Pool", "Shutterstock", "Handout")
_BARE_SOURCE_RE = re.compile(r"(?:Getty Images|Shutterstock)(?= [A-Z‘“'\"])")
_CAPTION_END = '.!?”"’)'


def strip_gallery_chrome(text: str) -> str:
    """Drop a photo gallery's widget text run into the paragraphs, keeping its captions, one per line.

    A scraped gallery reads "Photos: <title> <caption>. Hide Caption 3 of 38 Photos: <title> <caption>. ...": the
    counters go, and each caption's "Photos: <title>", the title being what all captions of that gallery (those
    counted "of 38") open with.
    """
    if "Hide Caption" not in text:
        return text  # the common case, found far faster than by the pattern
    counters = list(_CAPTION_COUNTER_RE.finditer(text))
    if not counters:
        return text
    ends = [c.start() for c in counters]
    galleries: dict[str, list[tuple[int, int, list[str]]]] = {}
    for shown in _GALLERY_RE.finditer(text):
        following = bisect.bisect_left(ends, shown.end())
        if following < len(counters):
            caption = text[shown.end() : ends[following]].split(" ")
            if len(caption) > _MAX_CAPTION_WORDS:
                continue  # a "Photos:" in the article's own text, far from the gallery
            galleries.setdefault(counters[following].group(1), []).append(
                (shown.start(), shown.end(), caption)
            )
    cuts = [(c.start(), c.end()) for c in counters]
    for captions in galleries.values():
        words = [caption for _, _, caption in captions]
        first, last = min(words), max(words)
        shared = next((i for i, (x, y) in enumerate(zip(first, last, strict=False)) if x != y), len(first))
        # A title is two words or more: captions of an untitled gallery may well share a first "A" or "The".
        # A gallery of one photo has no title to tell apart from its caption. Either way "Photos:" alone goes.
        shared = min(shared, len(first) - 1)
        title = " ".join(first[:shared]) if len(captions) > 1 and shared > 1 else ""
        cuts.extend((start, end + (len(title) + 1 if title else 0)) for start, end, _ in captions)
    kept, at = [], 0
    for start, end in sorted(cuts):
        kept.append(text[at:start])
        at = max(at, end)
    kept.append(text[at:])
    # Each caption becomes a line of its own: one without a full stop must not run into the next.
    return _tidy_lines("\n".join(kept))


def strip_photo_credits(text: str) -> str:
    """Drop photo credits ("Robyn Beck/AFP/Getty Images", "(AP Photo/Rich Pedroncelli)"), each caption on a line.

    A credit closes its caption, so where one stood the next caption starts a line of its own and a caption
    without a full stop does not run into it.
    """
    cleaned = _PAREN_CREDIT_RE.sub("", text) if "Photo" in text or "redit: " in text else text
    if "Credit: " in cleaned:
        cleaned = _LINE_END_CREDIT_RE.sub(r"\1", cleaned)
    if _SOURCE_RE.search(cleaned):
        cleaned = "\n".join(
            _strip_slash_credits(line) if "/" in line else line for line in cleaned.split("\n")
        )
    cleaned = _strip_bare_sources(cleaned)
    return text if cleaned == text else _tidy_lines(cleaned)


def _tidy_lines(text: str) -> str:
    """Text whose lines are stripped and single-spaced, without the lines a cut left empty."""
    lines = (_SPACES_RE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _strip_slash_credits(line: str) -> str:
    """One line without its "Name/Source" credits, a line break where each stood."""
    if not _SOURCE_RE.search(line):
        return line
    if "Photos: " in line:
        line = _GALLERY_TITLE_CREDIT_RE.sub("\n", line)
    return _SLASH_CREDIT_RE.sub("\n", line)


def _strip_bare_sources(text: str) -> str:
    """Text without the sources credited alone where a caption ends, a line break where each stood."""
    lines = text.split("\n")
    at_line_end = any(line.endswith(_LINE_END_SOURCES) for line in lines)
    if not at_line_end and "Getty Images " not in text and "Shutterstock " not in text:
        return text
    return "\n".join(_line_without_bare_sources(line) for line in lines)


def _line_without_bare_sources(line: str) -> str:
    """One line without its lone sources that close a caption (see _LINE_END_SOURCES)."""
    if line.endswith(_LINE_END_SOURCES):
        start = next(len(line) - len(s) for s in _LINE_END_SOURCES if line.endswith(s))
        if _closes_caption(line, start):
            line = line[:start]
    if "Getty Images " not in line and "Shutterstock " not in line:
        return line
    kept, at = [], 0
    for m in _BARE_SOURCE_RE.finditer(line):
        if _closes_caption(line, m.start()):
            kept.append(line[at : m.start()])
            at = m.end()
    return "\n".join([*kept, line[at:]])


def _closes_caption(text: str, start: int) -> bool:
    """Whether a credit at start stands where a caption ends: a line's start, or a sentence's end before it."""
    return start == 0 or (start > 1 and text[start - 1] == " " and text[start - 2] in _CAPTION_END)
