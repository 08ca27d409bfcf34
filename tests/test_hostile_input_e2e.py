"""Hostile input through the real commands: the converter's output runs as
documented, and bad images stop the pipeline before Transform, named."""

import csv
import json
import os
import subprocess
import sys

import pytest

from coco_captions.data import synthetic_data
from coco_captions.reporting import run_record, run_summary

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _coco_json(csv_path, json_path, extra_annotations=()):
  """The official layout of a captions CSV (as the converter reads it)."""
  with open(csv_path, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  images = {}
  for row in rows:
    images[int(row['image_id'])] = {
        'id': int(row['image_id']), 'file_name': row['image_name'],
        'coco_url': row['image_url'], 'license': 1}
  document = {
      'licenses': [{'id': 1, 'name': rows[0]['image_license']}],
      'images': list(images.values()),
      'annotations': [{'id': int(r['id']), 'image_id': int(r['image_id']),
                       'caption': r['caption']} for r in rows] +
                     list(extra_annotations)}
  with open(json_path, 'w', encoding='utf-8') as f:
    json.dump(document, f)


def _run(command, timeout=1500):
  return subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                        timeout=timeout)


def test_the_converters_output_runs_with_the_two_documented_commands(
    tmp_path):
  source = tmp_path / 'source'
  synthetic_data.generate(str(source), 30, seed=5)
  annotations = tmp_path / 'captions_train2014.json'
  # A rejected row, so that the rejects file is written too.
  _coco_json(source / 'captions.csv', annotations,
             [{'id': 99999, 'image_id': 1, 'caption': '   '}])
  images_root = str(source / 'images')
  output_dir = str(tmp_path / 'coco_csv')

  converted = _run([sys.executable, '-m', 'coco_captions.data.ingest',
                    '--annotations', str(annotations),
                    '--images_root', images_root, '--output_dir', output_dir])
  assert converted.returncode == 0, converted.stderr[-3000:]
  assert '150 accepted, 1 rejected' in converted.stdout
  assert os.path.exists(os.path.join(output_dir, 'rejects', 'rejects.csv'))

  run = _run([sys.executable, 'coco_captions_local.py',
              '--data_root', output_dir, '--images_root', images_root,
              '--pipeline_root', str(tmp_path / 'pipeline'),
              '--train_steps', '2', '--eval_steps', '1',
              '--blessing_threshold', '0', '--blessing_significance', '1'])
  assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
  summary = run_record.read_run(
      str(tmp_path / 'pipeline' / 'metadata.sqlite'), 'coco_captions')
  assert {c.component_id: c.state for c in summary.components}[
      'Pusher'] == 'COMPLETE'
  # Only captions.csv was read: 150 caption rows.
  assert sum(summary.split_counts.values()) == 150


def test_bad_images_stop_the_run_before_transform_naming_them(tmp_path):
  data_root = tmp_path / 'data'
  synthetic_data.generate(str(data_root), 30, seed=6)
  images = data_root / 'images'
  names = sorted(os.listdir(images))
  (images / names[3]).write_bytes((images / names[3]).read_bytes()[:300])
  os.remove(images / names[7])
  with open(data_root / 'captions.csv', newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  for row in rows:  # Every row of one image names a file outside the root.
    if row['image_id'] == rows[0]['image_id']:
      row['image_name'] = '../captions.csv'
  with open(data_root / 'captions.csv', 'w', newline='',
            encoding='utf-8') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)

  result = _run([sys.executable, 'coco_captions_local.py',
                 '--data_root', str(data_root),
                 '--pipeline_root', str(tmp_path / 'pipeline'),
                 '--train_steps', '2', '--eval_steps', '1'])
  assert result.returncode == 1, result.stdout + result.stderr
  assert 'Traceback' not in result.stdout + result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and 'BadImagesError' in errors[0], result.stderr
  assert '3 image(s) cannot be used' in errors[0]
  for name, reason in ((names[3], 'undecodable'), (names[7], 'missing'),
                       ('../captions.csv', 'unsafe_name')):
    assert f"'{name}' ({reason}: " in errors[0]
  summary = run_record.read_run(
      str(tmp_path / 'pipeline' / 'metadata.sqlite'), 'coco_captions')
  states = {c.component_id: c.state for c in summary.components}
  assert states['GroupCaptionsByImage'] == 'FAILED'
  assert 'Transform' not in states


_DROP_RUN = '''
import sys
from tfx.orchestration import metadata
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from coco_captions.pipeline import configs, pipeline
data_root, images_root, base = sys.argv[1:]
LocalDagRunner().run(pipeline.create_pipeline(
    pipeline_name='drop', pipeline_root=base + '/pipeline',
    data_root=data_root, images_root=images_root,
    module_file=configs.MODULE_FILE, serving_model_dir=base + '/serving',
    train_steps=2, eval_steps=1, blessing_threshold=0.0,
    blessing_significance=1.0,
    metadata_connection_config=metadata.sqlite_metadata_connection_config(
        base + '/metadata.sqlite'),
    bad_images='drop'))
'''


def test_with_bad_images_drop_the_run_goes_on_without_their_rows(tmp_path):
  data_root = tmp_path / 'data'
  synthetic_data.generate(str(data_root), 30, seed=7)
  images = data_root / 'images'
  names = sorted(os.listdir(images))
  for name in names[:6]:  # Five captions each: 30 rows dropped.
    (images / name).write_bytes(b'')
  result = _run([sys.executable, '-c', _DROP_RUN, str(data_root),
                 str(images), str(tmp_path)])
  assert result.returncode == 0, result.stderr[-5000:]
  summary = run_record.read_run(str(tmp_path / 'metadata.sqlite'),
                                      'drop')
  states = {c.component_id: c.state for c in summary.components}
  assert states['Transform'] == states['Pusher'] == 'COMPLETE'
  found = summary.properties('GroupCaptionsByImage', 'image_examples')
  splits = ('train', 'eval')
  assert sum(found[f'{s}_bad_images'] for s in splits) == 6
  assert sum(found[f'{s}_dropped_rows'] for s in splits) == 30
  assert sum(found[f'{s}_images'] for s in splits) == 24
  evaluation = summary.properties('RetrievalEvaluator', 'evaluation')
  # The evaluator's pool comes from the raw rows: the dropped images leave it.
  assert evaluation['skipped_images'] == found['eval_bad_images']
  assert evaluation['num_images'] == found['eval_images']
  # The console's summary says how many were left out and where they are.
  from coco_captions import artifacts
  lines = run_summary.render(
      summary, str(tmp_path / 'metadata.sqlite')).splitlines()
  listing = artifacts.bad_images_dir(summary.output('GroupCaptionsByImage',
                                                    'image_examples'))
  assert ('Dropped (--bad_images=drop): 6 bad image(s) and their 30 caption '
          'row(s), not trained or evaluated on; listed in '
          f'{listing}') in lines
  assert sorted(os.listdir(listing)) == ['eval.jsonl', 'train.jsonl']
