"""Serving-time request classifier: route key (task type/subtype) and difficulty.

    from classifier import load
    clf = load()                      # shipped default artefact
    clf.predict({"prompt": "fix this test"}).route_key

Imports numpy, tokenizers and onnxruntime only; never torch, scikit-learn or MLflow
(MLflow is imported lazily when `load` is given a `models:/` URI).
"""

from classifier.errors import ArtefactError, ClassifierError, RequestError, TaxonomyError
from classifier.features import Features, Featuriser, Session, parse_request
from classifier.model import Classifier, Prediction, load
from classifier.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "ArtefactError",
    "Classifier",
    "ClassifierError",
    "Featuriser",
    "Features",
    "Prediction",
    "RequestError",
    "Session",
    "Taxonomy",
    "TaxonomyError",
    "load",
    "load_taxonomy",
    "parse_request",
]
