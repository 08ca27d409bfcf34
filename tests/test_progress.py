"""The progress reporter, the console's drawing of progress events, and the
counts reported from inside Beam transforms."""

import io
import logging

import pytest

from coco_captions.run import console, progress


class FakeClock:

  def __init__(self, now=0.0):
    self.now = now

  def __call__(self):
    return self.now


def test_rate_and_time_left_are_measured_from_the_first_report():
  # 20 steps in the 10 s since the first report (step 5 at t=10): 2 steps/s,
  # and 80 steps left take 40 s.
  assert progress.rate_and_seconds_left(25, 105, (10.0, 5), 20.0) == (2.0,
                                                                       40.0)
  assert progress.rate_and_seconds_left(25, None, (10.0, 5), 20.0) == (2.0,
                                                                       None)
  # Nothing measured yet.
  assert progress.rate_and_seconds_left(5, 105, (10.0, 5), 20.0) == (None,
                                                                     None)
  assert progress.rate_and_seconds_left(5, 105, (10.0, 1), 10.0) == (None,
                                                                     None)


def test_seconds_read_as_a_clock():
  assert progress.format_seconds(0) == '0:00'
  assert progress.format_seconds(113.75) == '1:54'
  assert progress.format_seconds(3723) == '1:02:03'


def test_plain_lines_every_few_percent_or_seconds_on_a_fake_clock():
  clock, out = FakeClock(), io.StringIO()
  reporter = progress.Reporter('Training', out, total=100, unit='steps',
                               live=False, clock=clock,
                               rate=(64, 'examples'), interval=10,
                               step_percent=10)
  clock.now = 1
  reporter.update(1, epoch='1/10', loss='3.0000')
  clock.now = 3
  reporter.update(5, loss='2.9000')
  assert out.getvalue() == ''  # Neither 10 s nor 10 % yet.
  clock.now = 11
  # 10 s since the start: (9 - 1) steps in (11 - 1) s, 0.8 steps/s, 51.2
  # examples/s; 91 steps left take 113.75 s.
  reporter.update(9, loss='2.8000')
  clock.now = 12
  # 10 %: 9 steps in 11 s, 52.4 examples/s; 90 steps left take 110 s.
  reporter.update(10, loss='2.7000')
  clock.now = 13
  reporter.update(11)  # Neither again.
  clock.now = 20
  reporter.close()
  assert out.getvalue().splitlines() == [
      'Training: 9/100 steps (9%), epoch 1/10, loss 2.8000, 51 examples/s, '
      '0:11 elapsed, 1:54 left',
      'Training: 10/100 steps (10%), epoch 1/10, loss 2.7000, 52 examples/s, '
      '0:12 elapsed, 1:50 left',
      # The final count, which no line had: 10 steps in 19 s.
      'Training: 11/100 steps (11%), epoch 1/10, loss 2.7000, 34 examples/s, '
      '0:20 elapsed',
  ]
  assert '\r' not in out.getvalue() and '\x1b' not in out.getvalue()


def test_the_rate_stops_when_the_count_reaches_the_total():
  # Work after the last step (the Trainer's final evaluation) adds to the
  # elapsed time, not to the time the steps took.
  clock, out = FakeClock(), io.StringIO()
  reporter = progress.Reporter('Training', out, total=10, unit='steps',
                               live=False, clock=clock, rate=(64, 'examples'),
                               interval=10, step_percent=50)
  reporter.update(0)
  clock.now = 5
  reporter.update(10)  # 10 steps in 5 s: 2 steps/s, 128 examples/s.
  clock.now = 30
  reporter.tick()  # 25 s later, still 128 examples/s.
  reporter.close()
  assert out.getvalue().splitlines() == [
      'Training: 10/10 steps (100%), 128 examples/s, 0:05 elapsed, 0:00 left',
      'Training: 10/10 steps (100%), 128 examples/s, 0:30 elapsed, 0:00 left',
  ]


def test_plain_counts_without_a_total_and_elapsed_time_alone():
  clock, out = FakeClock(), io.StringIO()
  counted = progress.Reporter('Grouping', out, unit='images', live=False,
                              clock=clock, interval=10)
  elapsed = progress.Reporter('Transform', out, live=False, clock=clock,
                              interval=10, leave=False)
  counted.update(0)
  clock.now = 4
  counted.update(8)  # 2 images/s: shown with a decimal below 10.
  elapsed.tick()
  clock.now = 10
  counted.tick()
  elapsed.tick()
  counted.close()
  elapsed.close()
  # No final line: the last one had the final count.
  assert out.getvalue().splitlines() == [
      'Grouping: 8 images, 0.8 images/s, 0:10 elapsed',
      'Transform: 0:10 elapsed',
  ]


class Terminal(io.StringIO):

  def isatty(self):
    return True


def test_a_terminal_gets_one_live_line_redrawn_in_place():
  clock, out = FakeClock(), Terminal()
  reporter = progress.Reporter('Training', out, total=100, unit='steps',
                               clock=clock)
  clock.now = 1
  reporter.update(1)
  clock.now = 11
  reporter.update(41)
  # tqdm redraws the line in place after a carriage return, 80 columns wide
  # where the terminal does not say.
  drawn = out.getvalue().split('\r')[-1]
  assert drawn.startswith('Training:  41%|') and len(drawn) == 80
  # 0:11 elapsed; 40 steps in 10 s: 4 steps/s; 59 steps left take 14.75 s.
  assert drawn.endswith('| 41/100 steps, 0:11<0:15, 4.0 steps/s')
  reporter.close()
  text = out.getvalue()
  # The last drawing is kept, without the time left.
  assert text.endswith('| 41/100 steps, 0:11, 4.0 steps/s\n')


def test_a_live_elapsed_line_is_cleared_when_closed():
  clock, out = FakeClock(), Terminal()
  reporter = progress.Reporter('Transform', out, clock=clock, leave=False)
  clock.now = 75
  reporter.tick()
  assert out.getvalue().endswith('\rTransform: 1:15 elapsed')
  reporter.close()
  assert not out.getvalue().rstrip('\r').endswith('elapsed')


def _record(msg, *args, **extra):
  record = logging.LogRecord('absl', logging.INFO, __file__, 0, msg, args,
                             None)
  record.__dict__.update(extra)
  return record


def test_console_draws_the_running_component_and_its_work():
  clock, out = FakeClock(), io.StringIO()
  handler = console.ComponentProgress(out, 2, live=False, clock=clock)
  handler.emit(_record('Component %s is running.', 'Transform'))
  clock.now = 10
  handler.tick()  # Only the elapsed time is known.
  handler.emit(_record('Component %s is finished.', 'Transform'))
  handler.emit(_record('Component %s is running.', 'Trainer'))
  clock.now = 11
  handler.emit(_record('', progress=progress.event(
      progress.UPDATE, 'Training', done=10, total=20, unit='steps',
      rate=(2, 'examples'), fields={'loss': '1.0000'})))
  clock.now = 21
  handler.tick()  # The work's own line replaces the elapsed time.
  handler.emit(_record('', progress=progress.event(
      progress.UPDATE, 'Training', done=20, total=20, unit='steps',
      fields={'loss': '0.5000'})))
  handler.emit(_record('', progress=progress.event(
      progress.CLOSE, 'Training', unit='steps')))
  handler.emit(_record('Component %s is finished.', 'Trainer'))
  lines = out.getvalue().splitlines()
  assert lines[:2] == ['[1/2] Transform started', 'Transform: 0:10 elapsed']
  assert lines[2].startswith('[1/2] Transform finished in')
  assert lines[3:7] == [
      '[2/2] Trainer started',
      # The first report is at 50 %; nothing measured yet.
      'Training: 10/20 steps (50%), loss 1.0000, 0:00 elapsed',
      # 10 s later, no new count.
      'Training: 10/20 steps (50%), loss 1.0000, 0:10 elapsed',
      # 10 steps in the 10 s from t=11 to t=21: 1 step/s, 2 examples/s.
      'Training: 20/20 steps (100%), loss 0.5000, 2.0 examples/s, 0:10 '
      'elapsed, 0:00 left',
  ]
  # No final line: the last one had the final count.
  assert lines[7].startswith('[2/2] Trainer finished in')
  assert len(lines) == 8


def test_counts_reach_an_installed_console_and_end_with_the_totals(
    collected):
  for _ in range(250):
    progress.count('Grouping', 'caption rows', 'train')
  progress.count('Grouping', 'images', 'train', n=50)
  progress.count('Grouping', 'caption rows', 'eval')
  progress.finish('Grouping')
  # Counts go out at every 100 units, at most every 0.25 s (so the 200th
  # row's is not sent), and the totals when the work ends, on one line.
  assert collected == [
      progress.event(progress.UPDATE, 'Grouping',
                     fields={'train': '100 caption rows'}),
      progress.event(progress.UPDATE, 'Grouping', fields={
          'train': '250 caption rows and 50 images',
          'eval': '1 caption rows'}),
      progress.event(progress.CLOSE, 'Grouping')]
  progress.finish('Grouping')  # Nothing more to report.
  assert len(collected) == 3


def test_counts_without_a_console_are_plain_lines_on_stderr(capsys,
                                                          monkeypatch):
  assert not progress.sink_installed()
  monkeypatch.setattr(progress, 'INTERVAL_SECONDS', 0)  # A line each report.
  for _ in range(130):
    progress.count('Grouping', 'caption rows', 'eval')
  progress.finish('Grouping')
  lines = capsys.readouterr().err.splitlines(keepends=True)
  # The first hundred, then the total.
  assert [line.split(', ')[0] for line in lines] == [
      'Grouping: eval 100 caption rows', 'Grouping: eval 130 caption rows']
  assert all(line.endswith(' elapsed\n') and '\r' not in line
             for line in lines)


def test_component_progress_installs_the_console_for_the_run_only():
  out = io.StringIO()
  logger = logging.getLogger(progress.LOGGER)
  before = logger.level, logger.propagate
  with console.component_progress(out, 1) as handler:
    assert progress.sink_installed()
    # Events are drawn on the console, not passed on to the log.
    assert logger.propagate is False
    progress.send('Training: 3', progress.event(
        progress.UPDATE, 'Training', done=3, total=3, unit='steps'))
    assert ('Training', 'steps') in handler.reporters
  assert not progress.sink_installed()
  assert (logger.level, logger.propagate) == before
  # Not a terminal: the step to 100 % is a plain line.
  assert out.getvalue().startswith('Training: 3/3 steps (100%), ')
