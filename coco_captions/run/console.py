"""Keeps the console readable while a pipeline runs.

TensorFlow, Beam and TFX write thousands of lines, some of them from C++ and
from child processes. `captured_output` sends everything written to the
process's stdout and stderr (file descriptors 1 and 2) to a log file and hands
back a stream to the real console; `ComponentProgress` turns TFX's own log
records into one line per component as it starts and finishes, keeps a line
with the elapsed time of each running component, and draws the progress
events that work in this process sends (coco_captions.run.progress): on a
terminal as live lines, elsewhere as plain lines every few seconds.
"""

import contextlib
import logging
import os
import sys
import threading
import time
from typing import IO, Dict, Iterator, Optional, Tuple

from coco_captions.run import progress as progress_lib

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
  """Prints '[i/n] Component ...' when each component starts and finishes,
  and draws the progress of the running one (see the module docstring)."""

  def __init__(self, out: IO[str], total: int, live: Optional[bool] = None,
               clock=time.monotonic):
    super().__init__(level=logging.INFO)
    self._out = out
    self._total = total
    self._index = 0
    self._started = 0.0
    self._cached = False
    self._live = live
    self._clock = clock
    self.current: Optional[str] = None
    # The running component's elapsed-time line, until its work reports
    # progress of its own.
    self._elapsed: Optional[progress_lib.Reporter] = None
    # Progress of the running component's work, by (task, unit).
    self.reporters: Dict[Tuple[str, str], progress_lib.Reporter] = {}

  def _line(self, text: str):
    self._out.write(f'[{self._index}/{self._total}] {text}\n')
    self._out.flush()

  def emit(self, record: logging.LogRecord):
    event = getattr(record, 'progress', None)
    if event is not None:
      self._progress(event)
    elif record.msg in _RUNNING:
      self.close_reporters()
      self._index += 1
      self.current = str(record.args[0])
      self._started = time.monotonic()
      self._cached = False
      self._line(f'{self.current} started')
      self._elapsed = progress_lib.Reporter(
          self.current, self._out, live=self._live, clock=self._clock,
          leave=False)
    elif record.msg == _CACHED:
      self._cached = True
    elif record.msg in _FINISHED:
      self.close_reporters()
      seconds = time.monotonic() - self._started
      how = 'reused from cache' if self._cached else 'finished'
      self._line(f'{record.args[0]} {how} in {seconds:.1f} s')
      self.current = None

  def _progress(self, event: dict):
    key = (event['task'], event.get('unit', ''))
    reporter = self.reporters.get(key)
    if event['kind'] == progress_lib.CLOSE:
      if reporter:
        reporter.close()
        del self.reporters[key]
      return
    if reporter is None:
      if self._elapsed is not None:
        self._elapsed.close()
        self._elapsed = None
      reporter = self.reporters[key] = progress_lib.Reporter(
          event['task'], self._out, total=event.get('total'),
          unit=event.get('unit', ''), live=self._live, clock=self._clock,
          rate=event.get('rate'))
    reporter.update(event.get('done'), **event.get('fields', {}))

  def tick(self):
    """Brings the elapsed times up to date (called every second)."""
    self.acquire()
    try:
      for reporter in [self._elapsed, *self.reporters.values()]:
        if reporter is not None:
          reporter.tick()
    finally:
      self.release()

  def close_reporters(self):
    """Ends every progress line: a component ended, or the run."""
    for reporter in [self._elapsed, *self.reporters.values()]:
      if reporter is not None:
        reporter.close()
    self._elapsed = None
    self.reporters.clear()


@contextlib.contextmanager
def component_progress(out: IO[str], total: int) -> Iterator[ComponentProgress]:
  """Installs a `ComponentProgress` on the loggers TFX logs through and on
  the progress logger (coco_captions.run.progress.LOGGER), and ticks it."""
  from absl import logging as absl_logging
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  # Live lines only when the logs are not on the console too (--verbose).
  handler = ComponentProgress(out, total,
                              live=None if out is not sys.stdout else False)
  logger = logging.getLogger('absl')
  logger.addHandler(handler)
  progress_logger = logging.getLogger(progress_lib.LOGGER)
  saved = progress_logger.level, progress_logger.propagate
  progress_logger.addHandler(handler)
  progress_logger.setLevel(logging.INFO)
  # Events come several times a second; the log has the work's own lines.
  progress_logger.propagate = False
  stop = threading.Event()
  ticker = threading.Thread(target=_tick, args=(handler, stop), daemon=True)
  ticker.start()
  try:
    yield handler
  finally:
    stop.set()
    ticker.join()
    handler.acquire()
    try:
      handler.close_reporters()
    finally:
      handler.release()
    progress_logger.removeHandler(handler)
    progress_logger.setLevel(saved[0])
    progress_logger.propagate = saved[1]
    logger.removeHandler(handler)
    # Back to quiet: what runs after the pipeline (the summary) writes to the
    # console again.
    absl_logging.set_verbosity(verbosity)


def _tick(handler: ComponentProgress, stop: threading.Event):
  while not stop.wait(1.0):
    handler.tick()
