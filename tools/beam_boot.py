#!/usr/bin/env python3
"""Boots a Beam Python SDK worker as the SDK container's boot program does.

Beam starts a worker of an EXTERNAL environment through a worker pool:

  python -m apache_beam.runners.worker.worker_pool_main --service_port=PORT \\
      --container_executable=/path/to/tools/beam_boot.py

and runs the pipeline with `--environment_type=EXTERNAL
--environment_config=HOST:PORT`. For each worker the pool runs this file with
the container contract's flags (--id and the logging, artifact, provision and
control endpoints). Like /opt/apache/beam/boot in Beam's SDK images (the
Dockerfile's entrypoint), it:

  1. asks the provision service for the job's pipeline options and the
     artifacts the job staged (TFX's user-code wheels from --extra_package,
     this project's package from --setup_file, a requirements.txt);
  2. fetches them from the artifact service;
  3. installs them with pip into this Python, once per set of artifacts
     however many workers boot at once, without their dependencies: the
     environment must already hold the locked ones (requirements.lock);
  4. runs the SDK harness (apache_beam.runners.worker.sdk_worker_main).

Run it with the Python of the worker environment (a virtualenv synced to
requirements.lock), e.g. as that virtualenv's `python tools/beam_boot.py`
through a one-line wrapper script, or `#!` it.
"""

import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_artifact_api_pb2_grpc
from apache_beam.portability.api import beam_provision_api_pb2
from apache_beam.portability.api import beam_provision_api_pb2_grpc
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability import artifact_service
from google.protobuf import json_format
import grpc

_STAGING_ROLE = common_urns.artifact_roles.STAGING_TO.urn


def _provision_info(endpoint: str, worker_id: str):
  with grpc.insecure_channel(endpoint) as channel:
    return beam_provision_api_pb2_grpc.ProvisionServiceStub(
        channel).GetProvisionInfo(
            beam_provision_api_pb2.GetProvisionInfoRequest(),
            metadata=[('worker_id', worker_id)]).info


def _fetch(endpoint: str, dependencies, directory: str) -> list:
  """The staged files, by their staged names, in `directory`."""
  with grpc.insecure_channel(endpoint) as channel:
    stub = beam_artifact_api_pb2_grpc.ArtifactRetrievalServiceStub(channel)
    found = artifact_service.resolve_artifacts(list(dependencies), stub,
                                               directory)
  names = []
  for artifact in found:
    path = beam_runner_api_pb2.ArtifactFilePayload.FromString(
        artifact.type_payload).path
    if artifact.role_urn != _STAGING_ROLE:
      continue
    name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(
        artifact.role_payload).staged_name
    os.replace(path, os.path.join(directory, name))
    names.append(name)
  return sorted(names)


def _install(directory: str, names: list) -> list:
  """What the SDK container installs, in its order; the files installed."""
  pip = [sys.executable, '-m', 'pip', 'install', '--quiet',
         '--disable-pip-version-check', '--no-index', '--no-deps',
         '--no-build-isolation', '--force-reinstall', '--find-links',
         directory]
  installed = []
  if 'requirements.txt' in names:
    subprocess.run(pip + ['-r', os.path.join(directory, 'requirements.txt')],
                   check=True)
    installed.append('requirements.txt')
  if 'extra_packages.txt' in names:
    with open(os.path.join(directory, 'extra_packages.txt')) as f:
      packages = [line.strip() for line in f if line.strip()]
    subprocess.run(pip + [os.path.join(directory, p) for p in packages],
                   check=True)
    installed.extend(packages)
  if 'workflow.tar.gz' in names:  # --setup_file's source distribution.
    subprocess.run(pip + [os.path.join(directory, 'workflow.tar.gz')],
                   check=True)
    installed.append('workflow.tar.gz')
  return installed


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  for flag in ('id', 'logging_endpoint', 'artifact_endpoint',
               'provision_endpoint', 'control_endpoint'):
    parser.add_argument(f'--{flag}', required=True)
  parser.add_argument('--semi_persist_dir', default=tempfile.gettempdir())
  args, _ = parser.parse_known_args(argv)

  info = _provision_info(args.provision_endpoint, args.id)
  options = json_format.MessageToDict(info.pipeline_options)
  # Installed once per environment and set of staged files.
  digest = hashlib.sha256(sys.prefix.encode() + b''.join(
      d.SerializeToString(deterministic=True)
      for d in info.dependencies)).hexdigest()[:16]
  directory = os.path.join(args.semi_persist_dir, 'beam_boot', digest)
  os.makedirs(directory, exist_ok=True)
  # Workers of one pool boot side by side: one fetches and installs.
  with open(os.path.join(directory, '.lock'), 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    done = os.path.join(directory, '.installed')
    if os.path.exists(done):
      installed = ['(already installed)']
    else:
      staged = os.path.join(directory, 'staged')
      os.makedirs(staged, exist_ok=True)
      installed = _install(staged, _fetch(args.artifact_endpoint,
                                          info.dependencies, staged))
      with open(done, 'w') as f:
        json.dump(installed, f)
  print(f'beam_boot: worker {args.id} (pid {os.getpid()}) installed '
        f'{json.dumps(installed)}', file=sys.stderr, flush=True)

  def descriptor(url):
    return f'url: "{url}"'

  env = dict(os.environ,
             WORKER_ID=args.id,
             PIPELINE_OPTIONS=json.dumps(options),
             SEMI_PERSISTENT_DIRECTORY=args.semi_persist_dir,
             LOGGING_API_SERVICE_DESCRIPTOR=descriptor(args.logging_endpoint),
             CONTROL_API_SERVICE_DESCRIPTOR=descriptor(args.control_endpoint))
  if info.HasField('status_endpoint'):
    env['STATUS_API_SERVICE_DESCRIPTOR'] = descriptor(
        info.status_endpoint.url)
  os.execve(sys.executable, [sys.executable, '-m',
                             'apache_beam.runners.worker.sdk_worker_main'],
            env)


if __name__ == '__main__':
  main()
