"""Keeps the console readable while a pipeline runs.

TensorFlow, Beam and TFX write thousands of lines, some of them from C++ and
from child processes. `captured_output` sends everything written to the
process's stdout and stderr (file descriptors 1 and 2) to a log file and hands
back a stream to the real console; `ComponentProgress` turns TFX's own log
records into one line per component as it starts and finishes.
"""

import contextlib
import logging
import os
import sys
import time
from typing import IO, Iterator, Optional

# Messages that TFX's runners (LocalDagRunner, BeamDagRunner) and launcher log
# for every component.
_RUNNING = ('Component %s is running.', 'node %s is running.')
_FINISHED = ('Component %s is finished.', 'node %s is finished.')
_CACHED = 'A cached execution %d is used.'


@contextlib.contextmanager
def captured_output(log_path: Optional[str]) -> Iterator[IO[str]]:
  """Redirects fds 1 and 2 to `log_path`; yields a stream to the console.

  With `log_path` None nothing is redirected (verbose mode) and the stream is
  sys.stdout.
  """
  if log_path is None:
    yield sys.stdout
    return
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  console = os.fdopen(os.dup(1), 'w', buffering=1)
  saved = os.dup(1), os.dup(2)
  with open(log_path, 'ab', buffering=0) as log:
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
      yield console
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      os.dup2(saved[0], 1)
      os.dup2(saved[1], 2)
      for fd in saved:
        os.close(fd)
      console.close()


class ComponentProgress(logging.Handler):
  """Prints '[i/n] Component ...' when each component starts and finishes."""

  def __init__(self, out: IO[str], total: int):
    super().__init__(level=logging.INFO)
    self._out = out
    self._total = total
    self._index = 0
    self._started = 0.0
    self._cached = False
    self.current: Optional[str] = None

  def _line(self, text: str):
    self._out.write(f'[{self._index}/{self._total}] {text}\n')
    self._out.flush()

  def emit(self, record: logging.LogRecord):
    if record.msg in _RUNNING:
      self._index += 1
      self.current = str(record.args[0])
      self._started = time.monotonic()
      self._cached = False
      self._line(f'{self.current} started')
    elif record.msg == _CACHED:
      self._cached = True
    elif record.msg in _FINISHED:
      seconds = time.monotonic() - self._started
      how = 'reused from cache' if self._cached else 'finished'
      self._line(f'{record.args[0]} {how} in {seconds:.1f} s')
      self.current = None


@contextlib.contextmanager
def component_progress(out: IO[str], total: int) -> Iterator[ComponentProgress]:
  """Installs a `ComponentProgress` on the loggers TFX logs through."""
  from absl import logging as absl_logging
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  handler = ComponentProgress(out, total)
  logger = logging.getLogger('absl')
  logger.addHandler(handler)
  try:
    yield handler
  finally:
    logger.removeHandler(handler)
    # Back to quiet: what runs after the pipeline (the summary) writes to the
    # console again.
    absl_logging.set_verbosity(verbosity)
