"""The bar every result is shown beside: TF-IDF word n-grams + a linear model (scikit-learn)."""
from __future__ import annotations

import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge

from embbert_tf import metrics
from embbert_tf.data import Split


def _join(split: Split) -> list[str]:
    return [" [SEP] ".join(parts) for parts in zip(*split.texts)]


def tfidf_linear(train: Split, evaluation: Split, seed: int = 0) -> dict:
    """Fit on `train`, score on `evaluation`. Returns the task metrics plus seconds taken."""
    started = time.time()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform(_join(train))
    regression = train.task.is_regression
    model = Ridge(alpha=1.0) if regression else LogisticRegression(C=4.0, max_iter=2000, random_state=seed)
    model.fit(x_train, train.labels)
    x_eval = vectorizer.transform(_join(evaluation))
    scores = model.predict(x_eval)[:, None] if regression else model.decision_function(x_eval)
    if not regression and scores.ndim == 1:  # binary: one margin -> two logits
        scores = __import__("numpy").stack([-scores, scores], axis=1)
    return {**metrics.compute(evaluation.labels, scores, regression), "seconds": round(time.time() - started, 2),
            "model": "TF-IDF 1-2 grams + " + ("ridge" if regression else "logistic regression (C=4)")}
