"""Spans a translator must not touch: masked before translation, restored and checked after.

Machine translation rewrites what it sees; code, markup and template slots must come back
byte for byte. `mask` replaces each protected span with a numbered marker `⟦n⟧` (U+27E6 /
U+27E7: brackets no language uses, which engines pass through as symbols) and `restore`
puts the spans back, raising `MaskLost` when a marker is missing, duplicated or invented, so
a damaged translation is never written silently.

Protected, in this order (an earlier kind wins where spans overlap):

- fenced code blocks (``` or ~~~ up to the matching closing fence, fences included);
- inline code (`...`);
- markdown tables: the delimiter row (`|---|:--:|`) whole, and every `|` of the other rows,
  so cell text is translated but the table's shape survives;
- JSON keys outside code blocks (`"name":`, the quoted key and its colon);
- placeholders: `{name}`, `{{name}}`, `{0}`, `${name}`, printf conversions (`%s`, `%d`,
  `%(name)s`, `%.2f`), and HTML/XML tags (`<b>`, `</b>`, `<br/>`, `<a href="...">`);
- URLs (http://, https://).
"""

import dataclasses
import re

OPEN, CLOSE = "\u27e6", "\u27e7"
_MARKER = re.compile(re.escape(OPEN) + r"\s*(\d+)\s*" + re.escape(CLOSE))

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[^\n]*\n.*?^[ \t]*\2[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$",
                              re.MULTILINE)
_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.MULTILINE)
_JSON_KEY = re.compile(r'"[^"\n]{1,80}"\s*:')
_PLACEHOLDER = re.compile(
    r"\{\{\s*[\w.]+\s*\}\}"                  # {{name}} (Jinja, Mustache)
    r"|\$\{[\w.]+\}"                          # ${name}
    r"|\{[\w.]*(?:![rsa])?(?::[^{}\n]*)?\}"   # {name}, {0}, {}, {x:.2f} (str.format)
    r"|%(?:\([\w]+\))?[-+#0]*\d*(?:\.\d+)?[sdifeEgGxXoc%]"  # printf
    r"|</?[A-Za-z][\w:-]*(?:\s+[^<>\n]*?)?\s*/?>"            # tags
    r"|https?://[^\s<>()\[\]{}\"']+")


class MaskLost(ValueError):
  """A translation lost, repeated or invented a protected span's marker."""


@dataclasses.dataclass(frozen=True)
class Masked:
  """`text` with its protected spans replaced by markers; `spans[n]` is marker n's original."""
  text: str
  spans: tuple[str, ...]


def _table_spans(text: str) -> list[tuple[int, int]]:
  spans = [(m.start(), m.end()) for m in _TABLE_DELIMITER.finditer(text)]
  for row in _TABLE_ROW.finditer(text):
    if any(start <= row.start() < end for start, end in spans):
      continue
    spans.extend((row.start() + i, row.start() + i + 1)
                 for i, char in enumerate(row.group()) if char == "|")
  return spans


def protected_spans(text: str) -> list[tuple[int, int]]:
  """The (start, end) of every protected span of `text`, sorted, never overlapping."""
  chosen: list[tuple[int, int]] = []

  def take(candidates) -> None:
    for start, end in candidates:
      if end > start and all(end <= s or start >= e for s, e in chosen):
        chosen.append((start, end))

  take((m.start(), m.end()) for m in _FENCE.finditer(text))
  take((m.start(), m.end()) for m in _INLINE_CODE.finditer(text))
  take(_table_spans(text))
  take((m.start(), m.end()) for m in _JSON_KEY.finditer(text))
  take((m.start(), m.end()) for m in _PLACEHOLDER.finditer(text))
  return sorted(chosen)


def mask(text: str) -> Masked:
  """`text` with each protected span replaced by `⟦n⟧`, n counting from 0 in text order."""
  pieces, spans, cursor = [], [], 0
  for start, end in protected_spans(text):
    pieces.append(text[cursor:start])
    pieces.append(f"{OPEN}{len(spans)}{CLOSE}")
    spans.append(text[start:end])
    cursor = end
  pieces.append(text[cursor:])
  return Masked("".join(pieces), tuple(spans))


def restore(translated: str, masked: Masked) -> str:
  """`translated` with every marker replaced by its original span.

  Raises:
    MaskLost: a marker of `masked` is missing from `translated`, appears more than once, or
      `translated` holds a marker `masked` never made.
  """
  found = [int(match.group(1)) for match in _MARKER.finditer(translated)]
  expected = list(range(len(masked.spans)))
  if sorted(found) != expected:
    missing = sorted(set(expected) - set(found))
    extra = sorted({n for n in found if found.count(n) > 1 or n not in expected})
    lost = ", ".join(repr(masked.spans[n][:40]) for n in missing[:3])
    raise MaskLost(f"protected spans did not survive translation: missing {missing}"
                   f"{f' ({lost})' if lost else ''}, repeated or unknown {extra}")
  return _MARKER.sub(lambda match: masked.spans[int(match.group(1))], translated)
