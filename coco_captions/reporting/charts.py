"""Inline SVG charts for the run report: a line chart and a grouped histogram.

Built with ElementTree, which escapes every label and title it writes.
"""

import math
import xml.etree.ElementTree as ET
from typing import Dict, List, Tuple

_SERIES_COLOURS = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728')
_MARGIN = {'left': 56, 'right': 16, 'top': 16, 'bottom': 44}


def nice_ticks(top: float, count: int = 5) -> List[float]:
  """Round tick values from 0 to at least `top`."""
  if top <= 0:
    return [0.0, 1.0]
  raw = top / count
  magnitude = 10 ** math.floor(math.log10(raw))
  step = next(m * magnitude for m in (1, 2, 2.5, 5, 10)
              if m * magnitude >= raw)
  return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _fmt(value: float) -> str:
  return f'{value:.4g}'


def _element(parent: ET.Element, tag: str, text: str = None,
             **attributes) -> ET.Element:
  element = ET.SubElement(parent, tag, {
      k.rstrip('_').replace('_', '-'): (f'{v:.1f}' if isinstance(v, float)
                                        else str(v))
      for k, v in attributes.items()})
  if text is not None:
    element.text = text
  return element


def _svg(width: int, height: int, title: str) -> ET.Element:
  svg = ET.Element('svg', {'class': 'chart', 'role': 'img',
                           'width': str(width), 'height': str(height),
                           'viewBox': f'0 0 {width} {height}'})
  _element(svg, 'title', title)
  return svg


def _legend(svg: ET.Element, names, width: int):
  right, top = _MARGIN['right'], _MARGIN['top']
  for i, name in enumerate(names):
    colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
    _element(svg, 'rect', x=width - right - 110, y=top + 4 + 18 * i,
             width=12, height=12, fill=colour)
    _element(svg, 'text', name, x=width - right - 92, y=top + 14 + 18 * i)


def svg_line_chart(series: Dict[str, List[Tuple[float, float]]],
                   x_label: str, y_label: str, width: int = 560,
                   height: int = 300) -> str:
  """An inline SVG line chart of named (x, y) series, with axes and legend."""
  points = [p for values in series.values() for p in values]
  if not points:
    raise ValueError('nothing to plot')
  left, right, top, bottom = (_MARGIN[k] for k in
                              ('left', 'right', 'top', 'bottom'))
  xs = [x for x, _ in points]
  x_min, x_max = min(xs), max(xs)
  if x_max == x_min:
    x_max = x_min + 1
  y_ticks = nice_ticks(max(y for _, y in points))
  y_max = y_ticks[-1]
  plot_w, plot_h = width - left - right, height - top - bottom

  def sx(x):
    return left + (x - x_min) / (x_max - x_min) * plot_w

  def sy(y):
    return top + plot_h - y / y_max * plot_h

  svg = _svg(width, height, f'{y_label} by {x_label}')
  for y in y_ticks:
    _element(svg, 'line', x1=left, x2=width - right, y1=sy(y), y2=sy(y),
             class_='grid')
    _element(svg, 'text', _fmt(y), x=left - 6, y=sy(y) + 4,
             text_anchor='end')
  x_ticks = sorted(set(xs))
  if len(x_ticks) > 12:
    x_ticks = x_ticks[::math.ceil(len(x_ticks) / 12)]
  for x in x_ticks:
    _element(svg, 'text', _fmt(x), x=sx(x), y=top + plot_h + 16,
             text_anchor='middle')
  _element(svg, 'line', x1=left, x2=left, y1=top, y2=top + plot_h,
           class_='axis')
  _element(svg, 'line', x1=left, x2=width - right, y1=top + plot_h,
           y2=top + plot_h, class_='axis')
  _element(svg, 'text', x_label, x=left + plot_w / 2, y=height - 6,
           text_anchor='middle')
  _element(svg, 'text', y_label,
           transform=f'translate(14 {top + plot_h / 2:.1f}) rotate(-90)',
           text_anchor='middle')
  for i, (name, values) in enumerate(series.items()):
    colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
    _element(svg, 'polyline',
             points=' '.join(f'{sx(x):.1f},{sy(y):.1f}' for x, y in values),
             fill='none', stroke=colour, stroke_width=2)
    for x, y in values:
      circle = _element(svg, 'circle', cx=sx(x), cy=sy(y), r=3, fill=colour)
      _element(circle, 'title', f'{name}: {_fmt(x)}, {y:.4f}')
  _legend(svg, series, width)
  return ET.tostring(svg, encoding='unicode')


def svg_histogram(groups: Dict[str, Dict[int, int]], x_label: str,
                  width: int = 560, height: int = 260) -> str:
  """Grouped bars of each group's share of items per integer value."""
  shares = {name: {v: n / max(1, sum(counts.values()))
                   for v, n in counts.items()}
            for name, counts in groups.items()}
  values = sorted({v for counts in groups.values() for v in counts})
  if not values:
    raise ValueError('nothing to plot')
  values = list(range(values[0], values[-1] + 1))
  left, right, top, bottom = (_MARGIN[k] for k in
                              ('left', 'right', 'top', 'bottom'))
  plot_w, plot_h = width - left - right, height - top - bottom
  y_ticks = nice_ticks(max(s for g in shares.values() for s in g.values()))
  band = plot_w / len(values)
  bar = band * 0.8 / max(1, len(groups))
  svg = _svg(width, height, f'Share of captions by {x_label}')
  for y in y_ticks:
    py = top + plot_h - y / y_ticks[-1] * plot_h
    _element(svg, 'line', x1=left, x2=width - right, y1=py, y2=py,
             class_='grid')
    _element(svg, 'text', f'{y:.0%}', x=left - 6, y=py + 4,
             text_anchor='end')
  label_every = max(1, math.ceil(len(values) / 16))
  for i, value in enumerate(values):
    x0 = left + i * band + band * 0.1
    for g, (name, share) in enumerate(shares.items()):
      h = share.get(value, 0) / y_ticks[-1] * plot_h
      rect = _element(svg, 'rect', x=x0 + g * bar, y=top + plot_h - h,
                      width=float(bar), height=float(h),
                      fill=_SERIES_COLOURS[g % len(_SERIES_COLOURS)])
      _element(rect, 'title', f'{name}: {groups[name].get(value, 0)} '
               f'captions of {value} tokens')
    if i % label_every == 0:
      _element(svg, 'text', str(value), x=left + (i + 0.5) * band,
               y=top + plot_h + 16, text_anchor='middle')
  _element(svg, 'line', x1=left, x2=width - right, y1=top + plot_h,
           y2=top + plot_h, class_='axis')
  _element(svg, 'text', x_label, x=left + plot_w / 2, y=height - 6,
           text_anchor='middle')
  _legend(svg, groups, width)
  return ET.tostring(svg, encoding='unicode')
