"""Run lock, live runs and recovery of interrupted executions (no pipeline run)."""

import os
import subprocess
import sys
import time

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
import pytest

from coco_captions.run import recovery

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNING = metadata_store_pb2.Execution.RUNNING
COMPLETE = metadata_store_pb2.Execution.COMPLETE
CANCELED = metadata_store_pb2.Execution.CANCELED

# Waits for a 'go' file, tries the lock, reports, holds it until 'done'.
_CONTENDER = '''
import os, sys, time
from coco_captions.run import recovery
root, signals, name = sys.argv[1:]
open(os.path.join(signals, name + '.ready'), 'w').close()
while not os.path.exists(os.path.join(signals, 'go')):
  time.sleep(0.001)
try:
  with recovery.RunLock(root):
    print('got', flush=True)
    while not os.path.exists(os.path.join(signals, 'done')):
      time.sleep(0.01)
except recovery.RunInProgressError:
  print('busy', flush=True)
'''


def test_of_many_processes_started_at_once_exactly_one_holds_the_lock(
    tmp_path):
  for trial in range(2):
    root, signals = tmp_path / f'root{trial}', tmp_path / f'signals{trial}'
    signals.mkdir()
    contenders = [subprocess.Popen(
        [sys.executable, '-c', _CONTENDER, str(root), str(signals), str(i)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True) for i in range(12)]
    deadline = time.monotonic() + 120
    while len(list(signals.glob('*.ready'))) < len(contenders):
      assert time.monotonic() < deadline
      time.sleep(0.05)
    (signals / 'go').touch()
    answers = [p.stdout.readline().strip() for p in contenders]
    (signals / 'done').touch()
    for p in contenders:
      p.wait(timeout=60)
    assert sorted(answers) == ['busy'] * 11 + ['got'], (trial, answers)
    assert not (root / '.run.lock').exists()


def test_a_second_run_on_the_same_root_is_refused(tmp_path):
  root = str(tmp_path / 'root')
  with recovery.RunLock(root):
    with pytest.raises(recovery.RunInProgressError,
                       match=f'another run \\(pid {os.getpid()}\\) is using'):
      with recovery.RunLock(root):
        pass
  assert not os.path.exists(os.path.join(root, '.run.lock'))
  with recovery.RunLock(root):  # Free again.
    pass


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path):
  dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                        capture_output=True, text=True).stdout.strip()
  (tmp_path / '.run.lock').write_text(dead)
  with recovery.RunLock(str(tmp_path)) as lock:
    assert open(lock.path).read() == str(os.getpid())


def test_a_lock_held_by_a_killed_process_is_free(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time\n'
       'from coco_captions.run import recovery\n'
       'with recovery.RunLock(sys.argv[1]):\n'
       '  print("held", flush=True); time.sleep(600)\n', str(tmp_path)],
      cwd=ROOT, stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'held'
  with pytest.raises(recovery.RunInProgressError,
                     match=f'pid {holder.pid}'):
    with recovery.RunLock(str(tmp_path)):
      pass
  holder.kill()
  holder.wait()
  with recovery.RunLock(str(tmp_path)):
    pass


def _store(path):
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = str(path)
  config.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
  return metadata_store.MetadataStore(config)


def _context(store, type_name, name):
  type_id = store.put_context_type(metadata_store_pb2.ContextType(
      name=type_name), can_add_fields=True)
  (context_id,) = store.put_contexts([metadata_store_pb2.Context(
      type_id=type_id, name=name)])
  return context_id


def _execution(store, state, contexts):
  type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(
      name='Transform'))
  execution = metadata_store_pb2.Execution(type_id=type_id,
                                           last_known_state=state)
  execution_id, _, _ = store.put_execution(
      execution, [], store.get_contexts_by_id(contexts))
  return execution_id


@pytest.fixture
def shared_store(tmp_path):
  """Two runs of pipeline 'p' (from two pipeline roots) on one store, each
  with a RUNNING execution, and a third run's finished one."""
  path = tmp_path / 'mlmd.sqlite'
  store = _store(path)
  pipeline = _context(store, 'pipeline', 'p')
  ids = {}
  for run, node, state in (('run-live', 'Transform', RUNNING),
                           ('run-dead', 'Trainer', RUNNING),
                           ('run-done', 'Pusher', COMPLETE)):
    contexts = [pipeline, _context(store, 'pipeline_run', run),
                _context(store, 'node', f'p.{node}')]
    ids[run] = _execution(store, state, contexts)
  return str(path), ids


def _states(path):
  return {e.id: e.last_known_state for e in _store(path).get_executions()}


def test_only_executions_of_dead_runs_are_canceled(shared_store):
  path, ids = shared_store
  with recovery.LiveRun(path, 'run-live'):
    assert recovery.is_live(path, 'run-live')
    assert not recovery.is_live(path, 'run-dead')
    assert recovery.cancel_interrupted_executions(path, 'p') == [
        ('Trainer', ids['run-dead'])]
  assert _states(path) == {ids['run-live']: RUNNING,
                           ids['run-dead']: CANCELED,
                           ids['run-done']: COMPLETE}
  # Once its run is gone, the live run's execution is stale too.
  assert recovery.cancel_interrupted_executions(path, 'p') == [
      ('Transform', ids['run-live'])]


def test_a_live_run_in_another_process_is_never_canceled(shared_store):
  path, ids = shared_store
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time\n'
       'from coco_captions.run import recovery\n'
       'with recovery.LiveRun(sys.argv[1], "run-live"):\n'
       '  print("live", flush=True); time.sleep(600)\n', path],
      cwd=ROOT, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'live'
    assert [i for _, i in recovery.cancel_interrupted_executions(path, 'p')] == [
        ids['run-dead']]
  finally:
    holder.kill()
    holder.wait()
  # A killed run is dead: its file is left, its lock is not.
  assert not recovery.is_live(path, 'run-live')


def test_other_pipelines_and_missing_stores_are_left_alone(shared_store,
                                                           tmp_path):
  path, _ = shared_store
  assert recovery.cancel_interrupted_executions(path, 'other') == []
  assert recovery.cancel_interrupted_executions(
      str(tmp_path / 'none.sqlite'), 'p') == []
