"""Text cleaning shared by every loader: normalisation, boilerplate removal, sentences and headlines."""

from __future__ import annotations

import re
import unicodedata

from corpus.photos import strip_gallery_chrome, strip_photo_credits

# NFC keeps typographic quotes, dashes and symbols such as "km²" intact (NFKC would rewrite them);
# the few compatibility characters that only hurt search are mapped explicitly instead.
# C0/C1 controls and the soft hyphen; separate small classes keep the regex engine on its fast path.
_CONTROL_CHARS_RE = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\xad]")
_INVISIBLE_CHARS_RE = re.compile("[\u200b\u2060\ufeff]")  # ZWNJ/ZWJ carry meaning and stay
_NEWLINE_CHARS_RE = re.compile("[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACE_CHARS_RE = re.compile("[\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACES_RE = re.compile("  +")
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_LIGATURE_RE = re.compile("[\ufb00-\ufb04]")

_SOCIAL = (
    r"(?:facebook|twitter|x|instagram|threads|bluesky|tiktok|youtube|linkedin|telegram|whatsapp|email|e-mail)"
)
_BOILERPLATE_PATTERNS = (
    # Legal notices and copyright lines.
    r"legal (?:warning|notice|disclaimer)\s*:.*",
    r"(?:copyright\s*)?(?:©|\(c\)).{0,250}",
    r"copyright\s+(?:\d{4}|by\b).{0,250}",
    # Ads and page chrome.
    r"(?:advertisement|advertising|sponsored(?: content)?|ad|paid content|promoted)",
    r"(?:story continues|article continues|continue reading)(?: below| after)?"
    r"(?: (?:the )?(?:advertisement|ad))?",
    r"(?:skip|jump) to (?:main )?(?:content|navigation|article|search)",
    r"(?:back to top|menu|search|close|home|sections|log ?in|sign ?in|register|print|copy link|tweet)",
    r"(?:please )?enable javascript.{0,150}",
    r"we use cookies.{0,300}",
    r"(?:last )?(?:updated|published|posted)(?: on| at)?:?\s+[\w ,:/.-]{0,60}\d[\w ,:/-]{0,40}",
    # Video and photo player chrome.
    r"(?:play|watch|replay) (?:video|now|live|more videos)",
    r"(?:play|pause|mute|unmute|video|videos|photos|gallery|hide caption|toggle caption|enlarge this image)",
    r"(?:now playing|up next)(?:\s*:.{0,150})?",
    r"(?:just watched|must watch|video ad feedback)\b.{0,250}",
    r"watch\s*:.{0,150}",
    r"(?:photo|image|credit|photograph)s?\s*:.{0,120}",
    r"loading(?:\.\.\.|…)?",
    r"video player was slow to load.{0,250}",
    r"\d\. how relevant is this ad to you\?",
    # Sharing and following prompts.
    r"share(?: this)?(?: article| story| page| video)?(?: on " + _SOCIAL + r")?:?",
    r"(?:" + _SOCIAL + r"[ ,|/]*){2,}",
    r"follow us\b.{0,150}",
    r"follow (?:\S+ ){1,6}on " + _SOCIAL + r"\b.{0,200}",
    r"click here to.{0,200}",
    # Links to other stories.
    r"read more(?: here)?[.:]?",
    r"(?:read more|also read|see also|related|more on this)\s*:.{0,250}",
    r"more:\S.{0,250}",
    r"related (?:articles|stories|coverage|content|links)\s*:?",
    # Lines with no letters or digits at all: separators such as "***", "___" or "♦".
    r"[\W_]+",
)
_LEGAL_RE = re.compile(_BOILERPLATE_PATTERNS[0], re.IGNORECASE)
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in _BOILERPLATE_PATTERNS), re.IGNORECASE)
# A link to another story run into the text: a label, a colon and the linked headline with no space between.
# "►Candy cane shortage:Peppermint candy is harder to find", or without the arrow ("Fact check:'Megabats'
# exist") when the line ends no sentence, as prose puts a space after a colon. A bullet of live coverage
# ("►Seven civilians were killed ...", "► 10:30 a.m.: ...") and a brief ("Springfield:Two hippo sisters are
# ... zoo.") are news and stay. Apart from the other patterns: only lines with a colon are worth trying.
_LINK_LINE_RE = re.compile(
    r"[►▶]\s?[^:]{1,80}:[^\s\d].{0,250}"
    r"|[^:►▶]{3,80}[\w?!'’)]:[A-Z‘'\"“].{0,200}(?<![.…])(?<![.…][\"'”’)])"
)
# A headline behind an arrow that ends no sentence ("►Vehicle plunges into Genesee River gorge", "►What's open
# Christmas Day? CVS, ... Costco closed") links to another story too. A bullet of live coverage ends a sentence,
# and a longer line that the scrape cut short is news.
_ARROWS = ("►", "▶")
_ARROW_LINK_MAX_WORDS = 25
_ENDS_SENTENCE_RE = re.compile(r"[.!?…:;][\"'”’»)\]]*$")
# Newsletter lines are boilerplate only when they read like a prompt, so reported facts survive.
_NEWSLETTER_RE = re.compile(
    r"newsletter|inbox|sign up here|subscribe (?:now|today|here)|digital subscriber", re.IGNORECASE
)
_PROMPT_START_RE = re.compile(
    r"\W{0,3}(?:sign up|subscribe|get |would you like|the \w+ newsletter|this story is part of|"
    r"thank you for supporting|support local journalism|\(you can|[a-z ]{0,20}newsletter\s*:|never miss|stay up)",
    re.IGNORECASE,
)


def _fix_unprintable(line: str) -> str:
    """Map odd spaces and line separators, drop controls and invisible characters (the slow, rare path)."""
    line = _INVISIBLE_CHARS_RE.sub("", line)
    line = _NEWLINE_CHARS_RE.sub("\n", line)
    line = _SPACE_CHARS_RE.sub(" ", line)
    return _CONTROL_CHARS_RE.sub("", line.replace("\t", " "))


def normalize_text(text: str) -> str:
    """Return NFC text with unified whitespace, no control characters and paragraphs separated by "\\n"."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.isascii():
        text = _LIGATURE_RE.sub(lambda m: _LIGATURES[m.group(0)], text)
    lines: list[str] = []
    for line in text.split("\n"):
        # isprintable() is False for every character the slow path handles, so most lines skip it.
        if not line.isprintable():
            line = _fix_unprintable(line)
        if "  " in line:
            line = _SPACES_RE.sub(" ", line)
        if "\n" in line:
            lines.extend(part.strip() for part in line.split("\n"))
        else:
            lines.append(line.strip())
    return "\n".join(line for line in lines if line)


def is_boilerplate(line: str) -> bool:
    """True when a whole line is page chrome, an ad or a legal notice rather than article text."""
    line = line.strip()
    if not line:
        return True
    if len(line) <= 400 and "rights reserved" in line.lower():
        return True
    if len(line) > 330:
        # Every other pattern is bounded below this length; only a legal notice can be longer.
        return bool(_LEGAL_RE.match(line))
    if _BOILERPLATE_RE.fullmatch(line) or (":" in line and _LINK_LINE_RE.fullmatch(line)):
        return True
    arrow_link = line.startswith(_ARROWS) and not _ENDS_SENTENCE_RE.search(line)
    if arrow_link and len(line.split()) <= _ARROW_LINK_MAX_WORDS:
        return True
    return len(line) <= 300 and bool(_PROMPT_START_RE.match(line)) and bool(_NEWSLETTER_RE.search(line))


def strip_boilerplate(text: str) -> str:
    """Drop whole lines that are boilerplate (legal notices, ads, player chrome, share and follow prompts)."""
    return "\n".join(line for line in text.split("\n") if not is_boilerplate(line))


def clean_article_text(text: str) -> str:
    """Normalise text, drop a gallery's widget text and photo credits, and remove boilerplate lines."""
    return strip_boilerplate(strip_photo_credits(strip_gallery_chrome(normalize_text(text))))


def _wordset(words: str) -> frozenset[str]:
    """A frozenset of the space-separated words in a string constant."""
    return frozenset(words.split())


# --- sentences -------------------------------------------------------------------------------------------

# A list's bullets: one opens a sentence ("... to join. ►Russia cut off ..."), as a quote or a bracket may.
BULLETS = "►▶•"
_CANDIDATE_RE = re.compile(rf"([.!?…]+)([\"'”’»)\]]*)(\s+)(?=(?:[{BULLETS}]\s*)?[\"'“‘«(\[]*[A-Z0-9¿¡])")
_LAST_TOKEN_RE = re.compile(r"(\S+)$")
_NEXT_WORD_RE = re.compile(r"[\"'“‘«(\[]*([A-Za-z]+)")
_DOTTED_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
# Titles and abbreviations that are (almost) never the end of a sentence.
_NEVER_END = _wordset(
    "mr mrs ms mx dr prof sen rep gov gen lt col maj capt cpt sgt adm cmdr cdr brig pres supt det insp "
    "rev fr hon amb atty no nos vs v fig figs vol vols pp art sec ch para approx ca cf mt ft messrs mme mlle "
    "st dept univ assn bros"
)
# Abbreviations that also end sentences: split only when the next word usually starts one.
_MAYBE_END = _wordset(
    "inc co corp ltd llc plc jr sr etc al jan feb mar apr jun jul aug sep sept oct nov dec "
    "ave blvd rd hwy ala ariz ark calif colo conn del fla ga ill ind kan kans ky la md mass mich minn "
    "miss mo mont neb nev okla ore pa tenn tex va vt wash wis wyo"
)
_STARTERS = _wordset(
    "a an the this that these those it its he she they we i you his her their our my there here "
    "but and or so yet however meanwhile also still then now in on at for from after before when while "
    "if as since although though despite during by with under over some many most all no one two "
    "officials police authorities according what who why how"
)


def _is_boundary(text: str, start: int, match: re.Match[str]) -> bool:
    """Decide whether a period followed by a capitalised word really ends a sentence."""
    if match.group(1) != ".":
        return True
    token_match = _LAST_TOKEN_RE.search(text, start, match.start())
    token = token_match.group(1).lstrip("\"'“‘«([") if token_match else ""
    if not token:
        return True
    lower = token.lower()
    if lower in _NEVER_END:
        return False
    if len(token) == 1 and token.isupper() and token != "I":
        return False  # an initial, as in "George W. Bush"
    if token.isdigit() and token_match is not None and token_match.start() == start:
        return False  # a list number such as "1. Ukraine"
    if lower in _MAYBE_END or _DOTTED_RE.fullmatch(token):
        nxt = _NEXT_WORD_RE.match(text, match.end())
        return bool(nxt and nxt.group(1).lower() in _STARTERS)
    return True


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; paragraph breaks always end a sentence."""
    sentences: list[str] = []
    for paragraph in text.split("\n"):
        start = 0
        for match in _CANDIDATE_RE.finditer(paragraph):
            if _is_boundary(paragraph, start, match):
                sentence = paragraph[start : match.end(2)].strip()
                if sentence:
                    sentences.append(sentence)
                start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


# --- headlines -------------------------------------------------------------------------------------------

_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = (
    r"(?:Jan(?:uary|\.)?|Feb(?:ruary|\.)?|Mar(?:ch|\.)?|Apr(?:il|\.)?|May|June?|July?|Aug(?:ust|\.)?|"
    r"Sep(?:t(?:ember|\.)?|\.)?|Oct(?:ober|\.)?|Nov(?:ember|\.)?|Dec(?:ember|\.)?)"
)
_TIME_RE = re.compile(
    r"\s+(?:"
    r"(?P<prefixed>(?:(?:late|early|earlier|later) )?(?:on|this|last|next) " + _DAY + r")"
    r"|(?P<bare>" + _DAY + r")"
    r"|(?:on |in )?" + _MONTH + r" \d{1,2}(?:st|nd|rd|th)?(?:,? \d{4})?"
    r"|(?:(?:earlier|later) )?(?:yesterday|today|tonight)"
    r"|(?:(?:earlier|later) )?(?:this|last) (?:morning|afternoon|evening|week|weekend|month|year|night)"
    r")(?: (?:morning|afternoon|evening|night))?(?![\w'’])"
)
_LEADING_RE = re.compile(
    r"^(?:(?:(?:Late|Early) )?On " + _DAY + r"|Yesterday|Today|Earlier today|Earlier this week"
    r"|According to [^,]{1,80}),\s+"
)
_THAT_RE = re.compile(
    r"\b(announced|said|says|stated|reported|confirmed|declared|claimed|warned|revealed|added|noted) that\b"
)
_PARENS_RE = re.compile(r"\s*\([^()]{1,40}\)")
# "the eastern Ukrainian city of Seversk" -> "Seversk": headlines name the place, not its description.
_PLACE_OF_RE = re.compile(
    r"\bthe (?:[\w’'-]+ ){0,3}(?:city|town|village|port|region|province|district|county|island|capital) of "
    r"(?=[A-Z])"
)
_CLAUSE_RE = re.compile(
    r"(?:,|;|:| —| –| -)\s+(?=(?:[a-z]+ing|which|who|whom|whose|where|while|as|after|amid|before|following|"
    r"according|but|although|though|despite|with|in a|in an)\b)"
)
_ATTRIBUTION_RE = re.compile(
    r",\s+(?:[^,]{1,60}\s)?(?:said|says|told|reported|reports|according to)(?:\s+[^\s,]+){0,6}$"
)
_EXTRA_COMMA_RE = re.compile(r"\s+(?=,)|(?<=,)\s*,+")
_DANGLING = _wordset(
    "a an the of to and or but in on at for with by from as its his her their our your this that "
    "these those into onto over under about after before amid than via"
)
_BREAK_BEFORE = _wordset("of in on at for with from after before amid into over under during while as by")
_EDGE_CHARS = " ,;:.-–—!?…"


def _drop_time(match: re.Match[str]) -> str:
    """Remove a time phrase, but keep named days such as "Black Friday" or "Super Tuesday"."""
    if match.group("bare"):
        before = match.string[: match.start()].rsplit(None, 1)
        if before and before[-1][:1].isupper():
            return match.group(0)
    return ""


def _words_before(text: str, end: int) -> int:
    """Number of words in text[:end]."""
    return len(text[:end].split())


def headline_from_sentence(sentence: str, max_words: int = 14) -> str:
    """A short headline from a brief's first sentence: no time words or trailing clauses, <= max_words."""
    original = " ".join(sentence.split())
    text = _LEADING_RE.sub("", original.rstrip(_EDGE_CHARS))
    attribution = _ATTRIBUTION_RE.search(text)
    if attribution and _words_before(text, attribution.start()) >= 6:
        text = text[: attribution.start()]
    text = _TIME_RE.sub(_drop_time, text)
    text = _EXTRA_COMMA_RE.sub("", text)
    text = _THAT_RE.sub(r"\1", text)
    text = _PARENS_RE.sub("", text)
    text = _PLACE_OF_RE.sub("", text)
    for clause in _CLAUSE_RE.finditer(text):
        if _words_before(text, clause.start()) >= 5:
            text = text[: clause.start()]
            break
    words = text.split()
    if len(words) > max_words:
        words = words[:max_words]
        # Prefer ending before a preposition so the headline ends on a complete phrase.
        cut = max((i for i, w in enumerate(words) if w.lower() in _BREAK_BEFORE and i >= 5), default=0)
        if cut:
            words = words[:cut]
    while len(words) > 1 and words[-1].lower().strip(_EDGE_CHARS) in _DANGLING:
        words.pop()
    headline = " ".join(words).strip(_EDGE_CHARS)
    if headline.count("“") != headline.count("”"):
        headline = headline.replace("“", "").replace("”", "")
    if headline.count('"') % 2:
        headline = headline.replace('"', "")
    if not headline:
        headline = " ".join(original.split()[:max_words]).strip(_EDGE_CHARS)
    return headline[:1].upper() + headline[1:]
