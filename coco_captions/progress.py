"""Progress of long work: a live line on a terminal, plain lines elsewhere.

`Reporter` shows how far one task is: how much is done (out of a total when
known), the rate, the time elapsed and, with a total, the time left. On a
terminal it is one live line drawn by tqdm; anywhere else (CI logs, Airflow
task logs, `> file`) it is a plain line every `interval` seconds or every
`step_percent` percent, with no carriage returns or escape codes.

Work reports its progress as events on the logger `LOGGER`: records with a
`progress` attribute (see `event`). The console (coco_captions.console)
installs a handler there that draws them; where no handler is installed
(Kubeflow pods, Airflow tasks, Beam worker processes), `count` writes plain
lines to stderr itself. The TFX module file (coco_captions_utils.py) sends the
Trainer's events to the same logger by name, since it cannot import this
package.
"""

import logging
import math
import sys
import threading
import time
from typing import Callable, Dict, IO, Optional, Tuple

from tqdm import tqdm

LOGGER = 'coco_captions.progress'

# Event kinds: new numbers for a task, a one-off line about it, its end.
UPDATE = 'update'
NOTE = 'note'
CLOSE = 'close'

# Plain output: a line at least this often, and at every this many percent.
INTERVAL_SECONDS = 10.0
STEP_PERCENT = 10


def event(kind: str, task: str, **values) -> dict:
  """A progress event: `kind`, `task` and any of `done` (a count), `total`,
  `unit`, `fields` (name -> text shown after the count), `rate` ((scale,
  unit): show done/s times scale in that unit, e.g. (64, 'examples') for
  steps of 64 examples) and `text` (a note's line)."""
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
    unit: what is counted ('step', 'images'); no unit and no counts
      reported means only the elapsed time is shown.
    live: one live line (tqdm) rather than plain lines; default: whether
      `out` is a terminal.
    clock: seconds, monotonic (a fake one in tests).
    rate: (scale, unit) to show the rate as scale * units/s in `unit`.
    leave: keep the live line when closed (else it is cleared); in plain
      output, write the final count if it is not the last line's.
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
    self._last_line = self._started
    self._last_bucket = 0
    self._printed = False
    self._printed_done: Optional[float] = None
    self.done: Optional[float] = None
    self.fields: Dict[str, str] = {}
    if live is None:
      live = _is_terminal(out)
    self._bar = tqdm(
        total=total, desc=name, unit=f' {unit}' if unit else '', file=out,
        leave=leave, dynamic_ncols=True, mininterval=0.2,
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

  def note(self, text: str):
    """A line of its own, above the live line."""
    if self._bar is not None:
      self._bar.write(f'{self.name}: {text}', file=self._out)
    else:
      self._out.write(f'{self.name}: {text}\n')
      self._out.flush()

  def close(self):
    now = self._clock()
    if self._bar is not None:
      self._draw(now, done=True)
      self._bar.close()
      self._bar = None
    elif self._leave and self._printed and self.done != self._printed_done:
      # The final count, where the last line had another.
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
    return f'{self.name}: {", ".join(parts) or "running"}'

  def _details(self, now: float, done: bool):
    """The fields, rate, elapsed and left times, as texts."""
    parts = [f'{k} {v}' for k, v in self.fields.items()]
    rate = left = None
    if self._since is not None and self.done is not None:
      rate, left = rate_and_seconds_left(self.done, self.total, self._since,
                                         now)
    if rate is not None:
      scale, unit = self._rate or (1, self.unit)
      parts.append(f'{rate * scale:,.1f} {unit}/s' if rate * scale < 10 else
                   f'{rate * scale:,.0f} {unit}/s')
    parts.append(f'{format_seconds(now - self._started)} elapsed')
    if left is not None and not done:
      parts.append(f'{format_seconds(left)} left')
    return parts

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
    self._printed_done = self.done
    self._out.write(self.line(now, done) + '\n')
    self._out.flush()

  def _draw(self, now: Optional[float] = None, done: bool = False):
    now = self._clock() if now is None else now
    if self.total:
      if self.done is not None:
        self._bar.n = self.done
      self._bar.set_postfix_str(', '.join(self._details(now, done)),
                                refresh=False)
    else:
      # Without a total there is no bar: the line is the plain one.
      self._bar.set_description_str(self.line(now, done), refresh=False)
    self._bar.refresh()


def _is_terminal(out: IO[str]) -> bool:
  try:
    return out.isatty()
  except (AttributeError, ValueError):
    return False


# --- Counting from inside Beam transforms --------------------------------------

# Counts of work done in this process, by (task, unit): Beam's in-memory
# DirectRunner runs every DoFn here, possibly on several threads.
_counts: Dict[Tuple[str, str], int] = {}
_sent: Dict[Tuple[str, str], float] = {}
_fallback: Dict[Tuple[str, str], Reporter] = {}
_lock = threading.Lock()
# The handler gets new counts at most this often.
_SEND_SECONDS = 0.25


def count(task: str, unit: str, n: int = 1):
  """Adds `n` units of work done to `task` in this process and reports the
  total: to the console's handler where one is installed, else as plain lines
  on stderr. Cheap enough for every element of a Beam transform."""
  key = (task, unit)
  now = time.monotonic()
  with _lock:
    done = _counts[key] = _counts.get(key, 0) + n
    if now - _sent.get(key, 0.0) < _SEND_SECONDS:
      return
    _sent[key] = now
  _report(key, done)


def finish(task: str):
  """Reports the final counts of `task` and ends its reports."""
  with _lock:
    keys = [key for key in _counts if key[0] == task]
    finals = [(key, _counts.pop(key)) for key in keys]
    for key in keys:
      _sent.pop(key, None)
  for key, done in finals:
    _report(key, done)
    if sink_installed():
      send(f'{key[0]}: done', event(CLOSE, key[0], unit=key[1]))
    else:
      reporter = _fallback.pop(key, None)
      if reporter:
        reporter.close()


def _report(key: Tuple[str, str], done: int):
  task, unit = key
  if sink_installed():
    send(f'{task}: {done:,} {unit}', event(UPDATE, task, done=done, unit=unit))
    return
  with _lock:
    reporter = _fallback.get(key)
    if reporter is None:
      reporter = _fallback[key] = Reporter(task, sys.stderr, unit=unit,
                                           live=False)
    reporter.update(done)
