"""TFDV's statistics view (Facets Overview), inlined into a page.

Facets and its web-components polyfill are vendored (vendor/, with their
sha256 in vendor/README.md), kept gzipped and base64-encoded in the page and
unpacked in the browser, so the report needs no network.
"""

import base64
import dataclasses
import functools
import gzip
import os
import re
from typing import Optional

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'vendor')
FACETS_BUNDLE = os.path.join(_VENDOR, 'facets', 'facets-jupyter.html')
WEBCOMPONENTS_POLYFILL = os.path.join(_VENDOR, 'webcomponentsjs',
                                      'webcomponents-lite.js')


def facets_proto(train, eval_) -> Optional[str]:
  """The base64 proto TFDV hands Facets Overview for train vs eval.

  Taken from TFDV's own `get_statistics_html`, so the datasets are combined
  and named exactly as TFDV does it; None for an empty dataset.
  """
  from tensorflow_data_validation.utils import display_util
  page = display_util.get_statistics_html(train, eval_, 'train', 'eval')
  if 'proto-input=' not in page:
    return None
  match = re.search(r'proto-input="([A-Za-z0-9+/=]+)"', page)
  if not match:
    raise ValueError('TFDV\'s statistics HTML has an unexpected form; cannot '
                     'find the statistics proto in it')
  return match.group(1)


def facets_bundle() -> str:
  """Facets' build without its @font-face rules, which name unshipped files."""
  with open(FACETS_BUNDLE, encoding='utf-8') as f:
    bundle = f.read()
  return re.sub(r'@font-face\s*\{[^}]*\}', '', bundle)


def _gzip_base64(text: str) -> str:
  return base64.b64encode(gzip.compress(text.encode('utf-8'), mtime=0)).decode()


@dataclasses.dataclass(frozen=True)
class Overview:
  """What facets.html.j2 draws: the statistics and the packed browser code."""
  proto_base64: str
  polyfill_gzip_base64: str
  bundle_gzip_base64: str


@functools.lru_cache(maxsize=1)
def _packed():
  with open(WEBCOMPONENTS_POLYFILL, encoding='utf-8') as f:
    polyfill = f.read()
  if '</script' in polyfill.lower():
    raise ValueError('the polyfill cannot be inlined: it holds </script')
  return _gzip_base64(polyfill), _gzip_base64(facets_bundle())


def overview(proto_base64: str) -> Overview:
  """Facets Overview of a statistics proto (facets_proto), ready to draw."""
  if not re.fullmatch(r'[A-Za-z0-9+/=]*', proto_base64):
    raise ValueError('the statistics proto is not base64')
  return Overview(proto_base64, *_packed())

