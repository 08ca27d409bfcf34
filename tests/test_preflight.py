"""Input checks before TFX starts: one line per problem, named by file/line."""

import pytest

from coco_captions import features
from coco_captions.run import preflight, settings

HEADER = ','.join(features.CSV_COLUMNS)
ROW = '1,10,a red square,http://x/1.jpg,1.jpg,CC BY'


def _settings(*argv):
  return settings.parse_flags(list(argv), 'local', environ={})


def _data_dir(tmp_path, *lines, name='captions.csv', raw=None):
  data = tmp_path / 'data'
  (data / 'images').mkdir(parents=True, exist_ok=True)
  if raw is not None:
    (data / name).write_bytes(raw)
  else:
    (data / name).write_text('\n'.join(lines) + '\n', encoding='utf-8')
  return data


def _errors(data):
  return preflight.errors(_settings('--data_root', str(data)))


def test_the_bundled_data_passes():
  assert preflight.errors(_settings()) == []


def test_uris_are_not_checked_here():
  assert preflight.errors(_settings('--images_root', 'gs://bucket/train2014',
                                    '--data_root', 'gs://bucket/csv')) == []


def test_each_bad_input_gets_one_clear_line(tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  assert preflight.errors(_settings(
      '--data_root', str(empty), '--images_root', str(tmp_path / 'nope'),
      '--module_file', str(tmp_path / 'missing.py'),
      '--schema_file', str(tmp_path / 'schema.pbtxt'))) == [
          f'data root {empty} has no *.csv file',
          f'images root {tmp_path / "nope"} is not a directory',
          f'module file {tmp_path / "missing.py"} does not exist',
          f'schema file {tmp_path / "schema.pbtxt"} does not exist',
      ]
  assert _errors(tmp_path / 'absent')[0] == (
      f'data root {tmp_path / "absent"} is not a directory')


def test_csv_without_the_coco_columns_is_one_clear_line(tmp_path):
  data = _data_dir(tmp_path, 'image_id,id,caption,image_name', '1,2,x,a.jpg')
  assert _errors(data) == [
      f'{data / "captions.csv"} lacks the column(s) image_url, image_license '
      '(a COCO captions CSV has image_id,id,caption,image_url,image_name,'
      'image_license)']


def test_a_byte_order_mark_is_accepted(tmp_path):
  data = _data_dir(tmp_path, raw=('\ufeff' + HEADER + '\n' + ROW + '\n').encode())
  assert _errors(data) == []


@pytest.mark.parametrize('line, column', [(2, 3), (1500, 7)])
def test_a_bad_byte_anywhere_is_named_by_line(tmp_path, line, column):
  rows = [ROW.encode()] * 2000
  rows[line - 2] = ROW[:column - 1].encode() + b'\xe9' + ROW[column:].encode()
  data = _data_dir(tmp_path, raw=b'\n'.join([HEADER.encode(), *rows]) + b'\n')
  assert _errors(data) == [
      f'{data / "captions.csv"} line {line}: byte 0xe9 at column {column} is '
      'not UTF-8 (the CSV files must be UTF-8)']


def test_a_utf16_file_is_named_at_its_first_line(tmp_path):
  data = _data_dir(tmp_path, raw=(HEADER + '\n' + ROW).encode('utf-16'))
  (error,) = _errors(data)
  assert error.startswith(f'{data / "captions.csv"} line 1: byte 0xff at '
                          'column 1 is not UTF-8')


def test_a_header_only_csv_is_one_plain_error(tmp_path):
  data = _data_dir(tmp_path, HEADER, '', '  ')
  assert _errors(data) == [
      f'{data / "captions.csv"} has a header but no caption rows']
  _data_dir(tmp_path, HEADER, name='more.csv')
  assert _errors(data) == [
      f'the CSV files in {data} have a header but no caption rows']
  # One file with rows is enough.
  _data_dir(tmp_path, HEADER, ROW, name='rows.csv')
  assert _errors(data) == []


def test_an_empty_csv_lacks_every_column(tmp_path):
  data = _data_dir(tmp_path, raw=b'')
  (error,) = _errors(data)
  assert error.startswith(f'{data / "captions.csv"} lacks the column(s) '
                          'image_id, id, caption')


def test_every_csv_needs_the_same_header_line(tmp_path):
  data = _data_dir(tmp_path, HEADER, ROW)
  reordered = ','.join(reversed(features.CSV_COLUMNS))
  other = '2,20,a blue disc,http://x/2.jpg,2.jpg,CC BY'
  _data_dir(tmp_path, reordered, ','.join(reversed(other.split(','))),
            name='z.csv')
  assert _errors(data) == [
      f'{data / "z.csv"} has another header line than {data / "captions.csv"}'
      '; every CSV file in the data root needs the same one']
  _data_dir(tmp_path, raw=('\ufeff' + HEADER + '\n' + other + '\n').encode(),
            name='z.csv')
  assert _errors(data) == [
      f'{data / "z.csv"} has another header line than {data / "captions.csv"}'
      ' (one starts with a UTF-8 byte order mark); every CSV file in the data '
      'root needs the same one']


def test_an_unreadable_csv_is_one_clear_line(tmp_path):
  data = _data_dir(tmp_path, HEADER, ROW)
  (data / 'folder.csv').mkdir()
  assert _errors(data) == [
      f'cannot read {data / "folder.csv"}: Is a directory']


def test_module_file_must_define_the_functions_the_pipeline_calls(tmp_path):
  module = tmp_path / 'module.py'
  module.write_text('def preprocessing_fn(inputs):\n  return inputs\n')
  found = _settings('--module_file', str(module))
  assert preflight.errors(found) == [
      f'module file {module} defines no run_fn()',
      f'module file {module} defines no encode_pixels(): GroupCaptionsByImage '
      'decodes the images with it']
  module.write_text('def preprocessing_fn(inputs):\n  return inputs\n'
                    'def run_fn(fn_args):\n  pass\n'
                    'encode_pixels = lambda images, size: images\n')
  assert preflight.errors(found) == []
  module.write_text('def broken(:\n')
  (error,) = preflight.errors(found)
  assert error.startswith(f'module file {module} cannot be read as Python')


def test_kubeflow_checks_only_the_module_file_here(tmp_path):
  found = settings.parse_flags(
      ['--pipeline_root=gs://b/p', '--data_root=/in/the/cluster',
       '--images_root=/in/the/cluster/images',
       f'--module_file={tmp_path / "missing.py"}'], 'kubeflow', environ={})
  assert preflight.errors(found) == [
      f'module file {tmp_path / "missing.py"} does not exist']


def test_example_gen_checks_the_data_where_its_task_runs(tmp_path):
  # An Airflow DAG file and a compiled Kubeflow pipeline are built where the
  # data is not read: the first task checks it, one line per problem.
  from coco_captions.pipeline import csv_example_gen
  (tmp_path / 'a.csv').write_bytes(b'image_id,caption\n1,caf\xe9\n')
  with pytest.raises(preflight.PreflightError) as error:
    csv_example_gen.Executor().Do({}, {}, {'input_base': str(tmp_path)})
  assert str(error.value).splitlines() == [
      f'{tmp_path / "a.csv"} line 2: byte 0xe9 at column 6 is not UTF-8 (the '
      'CSV files must be UTF-8)']


def test_a_corrupt_or_truncated_metadata_file_is_one_line(tmp_path):
  import sqlite3
  root = tmp_path / 'root'
  root.mkdir()
  metadata = root / 'metadata.sqlite'
  assert preflight.storage_errors(str(root), str(metadata)) == []
  with sqlite3.connect(metadata) as db:
    db.execute('create table t (x text)')
    db.executemany('insert into t values (?)', [('x' * 500,)] * 200)
  db.close()
  assert preflight.storage_errors(str(root), str(metadata)) == []
  whole = metadata.read_bytes()
  metadata.write_bytes(whole[:len(whole) // 2])
  (problem,) = preflight.storage_errors(str(root), str(metadata))
  assert problem.startswith(f'ML Metadata {metadata} is not a sound SQLite '
                            'database (')
  assert problem.endswith('move it aside to start a new run history (the '
                          'runs it recorded are then forgotten)')
  metadata.write_bytes(b'not a database at all' * 100)
  (problem,) = preflight.storage_errors(str(root), str(metadata))
  assert 'file is not a database' in problem


def test_a_read_only_pipeline_root_is_one_line(tmp_path):
  # As root, only a read-only mount refuses a write: one in a namespace.
  import os
  import shutil
  import subprocess
  import sys
  if os.geteuid() != 0 or not shutil.which('unshare'):
    pytest.skip('needs root and unshare for a read-only mount')
  root = tmp_path / 'root'
  root.mkdir()
  check = ('import sys; from coco_captions.run import preflight; '
           'print(preflight.storage_errors(sys.argv[1], sys.argv[2]))')
  result = subprocess.run(
      ['unshare', '-m', '--propagation', 'private', 'sh', '-c',
       f'mount --bind {root} {root} && mount -o remount,ro,bind {root} {root}'
       f' && exec {sys.executable} -c "{check}" {root} {root}/m.sqlite'],
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == str([
      f'pipeline root {root} cannot be written (Read-only file system): '
      'give a writable one'])


@pytest.mark.parametrize('row, problem', [
    ('x1,10,a cat,u,1.jpg,l', "image_id 'x1' is not a whole number of 0 or "
     'more'),
    ('-1,10,a cat,u,1.jpg,l', "image_id '-1' is not a whole number of 0 or "
     'more'),
    ('1,9223372036854775808,a cat,u,1.jpg,l',
     "id '9223372036854775808' is beyond the 64-bit integer range"),
    ('1,,a cat,u,1.jpg,l', "id '' is not a whole number of 0 or more"),
    ('2,10,a dog,u,2.jpg,l', 'caption id 10 is also on {path} line 2'),
])
def test_ids_follow_the_converters_rules_named_by_row(tmp_path, row, problem):
  data = _data_dir(tmp_path, HEADER, ROW, row)
  path = data / 'captions.csv'
  assert _errors(data) == [f'{path} line 3: ' + problem.format(path=path)]


def test_a_caption_id_is_unique_across_the_files(tmp_path):
  data = _data_dir(tmp_path, HEADER, ROW)
  _data_dir(tmp_path, HEADER, '1,10,same id again,u,1.jpg,l', name='z.csv')
  assert _errors(data) == [
      f'{data / "z.csv"} line 2: caption id 10 is also on '
      f'{data / "captions.csv"} line 2']


def test_a_quoted_header_is_a_header(tmp_path):
  quoted = ','.join(f'"{c}"' for c in features.CSV_COLUMNS)
  assert _errors(_data_dir(tmp_path, quoted, ROW)) == []
  (tmp_path / 'data' / 'captions.csv').write_text(
      quoted + ',"a,b"\n' + ROW + ',x\n')
  assert _errors(tmp_path / 'data') == [
      f'{tmp_path / "data" / "captions.csv"} line 1: a quoted column name '
      'holds a comma, which CsvExampleGen cannot read']


def test_captions_without_a_word_are_one_line_before_training(tmp_path):
  data = _data_dir(tmp_path, HEADER, '1,10,... !!! ---,u,1.jpg,l',
                   '2,20,"",u,2.jpg,l')
  assert _errors(data) == [
      f'no caption in {data} has a word (letters or digits): the model would '
      'have nothing to learn from']


def test_a_huge_field_gives_a_bounded_line(tmp_path):
  data = _data_dir(tmp_path, HEADER, f'{"9" * 100_000},10,a cat,u,1.jpg,l')
  (line,) = _errors(data)
  assert len(line) < 500 and 'line 2: image_id' in line
  assert 'beyond the 64-bit integer range' in line
  # TFX's CSV reader stops at fields over Python's csv limit; said first.
  data = _data_dir(tmp_path, HEADER, f'1,10,{"word " * 100_000},u,1.jpg,l')
  assert _errors(data) == [
      f'{data / "captions.csv"} line 2: a field is longer than 131,072 '
      'characters, more than CsvExampleGen reads']
