"""Progress of long work: a live line on a terminal, plain lines elsewhere.

`Reporter` shows how far one task is: how much is done (out of a total when
known), the rate, the time elapsed and, with a total, the time left. On a
terminal it is one live line drawn by tqdm; anywhere else (CI logs, Airflow
task logs, `> file`) it is a plain line every `interval` seconds or every
`step_percent` percent, with no carriage returns or escape codes.

Work reports its progress as events on the logger `LOGGER`: records with a
`progress` attribute (see `event`). The console (coco_captions.run.console)
installs a handler there that draws them; where no handler is installed,
`count` writes plain lines to stderr itself. The Trainer sends its events
through `coco_captions.run.training_progress`.

Pipeline components import no console code: they count their work as
DEBUG records on the logger `COUNTS_LOGGER`, each with a `progress_count`
attribute, (task, unit, part, n) or (task,) when the work has ended. This
module listens there, in any process that imports it (the local runner's),
and adds them up with `count` and `finish`; in processes that never import
it (Kubeflow pods, Airflow tasks, Beam worker processes) the records are
below the log's level and cost next to nothing, and GroupCaptionsByImage
logs its totals when it ends.
"""

import io
import logging
import math
import os
import sys
import threading
import time
from typing import Callable, Dict, IO, Optional, Tuple

from tqdm import tqdm

LOGGER = 'coco_captions.run.progress'
COUNTS_LOGGER = LOGGER + '.counts'

# Event kinds: new numbers for a task, its end.
UPDATE = 'update'
CLOSE = 'close'

# Plain output: a line at least this often, and at every this many percent.
INTERVAL_SECONDS = 10.0
STEP_PERCENT = 10


def event(kind: str, task: str, **values) -> dict:
  """A progress event: `kind`, `task` and any of `done` (a count), `total`,
  `unit`, `fields` (name -> text shown after the count), `rate` ((scale,
  unit): show done/s times scale in that unit, e.g. (64, 'examples') for
  steps of 64 examples)."""
  return dict(kind=kind, task=task, **values)


def sink_installed() -> bool:
  """Whether a handler (the console's) draws the events sent to LOGGER."""
  return bool(logging.getLogger(LOGGER).handlers)


def send(message: str, progress_event: dict):
  """Sends `progress_event` to the handler on LOGGER; `message` is its text
  for any other handler."""
  logging.getLogger(LOGGER).info(message, extra={'progress': progress_event})


def format_seconds(seconds: float) -> str:
  """'0:42', '12:03', '1:02:03'."""
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  if hours:
    return f'{hours}:{minutes:02d}:{seconds:02d}'
  return f'{minutes}:{seconds:02d}'


def rate_and_seconds_left(
    done: float, total: Optional[float], since: Tuple[float, float],
    now: float) -> Tuple[Optional[float], Optional[float]]:
  """(units a second, seconds left) at `done` of `total` at time `now`.

  The rate is measured from `since`, (time, done) at the first report, so
  that start-up work before it (imports, tracing a graph) does not count;
  seconds left are what remains at that rate. None where unknown.
  """
  started, done_then = since
  elapsed = now - started
  if elapsed <= 0 or done <= done_then:
    return None, None
  rate = (done - done_then) / elapsed
  left = (total - done) / rate if total is not None else None
  return rate, left


class Reporter:
  """Shows one task's progress on `out`.

  Args:
    name: what is being done, first on the line ('Training').
    out: the stream to write to.
    total: how many units the task has, if known.
    unit: what is counted ('steps', 'images'); with no count reported,
      only the elapsed time (and any fields) is shown.
    live: one live line (tqdm) rather than plain lines; default: whether
      `out` is a terminal.
    clock: seconds, monotonic (a fake one in tests).
    rate: (scale, unit) to show the rate as scale * units/s in `unit`.
    interval, step_percent: plain output has a line at least every
      `interval` seconds (default INTERVAL_SECONDS) and at every
      `step_percent` percent of the total.
    leave: keep the live line when closed (else it is cleared); in plain
      output, write the final counts if they are not the last line's.
  """

  def __init__(self, name: str, out: IO[str], total: Optional[int] = None,
               unit: str = '', live: Optional[bool] = None,
               clock: Callable[[], float] = time.monotonic,
               rate: Optional[Tuple[float, str]] = None,
               interval: Optional[float] = None,
               step_percent: float = STEP_PERCENT, leave: bool = True):
    self.name = name
    self.total = total
    self.unit = unit
    self._out = out
    self._clock = clock
    self._rate = rate
    self._interval = INTERVAL_SECONDS if interval is None else interval
    self._step_percent = step_percent
    self._leave = leave
    self._started = clock()
    self._since: Optional[Tuple[float, float]] = None
    # When the count reached the total: the rate stops there, while work
    # after it (the Trainer's last evaluation) still adds to the elapsed time.
    self._completed: Optional[float] = None
    self._last_line = self._started
    self._last_bucket = 0
    self._printed = False
    self._printed_state = None
    self.done: Optional[float] = None
    self.fields: Dict[str, str] = {}
    if live is None:
      live = _is_terminal(out)
    # A terminal that reports no width (a bare pty) gets 80 columns.
    width = _width(out) if live else 0
    self._bar = tqdm(
        total=total, desc=name, unit=f' {unit}' if unit else '', file=out,
        leave=leave, dynamic_ncols=width > 0, ncols=None if width else 80,
        mininterval=0.2,
        bar_format=(
            '{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit}'
            '{postfix}' if total else '{desc}')) if live else None
    if self._bar is not None:
      self._draw()

  def update(self, done: Optional[float] = None, **fields: str):
    """Sets the count (absolute, not an increment) and the fields shown."""
    now = self._clock()
    if done is not None:
      if self._since is None:
        self._since = (now, done)
      self.done = done
      if self.total and done >= self.total and self._completed is None:
        self._completed = now
    self.fields.update(fields)
    if self._bar is not None:
      self._draw(now)
    elif self._due(now):
      self._write_line(now)

  def tick(self):
    """Shows the time elapsed even when no count came in."""
    now = self._clock()
    if self._bar is not None:
      self._draw(now)
    elif now - self._last_line >= self._interval:
      self._write_line(now)

  def close(self):
    """Ends the task's line (see `leave`)."""
    now = self._clock()
    if self._bar is not None:
      self._draw(now, done=True)
      self._bar.close()
      self._bar = None
    elif self._leave and self._printed and self._state() != self._printed_state:
      # The final counts, where the last line had others.
      self._write_line(now, done=True)

  def line(self, now: Optional[float] = None, done: bool = False) -> str:
    """The plain text of the current state."""
    now = self._clock() if now is None else now
    parts = []
    if self.done is not None:
      count = f'{self.done:,.0f}'
      if self.total:
        count += f'/{self.total:,} {self.unit}'.rstrip()
        count += f' ({100 * self.done / self.total:.0f}%)'
      else:
        count = f'{count} {self.unit}'.rstrip()
      parts.append(count)
    parts.extend(self._details(now, done))
    return f'{self.name}: {", ".join(parts)}'

  def _details(self, now: float, done: bool, compact: bool = False):
    """The fields, rate, elapsed and left times, as texts; `compact` (the
    live line) puts the times first, as '0:42<1:10'."""
    rate = left = None
    if self._since is not None and self.done is not None:
      rate, left = rate_and_seconds_left(
          self.done, self.total, self._since,
          now if self._completed is None else self._completed)
    if done:
      left = None
    elapsed = format_seconds(now - self._started)
    rates = []
    if rate is not None:
      scale, unit = self._rate or (1, self.unit)
      rates.append(f'{rate * scale:,.1f} {unit}/s' if rate * scale < 10 else
                   f'{rate * scale:,.0f} {unit}/s')
    fields = [f'{k} {v}' for k, v in self.fields.items()]
    if compact:
      times = elapsed if left is None else f'{elapsed}<{format_seconds(left)}'
      return [times] + rates + fields
    times = [f'{elapsed} elapsed']
    if left is not None:
      times.append(f'{format_seconds(left)} left')
    return fields + rates + times

  def _state(self):
    return self.done, dict(self.fields)

  def _due(self, now: float) -> bool:
    if self.total and self.done is not None:
      bucket = math.floor(100 * self.done / self.total / self._step_percent)
      if bucket > self._last_bucket:
        return True
    return now - self._last_line >= self._interval

  def _write_line(self, now: float, done: bool = False):
    if self.total and self.done is not None:
      self._last_bucket = math.floor(
          100 * self.done / self.total / self._step_percent)
    self._last_line = now
    self._printed = True
    self._printed_state = self._state()
    self._out.write(self.line(now, done) + '\n')
    self._out.flush()

  def _draw(self, now: Optional[float] = None, done: bool = False):
    now = self._clock() if now is None else now
    if self.total:
      if self.done is not None:
        self._bar.n = self.done
      self._bar.set_postfix_str(
          ', '.join(self._details(now, done, compact=True)), refresh=False)
    else:
      # Without a total there is no bar: the line is the plain one.
      self._bar.set_description_str(self.line(now, done), refresh=False)
    self._bar.refresh()


def _width(out: IO[str]) -> int:
  try:
    return os.get_terminal_size(out.fileno()).columns
  except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
    return 0


def _is_terminal(out: IO[str]) -> bool:
  try:
    return out.isatty()
  except (AttributeError, ValueError):
    return False


# --- Counting from inside Beam transforms --------------------------------------

# Counts of work done in this process: task -> part -> unit -> count. Beam's
# in-memory DirectRunner runs every DoFn here, possibly on several threads.
_counts: Dict[str, Dict[str, Dict[str, int]]] = {}
_sent: Dict[str, float] = {}
_fallback: Dict[str, Reporter] = {}
_lock = threading.Lock()
# The handler gets new counts at most this often.
_SEND_SECONDS = 0.25
_COUNT_STEP = 100


def count(task: str, unit: str, part: str = '', n: int = 1):
  """Adds `n` units of work done to `part` of `task` in this process and
  reports the counts of the task (one line, 'train 1,210 caption rows and 242
  images, eval ...'): to the console's handler where one is installed, else
  as plain lines on stderr. Cheap enough for every element of a Beam
  transform."""
  with _lock:
    units = _counts.setdefault(task, {}).setdefault(part, {})
    done = units[unit] = units.get(unit, 0) + n
    # The clock is read at every _COUNT_STEP units only.
    if done // _COUNT_STEP == (done - n) // _COUNT_STEP:
      return
    now = time.monotonic()
    if now - _sent.get(task, 0.0) < _SEND_SECONDS:
      return
    _sent[task] = now
    fields = _fields(_counts[task])
  _report(task, fields)


def finish(task: str):
  """Reports the final counts of `task` and ends its reports."""
  with _lock:
    counts = _counts.pop(task, None)
    _sent.pop(task, None)
  if counts is None:
    return
  _report(task, _fields(counts))
  if sink_installed():
    send(f'{task}: done', event(CLOSE, task))
  else:
    with _lock:
      reporter = _fallback.pop(task, None)
    if reporter:
      reporter.close()


def _fields(counts: Dict[str, Dict[str, int]]) -> Dict[str, str]:
  return {part: ' and '.join(f'{n:,} {unit}' for unit, n in units.items())
          for part, units in counts.items()}


def _report(task: str, fields: Dict[str, str]):
  if sink_installed():
    send(f'{task}: ' + ', '.join(f'{k} {v}' for k, v in fields.items()),
         event(UPDATE, task, fields=fields))
    return
  with _lock:
    reporter = _fallback.get(task)
    if reporter is None:
      reporter = _fallback[task] = Reporter(task, sys.stderr, live=False)
    reporter.update(**fields)


class _Counts(logging.Handler):
  """Adds up the `progress_count` records sent to COUNTS_LOGGER."""

  def emit(self, record: logging.LogRecord):
    counted = getattr(record, 'progress_count', None)
    if not counted:
      return
    if len(counted) == 1:
      finish(*counted)
    else:
      count(*counted)


def _listen_to_counts():
  logger = logging.getLogger(COUNTS_LOGGER)
  if not any(isinstance(h, _Counts) for h in logger.handlers):
    logger.addHandler(_Counts())
  logger.setLevel(logging.DEBUG)
  # Counted here only: never a log line per element.
  logger.propagate = False


_listen_to_counts()
