"""The query command: the exported model alone finds images and captions."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from coco_captions.serving import query

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
      '  runpy.run_module("coco_captions.serving.query", run_name="__main__")\n'
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
  # Replaced in place under the same name: the size and mtime differ.
  stamp = os.path.getmtime(index)
  replaced = os.path.join(images_root, names[1])
  shutil.copy(os.path.join(images_root, names[2]), replaced)
  os.utime(replaced, ns=(1, 1))
  names_now, now = query.image_index(model, images_root, index)
  assert os.path.getmtime(index) != stamp  # Rebuilt.
  np.testing.assert_allclose(now[0], now[1], rtol=1e-5, atol=1e-6)


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


def test_corrupt_images_are_skipped_with_a_warning_naming_them(
    serving_dir, tiny_model, tmp_path):
  _, data_dir = tiny_model
  images_root = tmp_path / 'images'
  shutil.copytree(os.path.join(data_dir, 'images'), images_root)
  (images_root / 'text.jpg').write_text('not an image')
  (images_root / 'empty.png').write_bytes(b'')
  good = (images_root / 'COCO_synthetic_000000000001.jpg').read_bytes()
  (images_root / 'cut.jpg').write_bytes(good[:len(good) // 3])
  (images_root / 'dir.jpg').mkdir()
  # Never opened: a FIFO would hang the command, a link leads outside.
  os.mkfifo(images_root / 'pipe.jpg')
  (tmp_path / 'outside.jpg').write_bytes(good)
  os.symlink(tmp_path / 'outside.jpg', images_root / 'link.jpg')
  out, err = _run_query_raw(['--model', serving_dir, '--images_root',
                             str(images_root), '--caption', 'a red circle',
                             '--top_k', '30', '--json'])
  assert out.returncode == 0, err
  names = [n for n, _ in json.loads(out.stdout)['results'][0]['images']]
  assert len(names) == 20 and not {'text.jpg', 'empty.png', 'cut.jpg',
                                   'dir.jpg', 'pipe.jpg', 'link.jpg'} & set(
                                       names)
  warnings = [l for l in err.splitlines() if l.startswith('warning:')]
  assert sorted(w.split("'")[1] for w in warnings) == [
      'cut.jpg', 'dir.jpg', 'empty.png', 'link.jpg', 'pipe.jpg', 'text.jpg']
  assert all(str(images_root) in w for w in warnings)


def _run_query_raw(args):
  result = subprocess.run(
      [sys.executable, '-m', 'coco_captions.serving.query'] + args,
      capture_output=True, text=True, timeout=300, cwd=ROOT)
  return result, result.stderr


@pytest.mark.parametrize('make_args, message', [
    (lambda d, m, t: ['--images_root', str(t), '--caption', 'x'],
     'no .jpg/.jpeg/.png images to search'),
    (lambda d, m, t: ['--images_root', str(t / 'nope'), '--caption', 'x'],
     'no such directory'),
    (lambda d, m, t: ['--images_root', d, '--caption', 'x', '--top_k', '0'],
     '--top_k must be at least 1, not 0'),
    (lambda d, m, t: ['--images_root', d, '--caption', 'x', '--top_k', '-3'],
     '--top_k must be at least 1, not -3'),
    (lambda d, m, t: ['--images_root', d, '--caption', '  '],
     "--caption '  ' is empty"),
    (lambda d, m, t: ['--image', str(t / 'missing.jpg'), '--captions_csv',
                      os.path.join(os.path.dirname(d), 'captions.csv')],
     'missing.jpg: no such file'),
])
def test_bad_query_input_is_one_error_line(serving_dir, tiny_model, tmp_path,
                                           make_args, message, capsys):
  _, data_dir = tiny_model
  args = make_args(os.path.join(data_dir, 'images'), serving_dir, tmp_path)
  assert query.main(['--model', serving_dir] + args) == 2
  err = capsys.readouterr().err
  assert _error_lines(err) == [_error_lines(err)[0]] and 'Traceback' not in err
  assert message in _error_lines(err)[0]


def _error_lines(err):
  return [line for line in err.splitlines() if line.startswith('error: ')]


def test_a_model_path_that_is_not_a_model_is_one_error_line(tmp_path,
                                                            tiny_model,
                                                            capsys):
  (tmp_path / 'junk').mkdir()
  (tmp_path / 'junk' / 'saved_model.pb').write_bytes(b'garbage')
  other = tmp_path / 'other'
  module = tf.Module()
  module.f = tf.function(lambda x: x, input_signature=[
      tf.TensorSpec([None], tf.float32)])
  tf.saved_model.save(module, str(other))
  _, data_dir = tiny_model
  for model, message in ((tmp_path / 'empty', 'neither a SavedModel'),
                         (tmp_path / 'junk', 'not a SavedModel TensorFlow can load'),
                         (other, 'without the embed_captions and embed_images')):
    assert query.main([
        '--model', str(model), '--images_root',
        os.path.join(data_dir, 'images'), '--caption', 'x']) == 2
    err = capsys.readouterr().err
    assert len(_error_lines(err)) == 1 and message in err, err


def test_a_corrupt_query_image_is_one_error_line(serving_dir, tiny_model,
                                                 tmp_path):
  _, data_dir = tiny_model
  (tmp_path / 'bad.jpg').write_text('not an image')
  result, err = _run_query_raw([
      '--model', serving_dir, '--image', str(tmp_path / 'bad.jpg'),
      '--captions_csv', os.path.join(data_dir, 'captions.csv')])
  assert result.returncode == 2 and 'Traceback' not in err
  (line,) = _error_lines(err)
  assert line.startswith('error: --image ') and 'not a decodable image' in line


def test_a_query_image_that_is_not_a_file_is_one_error_line_at_once(
    serving_dir, tiny_model, tmp_path):
  _, data_dir = tiny_model
  os.mkfifo(tmp_path / 'pipe.jpg')
  result, err = _run_query_raw([
      '--model', serving_dir, '--image', str(tmp_path / 'pipe.jpg'),
      '--captions_csv', os.path.join(data_dir, 'captions.csv')])
  assert result.returncode == 2 and 'Traceback' not in err
  assert _error_lines(err) == [
      f"error: --image '{tmp_path / 'pipe.jpg'}': '{tmp_path / 'pipe.jpg'}' "
      'is a FIFO, not a file']


def test_equivalent_spellings_of_a_caption_embed_the_same(serving_dir):
  model = query.RetrievalModel(serving_dir)
  composed, decomposed = model.embed_captions(
      ['a caf\u00e9 \ufb01sh', 'a cafe\u0301 fish'])
  np.testing.assert_array_equal(composed, decomposed)


def test_a_command_prints_nothing_but_its_own_line(tmp_path):
  # google.api_core, imported with TFX, warns on every import that it will
  # leave Python 3.11: the commands keep that off the console.
  result = subprocess.run(
      [sys.executable, '-m', 'coco_captions.serving.query', '--model',
       str(tmp_path / 'none'), '--images_root', str(tmp_path), '--caption',
       'a dog'], capture_output=True, text=True, timeout=300,
      cwd=str(tmp_path))
  assert result.returncode == 2
  assert result.stderr == (f'error: {tmp_path / "none"} is neither a '
                           'SavedModel nor a directory of numbered versions\n')


def test_an_index_named_without_npz_is_read_back_under_that_name(
    serving_dir, tiny_model, tmp_path):
  _, data_dir = tiny_model
  model = query.RetrievalModel(serving_dir)
  index = str(tmp_path / 'index')
  names, _ = query.image_index(model, os.path.join(data_dir, 'images'), index)
  assert os.listdir(tmp_path) == ['index']
  stamp = os.stat(index).st_mtime_ns
  assert query.image_index(model, os.path.join(data_dir, 'images'),
                           index)[0] == names
  assert os.stat(index).st_mtime_ns == stamp  # Reused, not embedded again.


def test_a_caption_of_no_known_word_is_one_error_line(serving_dir, tiny_model,
                                                      capsys):
  _, data_dir = tiny_model
  model = query.RetrievalModel(serving_dir)
  assert model.known_words(['a red circle', 'zzyzx qwfp', '']) == [3, 0, 0]
  assert query.main(['--model', serving_dir, '--images_root',
                     os.path.join(data_dir, 'images'), '--caption',
                     'zzyzx qwfp']) == 2
  assert _error_lines(capsys.readouterr().err) == [
      "error: --caption 'zzyzx qwfp': none of its words is in the model's "
      'vocabulary, so any ranking would be arbitrary']


def test_control_characters_in_captions_never_reach_the_terminal(
    serving_dir, tiny_model, tmp_path, capsys):
  _, data_dir = tiny_model
  (tmp_path / 'captions.csv').write_text(
      'image_id,id,caption\n1,1,"a red \x1b[2Jcircle\x07"\n',
      encoding='utf-8')
  image = sorted(os.listdir(os.path.join(data_dir, 'images')))[0]
  assert query.main(['--model', serving_dir, '--image',
                     os.path.join(data_dir, 'images', image),
                     '--captions_csv', str(tmp_path / 'captions.csv')]) == 0
  out = capsys.readouterr().out
  assert '\x1b' not in out and '\x07' not in out
  assert 'a red \\x1b[2Jcircle\\x07' in out
