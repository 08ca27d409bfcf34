"""Opens a local HTML file in headless Chromium and reports what happened.

Drives Debian's `chromium` through the DevTools protocol (a websocket on
loopback): every network request the page makes, every script error and
console error, JavaScript evaluated in the page, and a full-page screenshot.
Chromium is started with its own background networking switched off, so the
only requests seen are the page's.
"""

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

import websocket  # websocket-client

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')

_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
          '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync',
          '--disable-default-apps', '--disable-extensions', '--mute-audio',
          '--hide-scrollbars', '--remote-debugging-port=0',
          '--remote-allow-origins=*')


def available() -> bool:
  return shutil.which(CHROMIUM) is not None


class Page:
  """One page of a freshly started headless Chromium."""

  def __init__(self, width: int = 1280, height: int = 900,
               start_timeout: float = 60):
    self._profile = tempfile.mkdtemp(prefix='chromium-profile-')
    self._process = subprocess.Popen(
        [CHROMIUM, *_FLAGS, f'--user-data-dir={self._profile}',
         f'--window-size={width},{height}', 'about:blank'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    self._ids = itertools.count(1)
    self.events: List[Dict[str, Any]] = []
    self._socket = None
    try:
      self._socket = websocket.create_connection(
          self._page_websocket(start_timeout), timeout=60,
          suppress_origin=True)
      for domain in ('Page', 'Runtime', 'Log', 'Network'):
        self.call(f'{domain}.enable')
    except BaseException:
      self.close()
      raise

  def _page_websocket(self, timeout: float) -> str:
    port_file = os.path.join(self._profile, 'DevToolsActivePort')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      if self._process.poll() is not None:
        raise RuntimeError(f'{CHROMIUM} exited with {self._process.returncode}')
      if os.path.exists(port_file):
        lines = open(port_file).read().split()
        if lines:
          with urllib.request.urlopen(
              f'http://127.0.0.1:{lines[0]}/json/list', timeout=10) as r:
            pages = [t for t in json.load(r) if t['type'] == 'page']
          if pages:
            return pages[0]['webSocketDebuggerUrl']
      time.sleep(0.1)
    raise TimeoutError(f'{CHROMIUM} did not open its DevTools port')

  def call(self, method: str, **params) -> Dict[str, Any]:
    """Sends one DevTools command; returns its result, keeping the events."""
    call_id = next(self._ids)
    self._socket.send(json.dumps(
        {'id': call_id, 'method': method, 'params': params}))
    while True:
      message = json.loads(self._socket.recv())
      if message.get('id') == call_id:
        if 'error' in message:
          raise RuntimeError(f'{method}: {message["error"]}')
        return message.get('result', {})
      if 'method' in message:
        self.events.append(message)

  def evaluate(self, expression: str) -> Any:
    """The value of a JavaScript expression in the page (promises awaited)."""
    result = self.call('Runtime.evaluate', expression=expression,
                       returnByValue=True, awaitPromise=True)
    if 'exceptionDetails' in result:
      raise RuntimeError(f'{expression}: {result["exceptionDetails"]}')
    return result['result'].get('value')

  def open(self, url: str, timeout: float = 60) -> None:
    """Navigates to `url` and waits for its load event."""
    self.call('Page.navigate', url=url)
    self.wait_for('document.readyState === "complete"', timeout)

  def wait_for(self, expression: str, timeout: float = 60) -> bool:
    """Polls `expression` until it is truthy; False if it never was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      try:
        if self.evaluate(expression):
          return True
      except RuntimeError:
        pass
      time.sleep(0.25)
    return False

  def requested_urls(self) -> List[str]:
    return [e['params']['request']['url'] for e in self.events
            if e['method'] == 'Network.requestWillBeSent']

  def errors(self) -> List[str]:
    """Uncaught exceptions, console.error calls and error log entries."""
    found = []
    for e in self.events:
      p = e['params']
      if e['method'] == 'Runtime.exceptionThrown':
        details = p['exceptionDetails']
        found.append('exception: ' + details.get('exception', {}).get(
            'description', details.get('text', '')))
      elif e['method'] == 'Runtime.consoleAPICalled' and p['type'] == 'error':
        found.append('console.error: ' + ' '.join(
            str(a.get('value', a.get('description', ''))) for a in p['args']))
      elif e['method'] == 'Log.entryAdded' and p['entry']['level'] == 'error':
        found.append(f'log: {p["entry"]["text"]} {p["entry"].get("url", "")}')
    return found

  def screenshot(self, path: str) -> None:
    """Writes a PNG of the whole page, not only the window."""
    metrics = self.call('Page.getLayoutMetrics')
    size = metrics.get('cssContentSize') or metrics['contentSize']
    data = self.call('Page.captureScreenshot', format='png',
                     captureBeyondViewport=True,
                     clip={'x': 0, 'y': 0, 'width': size['width'],
                           'height': size['height'], 'scale': 1})['data']
    with open(path, 'wb') as f:
      f.write(base64.b64decode(data))

  def close(self) -> None:
    try:
      if self._socket is not None:
        self._socket.close()
    finally:
      self._process.terminate()
      try:
        self._process.wait(timeout=10)
      except subprocess.TimeoutExpired:
        self._process.kill()
        self._process.wait()
      shutil.rmtree(self._profile, ignore_errors=True)

  def __enter__(self) -> 'Page':
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def render(url: str, ready: Optional[str] = None,
           timeout: float = 90, width: int = 1280) -> Page:
  """A Page `width` pixels wide with `url` loaded and, with `ready`, that
  expression true."""
  page = Page(width=width)
  try:
    page.open(url, timeout)
    if ready and not page.wait_for(ready, timeout):
      raise TimeoutError(f'{url}: never became ready ({ready})')
  except BaseException:
    page.close()
    raise
  return page
