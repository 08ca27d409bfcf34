"""Checks a report page must pass, shared by the fast and the e2e tests."""

import re
from typing import List

# Any attribute or CSS that makes a browser fetch something, pointing at a
# remote (or protocol-relative) address.
_REMOTE = re.compile(
    r'''(?:\b(?:src|href|srcset|action|poster|data|background|formaction)\s*=\s*["']?\s*'''
    r'''|url\(\s*["']?\s*|@import\s+["']?)(?:[a-z][a-z0-9+.-]*:)?//''',
    re.IGNORECASE)
# Addresses a page may load: itself, inline data, srcdoc frames.
LOCAL_SCHEMES = ('file:', 'data:', 'about:', 'blob:')

FACETS_RENDERED = '''(() => {
  const frame = document.getElementById('facets-overview');
  const doc = frame && frame.contentDocument;
  const overview = doc && doc.querySelector('facets-overview');
  if (!overview) return false;
  const root = overview.shadowRoot || overview;
  return root.querySelectorAll('facets-overview-table').length > 0 &&
      doc.body.innerText.includes('Numeric Features');
})()'''

IMAGES = '''(() => {
  const images = Array.from(document.images);
  return {total: images.length,
          rendered: images.filter(i => i.complete && i.naturalWidth > 0).length};
})()'''

FACETS_TEXT = '''document.getElementById('facets-overview').contentDocument.body.innerText'''


def remote_references(page: str) -> List[str]:
  """Each place in `page` that would make the browser reach the network."""
  return [page[max(0, m.start() - 40):m.end() + 40]
          for m in _REMOTE.finditer(page)]


def non_local_requests(urls: List[str]) -> List[str]:
  return [u for u in urls if not u.startswith(LOCAL_SCHEMES)]
