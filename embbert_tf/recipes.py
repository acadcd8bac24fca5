"""How `pipelines.full` trains the float model, as data: `--recipe NAME` picks one.

Each recipe names how the float model learns (`train`: "finetune" on the task's labels, or "distill" from
the fine-tuned all-MiniLM-L6-v2 teacher's logits) and the flag values it sets; a flag given on the command
line wins over its recipe. `sst2` is what the recipe cost and scored on SST-2 on this project's 2-core CPU
(`benchmarks/results/sst2_recipes.md`, int8 on the TFLM reference, validation split), the number a user
weighs against the hour. The default is the most accurate recipe that fits in an hour there, picked by the
int8 score on the selection split (`benchmarks.recipes`): `distill-fast`.

Example:

>>> from embbert_tf import recipes
>>> recipes.DEFAULT, recipes.RECIPES[recipes.DEFAULT]["train"]
('distill-fast', 'distill')
>>> sorted(recipes.RECIPES)
['distill-fast', 'distill-full', 'scratch']
"""
from __future__ import annotations

RECIPES: dict[str, dict] = {
    "scratch": {
        "description": "fine-tune on the task's labels alone, from random weights (no teacher)",
        "train": "finetune",
        "flags": {},
        "sst2": {"minutes": 53, "int8": 79.6, "seeds": 2,
                 "measured": "53 min with one of the 2 cores held by another job (README); the task table's two "
                             "runs, beside other jobs, took 61 min (median); tasks_scratch.md"},
    },
    "distill-fast": {
        "description": "the teacher fine-tuned for an epoch on up to 60,000 training texts labels them, 2 to 20 "
                       "augmented copies of each (~180,000 draws; fewer passes throughout for texts longer than "
                       "SST-2's) and 100,000 in-domain sentences where the task "
                       "has them; the student, its token table started from the teacher's WordPiece vectors, learns "
                       "from ~1.9 M of those texts, batches of 128, cosine schedule. "
                       "On SST-2: 1 teacher epoch, 2 copies, 100,000 IMDb training sentences, 8 student epochs",
        "train": "distill",
        "flags": {"in_domain": 100_000, "student_batch_size": 128, "student_lr_schedule": "cosine",
                  "init_embeddings": "teacher"},
        # Budgets in texts as long as SST-2's (their mean teacher tokens: the training texts', the labelled
        # transfer set's); a task of longer texts gets proportionally fewer (scaled_flags).
        "scale": {"teacher_examples": 60_000, "transfer_texts": 180_000, "student_examples": 1_870_000,
                  "tokens_per_text": 13.3, "transfer_tokens_per_text": 18.2},
        "sst2": {"minutes": 57, "int8": 84.8, "seeds": 3,
                 "measured": "57.3 min alone on the 2-core CPU from a fresh clone (teacher 12 + labelling 12 + "
                             "student 27 + quantization, evaluation and export 7): 84.40 % int8; student seeds 0 and "
                             "1 of another teacher: 84.63 and 85.44 (with 6 student epochs, three runs: 83.83, 85.32, "
                             "84.17); sst2_recipes.md"},
    },
    "distill-full": {
        "description": "Tang et al.'s transfer set: teacher 3 epochs, 20 augmented copies, 250,000 in-domain "
                       "sentences where the task has them, student up to 10 epochs; hours on a CPU",
        "train": "distill",
        "flags": {"teacher_epochs": 3, "augment_copies": 20, "in_domain": 250_000, "student_epochs": 10},
        "sst2": {"minutes": 198, "int8": 85.72, "seeds": 2,
                 "measured": "student 103 min on the 2-core CPU; teacher 39 + labelling 49 min from its measured "
                             "CPU rates (teacher_cost.md; it ran on a lent GPU); tasks_distill.md"},
    },
}

DEFAULT = "distill-fast"

# The flags only one kind of training reads: given with a recipe of the other kind, they are an error.
TRAIN_FLAGS = {
    "finetune": ("epochs", "learning_rate", "lr_schedule", "pretrained", "from_scratch"),
    "distill": ("teacher_dir", "teacher_length", "teacher_epochs", "teacher_examples", "teacher_learning_rate",
                "teacher_batch_size", "augment_copies", "pairings", "in_domain", "label_batch_size",
                "student_epochs", "student_batch_size", "student_learning_rate", "student_lr_schedule",
                "student_seed", "student_ema", "init_embeddings", "gold_weight"),
}


# The flags a recipe's "scale" sets (scaled_flags), and bounds on them: at least one pass, at most what the
# full recipe does (teacher_examples is the recipe's own cap, passed through).
SIZED = ("teacher_epochs", "teacher_examples", "augment_copies", "student_epochs")
BOUNDS = {"teacher_epochs": (1, 10), "augment_copies": (2, 20), "student_epochs": (1, 100)}


def sized_flags(name: str) -> tuple[str, ...]:
    """The flags a recipe's "scale" sizes to the task (none for a recipe without one).

    >>> sized_flags("distill-fast"), sized_flags("scratch")
    (('teacher_epochs', 'teacher_examples', 'augment_copies', 'student_epochs'), ())
    """
    return SIZED if RECIPES[name].get("scale") else ()


def length_ratio(reference: float, tokens: float | None) -> float:
    """How much of a budget measured on texts of `reference` tokens a task of `tokens` a text gets: all of
    it up to 10 % longer (the cost is not that exact, and SST-2 keeps the flags it was measured with), less
    in proportion beyond. Compute grows with tokens, not texts: labelling runs at ~4,500 teacher tokens a
    second whatever the task (tasks_distill-fast.md, tasks_distill.md).

    >>> length_ratio(13.3, 13.9), length_ratio(13.3, 26.6), length_ratio(13.3, None)
    (1.0, 0.5, 1.0)
    """
    if not tokens or tokens <= 1.1 * reference:
        return 1.0
    return reference / tokens


def scaled_flags(name: str, train_examples: int, transfer_examples: int | None = None,
                 tokens_per_text: float | None = None, transfer_tokens_per_text: float | None = None) -> dict:
    """The flag values a recipe's "scale" gives a task of `train_examples` training texts: the teacher's epochs
    (over a sample of at most "teacher_examples" texts) and the augmented copies, and with `transfer_examples`
    (the labelled transfer set's size) the student's epochs, so that a task of any size gets about the compute
    the recipe names, within BOUNDS. Texts longer than the recipe's (`tokens_per_text`, the training texts'
    mean teacher tokens; `transfer_tokens_per_text`, the transfer set's) shrink the budgets (length_ratio).

    >>> scaled_flags("distill-fast", 60_967, 233_443)  # SST-2: 2 copies (short phrases repeat) + 100,000 IMDb
    {'teacher_epochs': 1, 'teacher_examples': 60000, 'augment_copies': 2, 'student_epochs': 8}
    >>> scaled_flags("distill-fast", 540, 11_340)
    {'teacher_epochs': 10, 'teacher_examples': 60000, 'augment_copies': 20, 'student_epochs': 100}
    >>> scaled_flags("distill-fast", 22_500, 67_500, 123.7, 123.7)  # IMDb: reviews of ~124 teacher tokens
    {'teacher_epochs': 1, 'teacher_examples': 6451, 'augment_copies': 2, 'student_epochs': 4}
    """
    scale = RECIPES[name].get("scale")
    if not scale:
        return {}

    def bounded(flag, value):
        return min(max(round(value), BOUNDS[flag][0]), BOUNDS[flag][1])

    ratio = length_ratio(scale["tokens_per_text"], tokens_per_text)
    teacher = scale["teacher_examples"] * ratio  # text passes
    values = {"teacher_epochs": bounded("teacher_epochs", teacher / train_examples),
              "teacher_examples": round(teacher),
              "augment_copies": bounded("augment_copies", scale["transfer_texts"] * ratio / train_examples - 1)}
    if transfer_examples:
        ratio = length_ratio(scale["transfer_tokens_per_text"], transfer_tokens_per_text)
        values["student_epochs"] = bounded("student_epochs", scale["student_examples"] * ratio / transfer_examples)
    return values


def describe(name: str) -> str:
    """One line on a recipe: what it does and, where measured, its SST-2 cost and score."""
    r = RECIPES[name]
    cost = r.get("sst2")
    measured = f"; SST-2 {cost['int8']:.1f} % int8 in ~{cost['minutes']} min on 2 CPU cores" if cost else ""
    return f"{name} ({r['description']}{measured})"
