"""Captions in one Unicode normal form before they are tokenised.

The same words can be spelt with different code points: "café" with one
precomposed "é" or with "e" and a combining accent, "ﬁsh" with a ligature,
"ＡＢＣ" in full width. TensorFlow has no Unicode normalisation op, so the
text is normalised (NFKC) in Python wherever captions enter the Transform
graph: GroupCaptionsByImage for the pipeline's data, and
`serving_model.RetrievalModel` for the serving signature's callers. Clients that call
the `embed_captions` signature directly should send NFKC text too.
"""

import unicodedata
from typing import Union

NORMAL_FORM = 'NFKC'


def normalize_caption(caption: Union[str, bytes]) -> Union[str, bytes]:
  """`caption` in NFKC, of the type it came as.

  Bytes that are not valid UTF-8 are returned unchanged: the tokenizer treats
  them as it always did, and no caption is silently altered otherwise.
  """
  if isinstance(caption, bytes):
    try:
      text = caption.decode('utf-8')
    except UnicodeDecodeError:
      return caption
    return unicodedata.normalize(NORMAL_FORM, text).encode('utf-8')
  return unicodedata.normalize(NORMAL_FORM, caption)
