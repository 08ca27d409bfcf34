"""Package metadata. Install the pinned environment with `python3.11 tools/dev.py setup`."""

import setuptools

setuptools.setup(
    name='coco-captions-tfx',
    version='0.1.0',
    description='A TFX pipeline for image-caption data in the MS COCO '
    'captions format: ingest, validate, transform, train a dual encoder.',
    packages=setuptools.find_packages(include=['coco_captions', 'coco_captions.*']),
    # Facets and its polyfill, inlined into every run report, and the
    # report's templates.
    package_data={'coco_captions.reporting': ['vendor/README.md', 'vendor/*/*',
                                             'templates/*']},
    # TFX 1.16's own metadata says < 3.11, yet the stack runs on 3.11.
    python_requires='>=3.9,<3.12',
    install_requires=[
        'tfx==1.16.0',
        # tfx-bsl 1.16 imports dill, which recent Beam no longer installs.
        'dill',
        # Streams the official COCO annotations JSON (coco_captions.data.ingest).
        'ijson',
        # The run report's HTML templates (coco_captions/reporting/templates/).
        'jinja2',
        # Every Kubeflow Pipelines v2 pod imports it: TFX's KFP entrypoint and
        # ExampleGen driver read the ExecutorInput with its protos.
        'kfp-pipeline-spec',
        'pillow',
        'tqdm',
    ],
    extras_require={
        # websocket-client: the report test drives Chromium (DevTools protocol);
        # pytest-xdist runs the test files on every core.
        'test': ['pytest', 'pytest-xdist', 'websocket-client'],
        # The kfp SDK, which the tests check the compiled pipeline with.
        'kfp': ['kfp>=2,<3'],
        # Orchestrating with Airflow 2 (coco_captions_airflow.py). TFX 1.16's
        # Airflow runner supports Airflow < 3.
        'airflow': ['apache-airflow>=2.8,<3'],
    },
    entry_points={
        'console_scripts': [
            'coco-captions-generate=coco_captions.data.synthetic_data:main',
        ],
    },
)
