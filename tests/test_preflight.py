"""Input checks before TFX starts: one line per problem, named by file/line."""

import pytest

from coco_captions import configs, preflight, settings

HEADER = ','.join(configs.CSV_COLUMNS)
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
  reordered = ','.join(reversed(configs.CSV_COLUMNS))
  _data_dir(tmp_path, reordered, ROW, name='z.csv')
  assert _errors(data) == [
      f'{data / "z.csv"} has another header line than {data / "captions.csv"}'
      '; every CSV file in the data root needs the same one']
  _data_dir(tmp_path, raw=('\ufeff' + HEADER + '\n' + ROW + '\n').encode(),
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
  from coco_captions import csv_example_gen
  (tmp_path / 'a.csv').write_bytes(b'image_id,caption\n1,caf\xe9\n')
  with pytest.raises(preflight.PreflightError) as error:
    csv_example_gen.Executor().Do({}, {}, {'input_base': str(tmp_path)})
  assert str(error.value).splitlines() == [
      f'{tmp_path / "a.csv"} line 2: byte 0xe9 at column 6 is not UTF-8 (the '
      'CSV files must be UTF-8)']
