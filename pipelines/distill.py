"""Text to a distilled, quantized, evaluated EmbBERT: the pre-trained teacher labels a transfer set, the
student learns from its logits, then int8 and TFLM exactly as `pipelines.full`.

    python -m pipelines.distill --task sst2 --in_domain 250000 --output_dir runs/sst2_distill

Stages (each resumes with --resume): teacher (fine-tune all-MiniLM-L6-v2 on the task, build and label
the transfer set: embbert_tf/transfer.py; `pipelines.teacher` runs it alone, also on a GPU machine), student
(EmbBERT on the teacher's logits, best epoch by the task metric on the selection split:
embbert_tf/distill.py), quantize, evaluate, export, report. The teacher never reaches the device.
`pipelines.full --recipe distill-fast` and `--recipe distill-full` run the same with their recipe's
settings.
"""
from __future__ import annotations

from absl import flags

from pipelines import common

FLAGS = flags.FLAGS
common.define_teacher_flags()
common.define_student_flags()
common.define_finish_flags()


def main(argv):
    out = common.output_dir()
    timings = {}
    teacher = common.distill_stage(out, common.task(), timings)
    common.finish(out, timings, extra={"teacher": teacher})


if __name__ == "__main__":
    common.run_main(main)
