"""A third router for the benchmark: the success model's shape on one set.

On the training fold, a Rasch model (training.irt) gives every model an ability and every
item a difficulty on one logit scale; a ridge regression learns an item's difficulty from
its prompt embedding. A test item's expected success for a model is then
E[sigmoid(ability - difficulty)] with the predicted difficulty's residual spread folded in
(the probit approximation). Unlike the factored router it needs no label set: difficulty
is continuous and learnt from outcomes, not from hand labels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit
from sklearn.linear_model import Ridge

from training import irt

RIDGE_ALPHA = 1.0


def irt_scores(x: np.ndarray, outcomes: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray) -> np.ndarray:
    """(n_test, n_models) expected success from a Rasch fit on the training fold."""
    y = outcomes[train_idx]  # (n_train, m)
    n_train, m = y.shape
    ev = irt.Evidence(
        n_nodes=m, n_sources=1, item_source=np.zeros(n_train, dtype=int),
        node=np.tile(np.arange(m), n_train), item=np.repeat(np.arange(n_train), m), y=y.ravel().astype(float),
    )
    fit = irt.fit(ev, max_iter=500)
    reg = Ridge(alpha=RIDGE_ALPHA).fit(x[train_idx], fit.b)
    resid = fit.b - reg.predict(x[train_idx])
    spread = float(np.sqrt(np.mean(resid**2)))
    kappa = 1.0 / math.sqrt(1.0 + math.pi * spread**2 / 8.0)
    b_hat = reg.predict(x[test_idx])
    return expit(kappa * (fit.theta[None, :] - b_hat[:, None]))
