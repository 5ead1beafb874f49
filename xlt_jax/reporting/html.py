"""A report as a list of blocks, rendered to markdown and to one self-contained HTML file.

The report is assembled once as blocks (headings, paragraphs, bullet lists, tables,
figures) and rendered twice, so the markdown and the HTML never say different things.
The HTML needs nothing beside it: styles are inline in its head and each figure's SVG is
embedded in the page (no `src=` of any kind, no external stylesheet or script).
"""

import dataclasses
import html
import re

from xlt_jax.core import paths


@dataclasses.dataclass(frozen=True)
class Heading:
  level: int
  text: str


@dataclasses.dataclass(frozen=True)
class Paragraph:
  text: str
  emphasis: bool = False  # a warning (missing runs): bold in markdown, highlighted in HTML


@dataclasses.dataclass(frozen=True)
class Bullets:
  items: list[str]


@dataclasses.dataclass(frozen=True)
class Table:
  header: list[str]
  lines: list[list[str]]
  csv_name: str | None = None  # the CSV beside the report holding the same table


@dataclasses.dataclass(frozen=True)
class Figure:
  caption: str
  png: str  # paths of the written files
  svg: str


Block = Heading | Paragraph | Bullets | Table | Figure


def markdown(blocks: list[Block], out_dir: str) -> str:
  """GitHub markdown; figures link their PNG by a path relative to `out_dir`."""
  parts = []
  for block in blocks:
    if isinstance(block, Heading):
      parts.append(f"{'#' * block.level} {block.text}\n")
    elif isinstance(block, Paragraph):
      parts.append(f"**{block.text}**\n" if block.emphasis else f"{block.text}\n")
    elif isinstance(block, Bullets):
      parts.append("".join(f"- {item}\n" for item in block.items))
    elif isinstance(block, Table):
      rule = [":---"] + ["---:"] * (len(block.header) - 1)
      text = "\n".join("| " + " | ".join(cells) + " |"
                       for cells in [block.header, rule, *block.lines]) + "\n"
      parts.append(text + (f"\n(CSV: `{block.csv_name}`)\n" if block.csv_name else ""))
    else:
      parts.append(f"![{block.caption}]({paths.relpath(block.png, out_dir)})\n\n"
                   f"*{block.caption}* (SVG: `{paths.relpath(block.svg, out_dir)}`)\n")
  return "\n".join(parts)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;
padding:.2em .6em;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f0f0f0}.warning{background:#fff3cd;padding:.5em}figure{margin:1em 0}
figure svg{max-width:100%;height:auto}figcaption{font-style:italic}code{background:#f4f4f4}"""


def _inline(text: str) -> str:
  """Escapes `text`; markdown `code` spans become <code>, **bold** <strong>."""
  text = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))
  return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _svg(path: str) -> str:
  text = paths.read_text(path)
  # The XML declaration and DOCTYPE are not allowed inside an HTML body.
  return text[text.index("<svg"):]


def render_html(blocks: list[Block], title: str) -> str:
  """One HTML document holding every table and figure (SVG inline)."""
  parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"]
  for block in blocks:
    if isinstance(block, Heading):
      parts.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
    elif isinstance(block, Paragraph):
      parts.append(f'<p class="warning">{_inline(block.text)}</p>' if block.emphasis
                   else f"<p>{_inline(block.text)}</p>")
    elif isinstance(block, Bullets):
      parts.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items)
                   + "</ul>")
    elif isinstance(block, Table):
      head = "".join(f"<th>{_inline(cell)}</th>" for cell in block.header)
      body = "".join("<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in line) + "</tr>"
                     for line in block.lines)
      parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    else:
      parts.append(f"<figure>{_svg(block.svg)}<figcaption>{_inline(block.caption)}"
                   "</figcaption></figure>")
  parts.append("</body></html>\n")
  return "\n".join(parts)
