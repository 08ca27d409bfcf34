# The image Vertex AI Pipelines pods and Dataflow/Flink/Spark workers run: this
# project's package with its locked dependencies. Build from the project root:
#   docker build -t REGISTRY/coco-captions-tfx:TAG .
# and pass --image REGISTRY/coco-captions-tfx:TAG to coco_captions_kubeflow.py
# (and --sdk_container_image=... to Beam runners that run containers).
# tests/test_kubeflow_pods_e2e.py builds the same environment (the ENV and
# WORKDIR lines and the two RUN installs) and runs the compiled pipeline in it.
FROM python:3.11-slim

WORKDIR /pipeline
ENV PYTHONUNBUFFERED=1
# Nothing is imported from the working directory: the module file and the .py
# files beside it come from the user-code wheels TFX uploads when compiling,
# and a copy here must not shadow them (with --user_code=image the pods' command
# puts /pipeline/model on PYTHONPATH instead).
ENV PYTHONSAFEPATH=1

# Dependencies first, so code changes do not reinstall them. uv, because pip
# refuses TFX 1.16's Python < 3.11 metadata although the stack runs on 3.11.
# Bytecode compiled into the image: every pod and worker starts from the image,
# and would otherwise compile TensorFlow, TFX and Beam from source on import
# (~20 s each on 2 cores; see tools/dev.py).
COPY requirements.lock ./
RUN python -m pip install --no-cache-dir "uv==$(sed -n 's/^uv==//p' requirements.lock)" \
 && uv pip install --system --no-cache --compile-bytecode -r requirements.lock

# The coco_captions package, installed (not editable): components import it
# from site-packages. The rest of the project stays in /pipeline: the schema
# (/pipeline/schema/schema.pbtxt) and, for --user_code=image, the module file
# and the model code beside it (/pipeline/model).
COPY . .
RUN uv pip install --system --no-cache --no-deps --no-build-isolation .

# ImageNet weights of pretrained image encoders, baked in so the Trainer's pod
# needs no internet (Keras downloads them where the Trainer runs otherwise):
#   docker build --build-arg IMAGE_ENCODERS="mobilenet_v2 resnet50:160" ...
# Each is a name of coco_captions_encoders.ENCODER_NAMES, with the image size
# after a colon when it is not the encoder's default (MobileNetV2 has one
# weights file per size). Keras keeps them in /root/.keras/models/, where
# --image_encoder_weights imagenet finds them (for pods that run as root; for
# another user, copy them to that user's ~/.keras/models/). Alternatively
# COPY a weights file into the image, or keep it in a bucket, and pass its
# path or gs:// URI as --image_encoder_weights.
ARG IMAGE_ENCODERS=""
RUN for encoder in $IMAGE_ENCODERS; do \
      PYTHONPATH=/pipeline/model python -c "import sys, coco_captions_utils as m; \
from coco_captions_model import keras_application; \
name, _, size = sys.argv[1].partition(':'); \
keras_application(m.image_encoder_settings( \
    {'image_encoder': name, 'image_size': int(size) if size else None}))" \
        "$encoder" || exit 1; \
    done

# Beam's worker boot program, so Dataflow/Flink/Spark can use this image as a
# custom SDK container (--sdk_container_image). Kubeflow pods give their own
# command, which replaces this entrypoint. Keep the tag at the locked Beam.
COPY --from=apache/beam_python3.11_sdk:2.72.0 /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]
