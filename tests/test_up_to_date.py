"""The "nothing changed since the last run" check (no pipeline run).

The e2e counterpart, a real re-run answered without TFX, is in
tests/test_pipeline_e2e.py.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

import coco_captions_local as cli
from coco_captions.pipeline import configs
from coco_captions.run import recovery, settings, up_to_date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def project(tmp_path):
  """A copy of the bundled CSV, a module dir and a pipeline root that a
  finished run left: a metadata file and one output."""
  data = tmp_path / 'data'
  (data / 'images').mkdir(parents=True)
  shutil.copy(os.path.join(configs.DATA_ROOT, 'captions.csv'), data)
  code = tmp_path / 'code'
  code.mkdir()
  shutil.copy(configs.MODULE_FILE, code)
  (code / 'helper.py').write_text('X = 1\n')
  root = tmp_path / 'root'
  (root / 'Trainer' / 'model' / '8').mkdir(parents=True)
  _sqlite(root / 'metadata.sqlite', 'metadata as the run left it')
  return tmp_path


def _sqlite(path, text):
  """A (sound) SQLite file holding `text`, as ML Metadata would be."""
  import sqlite3
  db = sqlite3.connect(path)
  with db:
    db.execute('create table if not exists t (x text)')
    db.execute('insert into t values (?)', (text,))
  db.close()


def _settings(project, *flags, orchestrator='local'):
  return settings.parse_flags([
      '--data_root', str(project / 'data'),
      '--pipeline_root', str(project / 'root'),
      '--module_file', str(project / 'code' / 'coco_captions_utils.py'),
      *flags], orchestrator, environ={})


def _record(project, *flags):
  """What the CLI records after a successful run with `flags`."""
  found = _settings(project, *flags)
  up_to_date.record(
      found.pipeline_root, up_to_date.fingerprint(found), found.metadata_path,
      'run-1', [str(project / 'root' / 'Trainer' / 'model' / '8')],
      'Pipeline coco_captions, run run-1\nReport: r.html')


def _check(project, *flags, orchestrator='local'):
  found = _settings(project, *flags, orchestrator=orchestrator)
  return up_to_date.check(found.pipeline_root, up_to_date.fingerprint(found),
                          found.metadata_path)


def test_the_same_run_again_is_unchanged(project):
  _record(project)
  found = _check(project)
  assert found.unchanged and found.reasons == []
  assert found.recorded['run_id'] == 'run-1'
  # Flags about how to run, not what to compute, do not count.
  assert _check(project, '--verbose').unchanged


def test_without_a_record_the_pipeline_runs(project):
  found = _check(project)
  assert not found.unchanged and found.reasons == []


@pytest.mark.parametrize('flags, reason', [
    (['--train_steps=7'], 'the settings changed'),
    (['--blessing_threshold=0.5'], 'the settings changed'),
    (['--direct_num_workers=2'], 'the settings changed'),  # A Beam option.
])
def test_any_setting_or_beam_option_counts(project, flags, reason):
  _record(project)
  assert _check(project, *flags).reasons == [reason]


def test_the_orchestrator_counts(project):
  _record(project)
  assert _check(project, orchestrator='beam').reasons == [
      'the settings changed']


def test_a_touched_or_new_csv_is_a_data_change(project):
  _record(project)
  csv_path = project / 'data' / 'captions.csv'
  stat = csv_path.stat()
  os.utime(csv_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
  assert _check(project).reasons == ['the data changed']
  _record(project)
  (project / 'data' / 'more.csv').write_text(csv_path.read_text())
  assert _check(project).reasons == ['the data changed']
  # Other files in the data root are not read by the pipeline.
  _record(project)
  (project / 'data' / 'notes.txt').write_text('x')
  assert _check(project).unchanged


def test_a_file_rewritten_with_its_size_and_time_restored_is_noticed(
    project):
  # What TFX fingerprints (size, modification time) can be put back; the
  # inode change time cannot.
  import time
  images = project / 'data' / 'images'
  (images / 'a.jpg').write_bytes(b'first')
  _record(project)
  for path, text in ((project / 'data' / 'captions.csv', None),
                     (images / 'a.jpg', b'FIRST')):
    before = path.stat()
    time.sleep(0.01)
    path.write_bytes(text or path.read_bytes().replace(b'red', b'RED', 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size,
                                                  before.st_mtime_ns)
  assert _check(project).reasons == ['the data changed', 'the images changed']


def test_a_replaced_added_or_removed_image_is_an_images_change(project):
  # The CSV names the images; replacing one in place changes no CSV.
  images = project / 'data' / 'images'
  (images / 'a.jpg').write_bytes(b'first')
  (images / 'sub').mkdir()
  (images / 'sub' / 'b.png').write_bytes(b'second')
  _record(project)
  assert _check(project).unchanged
  (images / 'sub' / 'b.png').write_bytes(b'SECOND')  # Same size.
  os.utime(images / 'sub' / 'b.png', ns=(0, 10**18))
  assert _check(project).reasons == ['the images changed']
  _record(project)
  (images / 'c.jpg').write_bytes(b'third')
  assert _check(project).reasons == ['the images changed']
  _record(project)
  (images / 'a.jpg').unlink()
  assert _check(project).reasons == ['the images changed']


def test_directory_fingerprint_lists_local_directories_only(project):
  images = project / 'data' / 'images'
  (images / 'a.jpg').write_bytes(b'x')
  assert len(up_to_date.directory_fingerprint(str(images))) == 64
  assert up_to_date.directory_fingerprint(str(project / 'no_such_dir')) is None
  assert up_to_date.directory_fingerprint('gs://bucket/images') is None


def test_files_fingerprint_covers_the_named_files_only(project):
  images = project / 'data' / 'images'
  for name in ('a.jpg', 'b.jpg', 'c.jpg'):
    (images / name).write_bytes(name.encode())
  first, rest = ['a.jpg', 'b.jpg'], ['c.jpg']
  digest = up_to_date.files_fingerprint(str(images), first)
  assert len(digest) == 64
  assert up_to_date.files_fingerprint(str(images), first[::-1]) == digest
  path = images / rest[0]  # Not named: not seen.
  os.utime(path, ns=(0, path.stat().st_mtime_ns + 10**9))
  assert up_to_date.files_fingerprint(str(images), first) == digest
  path = images / first[0]
  os.utime(path, ns=(0, path.stat().st_mtime_ns + 10**9))
  assert up_to_date.files_fingerprint(str(images), first) != digest
  assert up_to_date.files_fingerprint(str(images), first + ['gone.jpg']) is None
  assert up_to_date.files_fingerprint('gs://bucket/images', first) is None


def test_no_fingerprint_looks_outside_the_images_root(project):
  images = project / 'data' / 'images'
  (images / 'a.jpg').write_bytes(b'a')
  (project / 'data' / 'outside.jpg').write_bytes(b'o')
  for name in ('../outside.jpg', str(project / 'data' / 'outside.jpg'),
               'file:../outside.jpg'):
    assert up_to_date.files_fingerprint(str(images), ['a.jpg', name]) is None
  # A symlinked directory is not walked into (it could be the whole disk).
  os.symlink(str(project), str(images / 'loop'))
  before = up_to_date.directory_fingerprint(str(images))
  (project / 'elsewhere.txt').write_text('changed')
  assert up_to_date.directory_fingerprint(str(images)) == before


def test_a_record_of_an_older_format_is_not_trusted(project):
  _record(project)
  path = up_to_date.record_path(str(project / 'root'))
  with open(path, encoding='utf-8') as f:
    state = json.load(f)
  state['format'] = 1
  del state['fingerprint']['images']
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(state, f)
  found = _check(project)
  assert not found.unchanged and found.reasons == []


def test_any_py_beside_the_module_file_or_the_schema_is_a_code_change(
    project, tmp_path):
  # TFX packages every top-level .py beside the module file into its wheel.
  _record(project)
  (project / 'code' / 'helper.py').write_text('X = 2\n')
  assert _check(project).reasons == ['the code changed']
  schema = tmp_path / 'schema.pbtxt'
  shutil.copy(configs.SCHEMA_FILE, schema)
  _record(project, '--schema_file', str(schema))
  schema.write_text(schema.read_text() + '\n')
  assert _check(project, '--schema_file', str(schema)).reasons == [
      'the code changed']


def test_any_write_to_ml_metadata_means_running(project):
  _record(project)
  _sqlite(project / 'root' / 'metadata.sqlite', 'another run was here')
  assert _check(project).reasons == [
      'ML Metadata changed (another run used it)']


def test_a_deleted_output_means_running(project):
  _record(project)
  shutil.rmtree(project / 'root' / 'Trainer')
  (reason,) = _check(project).reasons
  assert reason.startswith('1 output(s) of run run-1 are gone, e.g. ')


def test_a_run_clears_the_record_before_it_starts(project):
  _record(project)
  up_to_date.clear(str(project / 'root'))
  assert not _check(project).unchanged
  up_to_date.clear(str(project / 'root'))  # Nothing to clear is fine.


def test_remote_data_is_never_answered_without_tfx(project):
  found = settings.parse_flags(['--data_root', 'gs://bucket/coco'],
                               environ={})
  parts = up_to_date.fingerprint(found)
  assert parts['data'] is None
  up_to_date.record(str(project / 'root'), parts, found.metadata_path,
                    'run-1', [], 'printed')
  assert not os.path.exists(up_to_date.record_path(str(project / 'root')))
  _record(project)  # A local run's record, then the same root on remote data.
  assert up_to_date.check(str(project / 'root'), parts,
                          found.metadata_path) == (None, [])


def test_an_unreadable_record_is_ignored(project):
  (project / 'root' / up_to_date.RECORD_FILENAME).write_text('{not json')
  assert not _check(project).unchanged


def test_cli_answers_an_unchanged_run_without_importing_tensorflow(project):
  """The CLI prints the recorded results and never loads TF or TFX."""
  _record(project)
  flags = ['--data_root', str(project / 'data'),
           '--pipeline_root', str(project / 'root'),
           '--module_file', str(project / 'code' / 'coco_captions_utils.py')]
  script = (
      'import sys, coco_captions_local as cli\n'
      f'code = cli.main({flags!r})\n'
      'loaded = sorted(m for m in ("tensorflow", "tfx", "apache_beam") '
      'if m in sys.modules)\n'
      'print("LOADED", loaded, "EXIT", code)\n')
  result = subprocess.run([sys.executable, '-c', script], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  out = result.stdout
  assert out.startswith('Nothing changed since run run-1: the same data '
                        'files, code, settings and ML Metadata')
  assert 'Pipeline coco_captions, run run-1\nReport: r.html' in out
  assert '--force_run' in out
  assert out.rstrip().endswith("LOADED [] EXIT 0")


def test_cli_says_why_it_runs_again(project, capsys, monkeypatch):
  """A changed input is named before the run starts (the run itself is
  stopped at the run lock, which another process holds)."""
  _record(project)
  # Held by another run, so main() stops before importing TFX.
  with recovery.RunLock(str(project / 'root')):
    code = cli.main([
        '--data_root', str(project / 'data'),
        '--pipeline_root', str(project / 'root'),
        '--module_file', str(project / 'code' / 'coco_captions_utils.py'),
        '--train_steps=5'])
  out, err = capsys.readouterr()
  assert 'Since run run-1: the settings changed.' in out
  assert code == 2 and 'another run' in err
  # The record survives a run that never started.
  assert os.path.exists(project / 'root' / up_to_date.RECORD_FILENAME)


def test_force_run_and_no_cache_skip_the_check(project, capsys):
  _record(project)
  for flag in ('--force_run', '--no_cache'):
    with recovery.RunLock(str(project / 'root')):
      code = cli.main([
          '--data_root', str(project / 'data'),
          '--pipeline_root', str(project / 'root'),
          '--module_file', str(project / 'code' / 'coco_captions_utils.py'),
          flag])
    out, err = capsys.readouterr()
    assert code == 2 and 'another run' in err, (flag, out, err)
    assert 'Nothing changed' not in out


def test_record_is_json_a_person_can_read(project):
  _record(project)
  with open(project / 'root' / up_to_date.RECORD_FILENAME) as f:
    recorded = json.load(f)
  assert set(recorded['fingerprint']) == {'settings', 'data', 'images',
                                          'code', 'environment'}
  assert recorded['run_id'] == 'run-1'
  assert recorded['metadata']['path'] == str(project / 'root' /
                                             'metadata.sqlite')


def test_links_to_nothing_and_fifos_in_the_images_root_are_fingerprinted(
    tmp_path):
  import os
  root = tmp_path / 'images'
  root.mkdir()
  (root / 'a.jpg').write_bytes(b'x')
  os.symlink(root / 'gone.jpg', root / 'dangling.jpg')
  os.mkfifo(root / 'pipe.jpg')
  first = up_to_date.directory_fingerprint(str(root))
  assert first and first == up_to_date.directory_fingerprint(str(root))
  os.remove(root / 'dangling.jpg')
  assert up_to_date.directory_fingerprint(str(root)) != first
