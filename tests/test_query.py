"""The query command: the exported model alone finds images and captions."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from coco_captions import query

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def serving_dir(tiny_model, tmp_path_factory):
  """A Pusher-style directory of numbered versions; 20 is the newest."""
  fn_args, _ = tiny_model
  base = tmp_path_factory.mktemp('serving')
  for version in ('3', '20'):
    shutil.copytree(fn_args.serving_model_dir, base / version)
  (base / 'notes').mkdir()
  return str(base)


def test_the_newest_numbered_version_is_used(serving_dir, tmp_path):
  assert query.resolve_model_dir(serving_dir) == os.path.join(serving_dir, '20')
  direct = os.path.join(serving_dir, '3')
  assert query.resolve_model_dir(direct) == direct
  with pytest.raises(FileNotFoundError, match='numbered versions'):
    query.resolve_model_dir(str(tmp_path))


def test_top_k_orders_by_score():
  queries = np.array([[1.0, 0.0], [0.0, 1.0]])
  candidates = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]])
  hits = query.top_k(queries, candidates, 2)
  assert [[i for i, _ in row] for row in hits] == [[1, 0], [2, 0]]
  assert hits[0][0][1] == pytest.approx(1.0)


def _run_query(args, extra_code=''):
  """Runs the query command in a fresh interpreter; returns its JSON output."""
  code = (
      'import runpy, sys, json\n'
      f'sys.argv = ["query"] + {args!r}\n'
      'try:\n'
      '  runpy.run_module("coco_captions.query", run_name="__main__")\n'
      'except SystemExit as e:\n'
      '  assert not e.code, e.code\n'
      + extra_code)
  result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout[:result.stdout.rindex('}') + 1])


def test_caption_search_uses_only_the_saved_model(serving_dir, tiny_model,
                                                  tmp_path):
  _, data_dir = tiny_model
  images_root = os.path.join(data_dir, 'images')
  index = str(tmp_path / 'index.npz')
  # The command must not need the module file or TF Transform.
  check = ('mods = set(sys.modules)\n'
           'assert "coco_captions_utils" not in mods, "module file imported"\n'
           'assert "tensorflow_transform" not in mods, "TFT imported"\n')
  out = _run_query(['--model', serving_dir, '--images_root', images_root,
                    '--caption', 'a red circle', '--caption', 'two squares',
                    '--top_k', '3', '--index', index, '--json'], check)
  assert out['model'] == os.path.join(serving_dir, '20')
  assert [r['caption'] for r in out['results']] == ['a red circle', 'two squares']
  for result in out['results']:
    names = [name for name, _ in result['images']]
    scores = [score for _, score in result['images']]
    assert len(names) == 3 and set(names) <= set(os.listdir(images_root))
    assert scores == sorted(scores, reverse=True)
  assert os.path.exists(index)


def test_the_image_index_is_reused_and_rebuilt_when_images_change(
    serving_dir, tiny_model, tmp_path):
  _, data_dir = tiny_model
  images_root = str(tmp_path / 'images')
  shutil.copytree(os.path.join(data_dir, 'images'), images_root)
  model = query.RetrievalModel(serving_dir)
  index = str(tmp_path / 'index.npz')
  names, first = query.image_index(model, images_root, index)
  assert len(names) == 20 and first.shape == (20, 16)
  stamp = os.path.getmtime(index)
  names_again, again = query.image_index(model, images_root, index)
  assert names_again == names and np.array_equal(again, first)
  assert os.path.getmtime(index) == stamp  # Reused, not rewritten.
  os.remove(os.path.join(images_root, names[0]))
  names_now, now = query.image_index(model, images_root, index)
  assert names_now == names[1:] and now.shape == (19, 16)


def test_image_search_returns_distinct_captions(serving_dir, tiny_model):
  _, data_dir = tiny_model
  image = os.path.join(data_dir, 'images', 'COCO_synthetic_000000000001.jpg')
  out = _run_query(['--model', serving_dir, '--image', image,
                    '--captions_csv', os.path.join(data_dir, 'captions.csv'),
                    '--top_k', '4', '--json'])
  (result,) = out['results']
  captions = [c for c, _ in result['captions']]
  assert result['image'] == image
  assert len(captions) == len(set(captions)) == 4


def test_query_needs_something_to_search_for(serving_dir, capsys):
  with pytest.raises(SystemExit):
    query.main(['--model', serving_dir, '--caption', 'x'])
  assert '--caption needs --images_root' in capsys.readouterr().err
