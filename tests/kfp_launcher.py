"""Runs a compiled Vertex AI Pipelines (KFP v2) job the way its launcher does.

Used by tests/test_kubeflow_pods_e2e.py, inside a private mount namespace
whose root is an overlay of this machine's with the image's project at
/pipeline and the compiling checkout hidden (`--pods`), as root. Standard
library only: it runs before and after `chroot`, with no packages.

For each task of the spec, in dependency order:
  * a `resolver` executor is answered from the artifacts of earlier tasks and
    runs (the job's ML Metadata, kept in --store between runs), with its
    filter evaluated as Vertex does (schema title, state, metadata values,
    the artifact's resource name, the latest first);
  * a container executor gets the ExecutorInput the launcher builds: its
    parameters in both forms (legacy `parameters` and `parameterValues`),
    its input artifacts from the producers' ExecutorOutput, new output
    artifacts with resource names and URIs under the pipeline root (no
    directory made for them), and an output file. The `{{$}}` placeholder of
    the command is replaced with it. A `preCacheCheck` hook runs first, then
    the command, from the image's working directory with the image's
    environment (--workdir, --env), and its ExecutorOutput updates the
    output artifacts.
Every task runs: Vertex's cache is not reproduced (the two runs of the test
differ in their commands, so it would reuse nothing).
Writes what happened as JSON to --report.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

_PLACEHOLDER = re.compile(
    r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")
_PROJECT = 'projects/test/locations/test/metadataStores/default/artifacts/'


def _schema_title(artifact_type):
  if 'schemaTitle' in artifact_type:
    return artifact_type['schemaTitle']
  match = re.search(r'^title: (\S+)', artifact_type.get('instanceSchema', ''),
                    re.M)
  return match.group(1) if match else ''


def _order(tasks):
  """Task names, each after the tasks it depends on or takes artifacts from."""
  def needs(task):
    found = set(task.get('dependentTasks', []))
    for spec in task.get('inputs', {}).get('artifacts', {}).values():
      if 'taskOutputArtifact' in spec:
        found.add(spec['taskOutputArtifact']['producerTask'])
    return found
  done, order = set(), []
  while len(order) < len(tasks):
    ready = sorted(n for n, t in tasks.items()
                   if n not in done and needs(t) <= done)
    if not ready:
      raise ValueError('the tasks depend on each other in a cycle')
    order.extend(ready)
    done.update(ready)
  return order


def _parameters(task):
  """(legacy `parameters`, `parameterValues`) of a task's constant inputs."""
  legacy, values = {}, {}
  for name, spec in task.get('inputs', {}).get('parameters', {}).items():
    runtime = spec.get('runtimeValue', {})
    if 'constantValue' in runtime:  # Pipeline spec 2.0.
      (kind, value), = runtime['constantValue'].items()
      legacy[name] = {kind: value}
      values[name] = int(value) if kind == 'intValue' else value
    elif 'constant' in runtime:  # Pipeline spec 2.1.
      values[name] = runtime['constant']
    else:
      raise ValueError(f'parameter {name}: only constants are supported')
  return legacy, values


class Store:
  """The job's artifacts and executions, kept as JSON between runs."""

  def __init__(self, path):
    self.path = path
    self.data = {'artifacts': []}
    if os.path.exists(path):
      with open(path) as f:
        self.data = json.load(f)

  def new_name(self):
    return f'{_PROJECT}{len(self.data["artifacts"]) + 1000}'

  def record(self, artifact):
    self.data['artifacts'].append(
        {**artifact, 'state': 'LIVE', 'order': len(self.data['artifacts'])})

  def save(self):
    with open(self.path, 'w') as f:
      json.dump(self.data, f, indent=1)

  def query(self, query):
    """The newest artifact matching a resolver's filter, as a list."""
    found = [a for a in self.data['artifacts']
             if all(_matches(a, clause) for clause in query.split(' AND '))]
    found.sort(key=lambda a: a['order'])
    return [_runtime(found[-1])] if found else []


def _matches(artifact, clause):
  key, value = (part.strip() for part in clause.split('=', 1))
  value = value.strip('"')
  if key == 'schema_title':
    return artifact['schema_title'] == value
  if key == 'state':
    return artifact['state'] == value
  if key == 'name':
    return artifact['name'] == value
  match = re.fullmatch(r'metadata\.(\w+)\.(number|string)_value', key)
  if not match:
    raise ValueError(f'filter clause {clause!r} is not supported')
  got = artifact['metadata'].get(match.group(1))
  if match.group(2) == 'number':
    return isinstance(got, (int, float)) and got == float(value)
  return got == value


def _runtime(artifact):
  return {k: artifact[k] for k in ('name', 'type', 'uri', 'metadata')}


def _substitute(words, executor_input):
  text = json.dumps(executor_input)
  return [w.replace('{{$}}', text) for w in words]


class Launcher:
  """Runs the tasks of one job."""

  def __init__(self, spec, args):
    self.spec = spec['pipelineSpec']
    self.args = args
    self.store = Store(args.store)
    self.outputs = {}
    self.report = {'run': args.run, 'tasks': {}}

  def run(self):
    tasks = self.spec['root']['dag']['tasks']
    try:
      for name in _order(tasks):
        started = time.monotonic()
        state = self._task(name, tasks[name])
        self.report['tasks'][name] = {
            'state': state, 'seconds': round(time.monotonic() - started, 1)}
        if state == 'FAILED':
          return 1
      return 0
    finally:
      self.store.save()
      self.report['artifacts'] = self.store.data['artifacts']
      with open(self.args.report, 'w') as f:
        json.dump(self.report, f, indent=1)

  def _inputs(self, task):
    found = {}
    for key, spec in task.get('inputs', {}).get('artifacts', {}).items():
      producer = spec['taskOutputArtifact']
      found[key] = self.outputs[producer['producerTask']].get(
          producer['outputArtifactKey'], [])
    return found

  def _task(self, name, task):
    component = self.spec['components'][task['componentRef']['name']]
    executor = self.spec['deploymentSpec']['executors'][
        component['executorLabel']]
    inputs = self._inputs(task)
    if 'resolver' in executor:
      self.outputs[name] = {}
      for key, query in executor['resolver']['outputArtifactQueries'].items():
        def value(match):
          artifacts = inputs.get(match.group(1)) or [{}]
          return str(artifacts[0].get('metadata', {}).get(match.group(2), ''))
        self.outputs[name][key] = self.store.query(
            _PLACEHOLDER.sub(value, query['filter']))
      return 'RESOLVED'
    return self._container(name, task, component, executor['container'],
                           inputs)

  def _container(self, name, task, component, container, inputs):
    task_root = os.path.join(self.args.pipeline_root, self.args.run,
                             f'{name}_{len(self.store.data["artifacts"])}')
    legacy, values = _parameters(task)
    outputs = {}
    for key, spec in component.get('outputDefinitions', {}).get(
        'artifacts', {}).items():
      outputs[key] = [{'name': self.store.new_name() + f'-{name}-{key}',
                       'type': spec['artifactType'],
                       'uri': os.path.join(task_root, key), 'metadata': {}}]
    executor_input = {
        'inputs': {'parameters': legacy, 'parameterValues': values,
                   'artifacts': {k: {'artifacts': v}
                                 for k, v in inputs.items()}},
        'outputs': {'artifacts': {k: {'artifacts': v}
                                  for k, v in outputs.items()},
                    'outputFile': os.path.join(task_root,
                                               'executor_output.json')},
    }
    log = os.path.join(self.args.logs, f'{self.args.run}-{name}.log')
    hook = container.get('lifecycle', {}).get('preCacheCheck')
    if hook and not self._exec(hook['command'] + hook.get('args', []),
                               executor_input, log):
      return 'FAILED'
    if not self._exec(container['command'] + container.get('args', []),
                      executor_input, log):
      return 'FAILED'
    written = {}
    output_file = executor_input['outputs']['outputFile']
    if os.path.exists(output_file):
      with open(output_file) as f:
        written = json.load(f).get('artifacts', {})
    for key, artifacts in outputs.items():
      produced = written.get(key, {}).get('artifacts', [{}])[0]
      artifact = {**artifacts[0], 'metadata': produced.get('metadata', {})}
      self.store.record({**artifact, 'task': name, 'run': self.args.run,
                         'schema_title': _schema_title(artifact['type'])})
      outputs[key] = [artifact]
    self.outputs[name] = outputs
    return 'SUCCEEDED'

  def _exec(self, words, executor_input, log):
    env = dict(json.loads(self.args.env))
    with open(log, 'a') as out:
      out.write(f'$ {words[:4]}...\n')
      out.flush()
      result = subprocess.run(
          _substitute(words, executor_input), cwd=self.args.workdir, env=env,
          stdout=out, stderr=subprocess.STDOUT, timeout=self.args.timeout,
          check=False)
    return result.returncode == 0


def _pods(args):
  """Enters the pods' file system: an overlay of / with the image's project
  at /pipeline, --work at its own path and --hide hidden; then chroot."""
  root = os.path.join(args.scratch, 'root')
  upper, work = (os.path.join(args.scratch, d) for d in ('upper', 'work'))
  for directory in (root, upper, work):
    os.makedirs(directory, exist_ok=True)

  def mount(*words):
    subprocess.run(['mount', *words], check=True)

  mount('-t', 'overlay', 'overlay', '-o',
        f'lowerdir=/,upperdir={upper},workdir={work}', root)
  for special in ('proc', 'dev', 'sys'):
    mount('--rbind', f'/{special}', os.path.join(root, special))
  inside = lambda path: os.path.join(root, path.lstrip('/'))  # noqa: E731
  mount('--bind', args.work, inside(args.work))
  os.makedirs(inside(args.workdir), exist_ok=True)
  mount('--bind', args.project, inside(args.workdir))
  for path in args.hide:
    mount('-t', 'tmpfs', 'tmpfs', inside(path))
  os.chroot(root)
  os.chdir('/')


def main(argv):
  parser = argparse.ArgumentParser()
  parser.add_argument('--spec', required=True)
  parser.add_argument('--pipeline_root', required=True)
  parser.add_argument('--run', required=True)
  parser.add_argument('--store', required=True)
  parser.add_argument('--report', required=True)
  parser.add_argument('--logs', required=True)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--env', required=True, help='JSON object')
  parser.add_argument('--timeout', type=int, default=900)
  parser.add_argument('--pods', action='store_true')
  parser.add_argument('--scratch')
  parser.add_argument('--work', help='a directory every pod sees')
  parser.add_argument('--project', help="the image's copy of the project")
  parser.add_argument('--hide', nargs='*', default=[])
  args = parser.parse_args(argv)
  with open(args.spec) as f:
    spec = json.load(f)
  if args.pods:
    _pods(args)
  return Launcher(spec, args).run()


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
