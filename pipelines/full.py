"""Text to a trained, quantized, evaluated EmbBERT in one command.

    python -m pipelines.full --task sst2                      # distilled from a fine-tuned teacher
    python -m pipelines.full --task sst2 --recipe scratch     # the task's labels alone, no teacher

Stages: train the float model as --recipe says (embbert_tf/recipes.py: by default `distill-fast`, which
distils the fine-tuned all-MiniLM-L6-v2 teacher into it as pipelines.distill does, in about 50 minutes on
SST-2 on 2 CPU cores; `distill-full` does so with Tang et al.'s whole transfer set; `scratch` fine-tunes
on the task's labels) ->
quantize (PTQ and QAT, fully int8) -> evaluate on the TFLM reference, LiteRT and Keras -> memory accounting
-> export (the TFLM C++ application in tflm_app/ and the Arduino library in arduino/) -> report.json /
report.md / plots in --output_dir. A flag given on the command line wins over the recipe's value. With
--resume, stages that finished are kept and an interrupted training continues from its last epoch.
"""
from __future__ import annotations

from absl import flags

from embbert_tf import recipes
from pipelines import common

FLAGS = flags.FLAGS
common.define_training_flags()
common.define_teacher_flags()
common.define_student_flags()
common.define_finish_flags()
flags.DEFINE_enum("recipe", recipes.DEFAULT, list(recipes.RECIPES), "How the float model is trained: "
                  + "; ".join(recipes.describe(name) for name in recipes.RECIPES) + ".")


def main(argv):
    recipe = common.apply_recipe(FLAGS.recipe)
    out = common.output_dir()
    task = common.task()
    timings = {}
    extra = {}
    if recipe["train"] == "finetune":
        common.finetune_stage(out, task, timings)
    else:
        extra["teacher"] = common.distill_stage(out, task, timings, FLAGS.recipe)
    names = [*recipe["flags"], *recipes.sized_flags(FLAGS.recipe)]  # the flags it sets, as run
    extra["recipe"] = {"name": FLAGS.recipe, "train": recipe["train"], "flags": {k: FLAGS[k].value for k in names}}
    if "sized_by" in extra.get("teacher", {}):  # the texts' mean teacher tokens the flags were sized by
        extra["recipe"]["sized_by"] = extra["teacher"].pop("sized_by")
    common.finish(out, timings, extra=extra)


if __name__ == "__main__":
    common.run_main(main)
