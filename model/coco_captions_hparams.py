"""The model's hyper-parameters and their defaults, with no TensorFlow import.

`preprocessing_fn` and `run_fn` (coco_captions_utils.py, beside this file,
which TFX packages with it) read each from `custom_config`, falling back to
`DEFAULTS`; an edit here re-runs Transform and the Trainer as an edit of the
module file does.
"""

import coco_captions_encoders as encoders

# Every setting of preprocessing_fn and run_fn, with its default; each can be
# overridden through `custom_config`. The pipeline passes only what a user set.
DEFAULTS = {
    # The stored images (GroupCaptionsByImage) and the model's input: both
    # must agree. The image size is the encoder's own (coco_captions_encoders)
    # unless set. `max_caption_tokens` is Transform's.
    'image_encoder': encoders.DEFAULT_ENCODER,
    'image_size': None,
    'max_caption_tokens': 32,
    # Trainer: passes over the train split's images; left at its default,
    # at least `min_train_steps` steps, which small datasets need more
    # passes for, and at most `max_train_steps` (whole passes), which large
    # ones learn in with fewer passes.
    'train_epochs': 30,
    'min_train_steps': 1000,
    'max_train_steps': 15000,
    # The default length is at most: training stops once the eval loss has
    # not improved for this many evaluations in a row (of up to 30 a run)
    # and keeps the weights of the best one. 0 trains the whole length. A
    # length the user set (train_epochs, train_steps) is run whole unless
    # this is set too.
    'early_stopping_patience': 5,
    # The decoded train and eval images stay in memory when they take at
    # most this share of the memory available, so each is parsed and
    # decoded once instead of once an epoch; 0: never.
    'in_memory_images_share': 0.25,
    # The eval loss is measured on at most this many eval images, the same
    # ones each time where the images are in memory (the split's first):
    # enough to compare evaluations, and at COCO scale a quarter of the eval
    # split. `eval_steps` overrides it.
    'max_eval_images': 4096,
    'batch_size': 64,
    'embedding_dim': 128,
    # Adam's peak learning rate, reached after a linear warmup over
    # `warmup_fraction` of the steps, then decayed to 0 along a cosine.
    'learning_rate': 2e-3,
    'warmup_fraction': 0.05,
    # Softmax temperature of the contrastive loss over cosine similarities.
    'temperature': 0.05,
    'seed': 0,
    # A pretrained encoder's weights: 'imagenet' (Keras downloads them where
    # the Trainer runs), 'none', or an .h5 file (path or URI).
    'image_encoder_weights': encoders.IMAGENET,
    # A pretrained encoder is frozen while the heads train; then its top
    # `fine_tune_layers` layers (0: none) train too, for `fine_tune_fraction`
    # of the steps, at `fine_tune_learning_rate_factor` x the learning rate.
    'fine_tune_layers': 0,
    'fine_tune_fraction': 0.3,
    'fine_tune_learning_rate_factor': 0.1,
}
