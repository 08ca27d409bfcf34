"""The HTML pages' templates (templates/), rendered with autoescaping.

Every value a template prints is escaped unless it is markupsafe.Markup:
only the SVG charts (built by ElementTree, which escapes) are.
"""

import functools
import os

import jinja2

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         'templates')


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
  return jinja2.Environment(
      loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
      keep_trailing_newline=True)


def render(template: str, **context) -> str:
  """The page `template` (a file name under templates/) with `context`."""
  return environment().get_template(template).render(**context)
