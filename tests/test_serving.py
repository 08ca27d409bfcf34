"""The pushed model behind TF Serving: the README's REST requests, answered as
TF Serving answers them, give the embeddings the model gives in-process.

TF Serving itself cannot run here; `_predict` does what its REST handler does
with a predict request in the row ("instances") format: {"b64": ...} values
become bytes, the instances one batch for the signature's only input, and
its only output the "predictions".
"""

import base64
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from coco_captions.serving import serving_model


def _predict(loaded, body: str) -> dict:
  request = json.loads(body)
  signature = loaded.signatures[request['signature_name']]
  (name,) = signature.structured_input_signature[1]
  batch = [base64.b64decode(value['b64']) if isinstance(value, dict) else
           value for value in request['instances']]
  (output,) = signature(**{name: tf.constant(batch)}).values()
  return {'predictions': output.numpy().tolist()}


@pytest.fixture(scope='module')
def served(tiny_model):
  fn_args, data_dir = tiny_model
  return (tf.saved_model.load(fn_args.serving_model_dir),
          serving_model.RetrievalModel(fn_args.serving_model_dir), data_dir)


def test_a_caption_request_gets_the_models_caption_embeddings(served):
  loaded, model, _ = served
  captions = ['A red circle to the left of a blue square', 'a green square']
  body = json.dumps(serving_model.rest_request(
      'embed_captions', [serving_model.caption_example(c) for c in captions]))
  predictions = np.array(_predict(loaded, body)['predictions'])
  assert predictions.shape == (2, model.embed_captions(captions).shape[1])
  np.testing.assert_allclose(predictions, model.embed_captions(captions),
                             atol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(predictions, axis=1), 1, atol=1e-5)


def test_an_image_request_gets_the_models_image_embeddings(served):
  loaded, model, data_dir = served
  paths = sorted(glob.glob(os.path.join(data_dir, 'images', '*')))[:3]
  images = [open(p, 'rb').read() for p in paths]  # pylint: disable=consider-using-with
  body = json.dumps(serving_model.rest_request('embed_images', images))
  predictions = np.array(_predict(loaded, body)['predictions'])
  np.testing.assert_allclose(predictions, model.embed_images(images),
                             atol=1e-6)


def test_only_the_models_signatures_have_requests():
  with pytest.raises(ValueError, match="'serving_default' is not one of"):
    serving_model.rest_request('serving_default', [b'x'])
