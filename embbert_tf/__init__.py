"""EmbBERT in TensorFlow: a BERT-like text classifier small enough for a microcontroller.

The public API, imported on first use (so `import embbert_tf` is quick and loads no TensorFlow):

    EmbBERTConfig, get_config, PRESETS      the model configurations (spec §2.2)
    Tokenizer                               WordPiece: Tokenizer.learn(texts, vocab_size), .encode(...), .save/.load
    build_classifier, build_backbone        tf-keras models for plain compile + fit
    load_classifier(run_dir)                a trained run's float classifier
    quantize_aware(model)                   tfmot quantization-aware copy of a classifier
    to_int8_tflite(model, ids)              a fully-int8 TFLite flatbuffer
    audit_tflm(tflite)                      its ops and tensor types checked against TFLM's kernels
    TFLM(tflite).run(ids), minimal_arena    the TFLite-Micro reference interpreter
    export_cpp(tflite, tokenizer, classes, out_dir, arduino=...)   the C++ app (and Arduino library)

The pipelines' stages, on a run directory, each configured by a settings dataclass:

    train_classifier(run_dir, task, FinetuneSettings(...))      text -> vocabulary -> float model
    train_student(run_dir, task, StudentSettings(...))          the same from a teacher's logits
    quantize_run(run_dir, QuantizeSettings(...))                PTQ and QAT, the better one shipped
    evaluate(run_dir, split=...), evaluate_run(run_dir)         scores on TFLM (and all a report holds)
    export_run(run_dir)                                         export_cpp for the run's model
    pretrain_backbone(out_dir, PretrainSettings(...))           masked-LM pre-training

tfmot's quantization-aware training only works with Keras 2 (tf-keras), so the whole package uses
tf-keras. The variable must be set before TensorFlow is first imported anywhere in the process.
"""
import importlib
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log; our errors come as exceptions

from embbert_tf import quiet  # noqa: E402

quiet.install()

__version__ = "0.1.0"

# public name -> (module, attribute)
_API = {
    "EmbBERTConfig": ("embbert_tf.config", "EmbBERTConfig"),
    "get_config": ("embbert_tf.config", "get_config"),
    "PRESETS": ("embbert_tf.config", "PRESETS"),
    "Tokenizer": ("embbert_tf.tokenizer", "Tokenizer"),
    "build_classifier": ("embbert_tf.model", "build_classifier"),
    "build_backbone": ("embbert_tf.model", "build_backbone"),
    "quantize_aware": ("embbert_tf.quantize", "quantize_model"),
    "to_int8_tflite": ("embbert_tf.convert", "to_int8_tflite"),
    "audit_tflm": ("embbert_tf.tflm_kernels", "audit"),
    "TFLM": ("embbert_tf.micro", "TFLM"),
    "minimal_arena": ("embbert_tf.micro", "minimal_arena"),
    "export_cpp": ("embbert_tf.export.app", "export_cpp"),
    "FinetuneSettings": ("embbert_tf.finetune", "FinetuneSettings"),
    "train_classifier": ("embbert_tf.finetune", "train_classifier"),
    "StudentSettings": ("embbert_tf.distill", "StudentSettings"),
    "train_student": ("embbert_tf.distill", "train_student"),
    "QuantizeSettings": ("embbert_tf.quantize", "QuantizeSettings"),
    "quantize_run": ("embbert_tf.quantize", "quantize_run"),
    "evaluate": ("embbert_tf.evaluation", "evaluate"),
    "evaluate_run": ("embbert_tf.evaluation", "evaluate_run"),
    "export_run": ("embbert_tf.export.app", "export_run"),
    "PretrainSettings": ("embbert_tf.pretrain", "PretrainSettings"),
    "pretrain_backbone": ("embbert_tf.pretrain", "pretrain_backbone"),
}
__all__ = [*_API, "load_classifier"]


def load_classifier(run_dir: str):
    """The float tf-keras classifier of a trained run directory (pipelines.full / finetune output)."""
    from embbert_tf import artifacts

    return artifacts.Run(run_dir).float_model()


def __getattr__(name):
    if name in _API:
        module, attribute = _API[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'embbert_tf' has no attribute {name!r}")
