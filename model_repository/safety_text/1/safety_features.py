"""Features of the default safety model, shared by its training script and its Triton model.

Text -> [TF-IDF word 1-2 grams | TF-IDF char 2-5 grams | offensive-language probability].
The last column comes from alt-profanity-check's linear model, trained by its authors on about
200k human-labelled comments; the TF-IDF part is fitted on riskstream's labelled captions.
"""
from __future__ import annotations

import numpy as np
from profanity_check import predict_prob
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

CATEGORIES = ("toxicity", "hate", "sexual", "violence", "self_harm", "spam")


def new_vectorizer() -> FeatureUnion:
    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
    ])


def featurize(vectorizer: FeatureUnion, texts: list[str]) -> sparse.csr_matrix:
    offensive = np.asarray(predict_prob(texts), dtype=np.float64).reshape(-1, 1)
    return sparse.hstack([vectorizer.transform(texts), sparse.csr_matrix(offensive)]).tocsr()
