"""Train the default safety model on the labelled captions and measure it on a held-out split.

Runs in the model server's environment (`.venv-triton/bin/python -m riskstream.safety_model.train`),
because it needs the same scikit-learn and alt-profanity-check as the Triton model that loads the result.
The held-out split is fixed (seeded, stratified by first label), so the metrics describe the shipped model.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
from pathlib import Path

import joblib
import numpy as np
from profanity_check import predict_prob
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from sklearn.model_selection import train_test_split

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "model_repository" / "safety_text"
VERSION_DIR = MODEL_DIR / "1"
DATASET = REPO_ROOT / "datasets" / "labelled_captions.csv"
SEED = 7
THRESHOLD = 0.5


def _features_module():
    spec = importlib.util.spec_from_file_location("safety_features", VERSION_DIR / "safety_features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_dataset(path: Path, categories: tuple[str, ...]) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts, a 0/1 label matrix (rows x categories) and each row's stratum (first label or 'safe')."""
    texts, labels, strata = [], [], []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            tags = [t for t in row["labels"].split("|") if t]
            unknown = set(tags) - set(categories)
            if unknown:
                raise ValueError(f"{path}: unknown labels {sorted(unknown)} for {row['text']!r}")
            texts.append(row["text"])
            labels.append([1 if c in tags else 0 for c in categories])
            strata.append(tags[0] if tags else "safe")
    return texts, np.array(labels), strata


def evaluate(y_true: np.ndarray, scores: np.ndarray, categories: tuple[str, ...]) -> dict:
    report = {}
    for i, name in enumerate(categories):
        predicted = scores[:, i] >= THRESHOLD
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true[:, i], predicted, average="binary", zero_division=0)
        report[name] = {
            "positives": int(y_true[:, i].sum()),
            "precision": round(float(precision), 3),
            "recall": round(float(recall), 3),
            "f1": round(float(f1), 3),
            "roc_auc": round(float(roc_auc_score(y_true[:, i], scores[:, i])), 3),
        }
    any_true = y_true.max(axis=1)
    any_pred = scores.max(axis=1) >= THRESHOLD
    precision, recall, f1, _ = precision_recall_fscore_support(any_true, any_pred, average="binary", zero_division=0)
    safe = any_true == 0
    report["any_unsafe"] = {"positives": int(any_true.sum()), "precision": round(float(precision), 3),
                            "recall": round(float(recall), 3), "f1": round(float(f1), 3),
                            "safe_rows": int(safe.sum()),
                            "false_positive_rate": round(float(any_pred[safe].mean()), 3) if safe.any() else 0.0}
    return report


def train(output_dir: Path = VERSION_DIR) -> dict:
    features = _features_module()
    categories = features.CATEGORIES
    texts, y, strata = load_dataset(DATASET, categories)
    train_idx, test_idx = train_test_split(np.arange(len(texts)), test_size=0.3, random_state=SEED, stratify=strata)
    train_texts = [texts[i] for i in train_idx]
    test_texts = [texts[i] for i in test_idx]

    vectorizer = features.new_vectorizer().fit(train_texts)
    x_train = features.featurize(vectorizer, train_texts)
    x_test = features.featurize(vectorizer, test_texts)
    classifiers = [
        LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000, random_state=SEED).fit(x_train, y[train_idx, i])
        for i in range(len(categories))
    ]
    scores = np.column_stack([clf.predict_proba(x_test)[:, 1] for clf in classifiers])

    baseline = np.asarray(predict_prob(test_texts)).reshape(-1, 1)
    metrics = {
        "dataset": str(DATASET.relative_to(REPO_ROOT)),
        "rows": len(texts), "train_rows": len(train_idx), "held_out_rows": len(test_idx),
        "threshold": THRESHOLD, "seed": SEED,
        "held_out": evaluate(y[test_idx], scores, categories),
        "baseline_profanity_check_alone_toxicity": evaluate(y[test_idx][:, :1], baseline, ("toxicity",))["toxicity"],
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump({"categories": categories, "vectorizer": vectorizer, "classifiers": classifiers},
                output_dir / "classifier.joblib")
    (MODEL_DIR / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the artifact already exists")
    args = parser.parse_args(argv)
    if args.if_missing and (VERSION_DIR / "classifier.joblib").exists():
        return 0
    metrics = train()
    print(json.dumps(metrics["held_out"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
