"""Item response model: model abilities and item difficulties on one logit scale.

P(success | ability node k, item i) = sigmoid(a_s * (theta_k - b_i)), where s is the
item's source and a_s = exp(alpha_s) the source's discrimination (a 2PL with one slope per
source). Fitted by regularised maximum likelihood (a MAP estimate) with L-BFGS:

- item difficulties b_i ~ N(mu_s, ITEM_SD^2) around a free per-source mean (an item every
  model solves gets a finite, not infinite, easiness);
- abilities theta_k ~ N(0, ABILITY_SD^2), weak;
- log-slopes alpha_s ~ N(0, SLOPE_SD^2);
- the reference source has mu = 0 and alpha = 0: it fixes the scale's origin and unit.

Two kinds of evidence besides per-item outcomes (which may be fractional, e.g. pass@1):
aggregate rates (a model's listed rate over all items of a source, worth n Bernoulli
observations of the source's mean success) and soft links (two ability nodes believed
close, e.g. a stand-in: a Gaussian penalty on their difference). Models that are the same
across sources share one node. Offline only (scipy); serving reads the tables it feeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

ITEM_SD = 2.5
ABILITY_SD = 3.0
SLOPE_SD = 0.5


@dataclass
class Evidence:
    """Everything the fit sees. Indices: nodes 0..n_nodes-1, items 0..len(item_source)-1,
    sources 0..n_sources-1."""

    n_nodes: int
    n_sources: int
    item_source: np.ndarray  # (n_items,) source of each item
    node: np.ndarray  # (n_responses,) ability node of each outcome
    item: np.ndarray  # (n_responses,) item of each outcome
    y: np.ndarray  # (n_responses,) outcome in [0, 1]
    agg_node: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    agg_source: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    agg_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))
    agg_n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    link_a: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    link_b: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    link_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Fit:
    theta: np.ndarray  # (n_nodes,)
    theta_se: np.ndarray  # (n_nodes,) from the ability's Fisher information, items held fixed
    b: np.ndarray  # (n_items,)
    alpha: np.ndarray  # (n_sources,) log-slopes
    mu: np.ndarray  # (n_sources,) mean item difficulty per source
    nll: float
    converged: bool
    iterations: int

    def slope(self, source: int) -> float:
        return float(np.exp(self.alpha[source]))


def _unpack(x: np.ndarray, ev: Evidence, ref: int, slopes: bool) -> tuple[np.ndarray, ...]:
    k, n_items, s = ev.n_nodes, len(ev.item_source), ev.n_sources
    theta, b = x[:k], x[k:k + n_items]
    mu = np.insert(x[k + n_items:k + n_items + s - 1], ref, 0.0)
    alpha = np.insert(x[k + n_items + s - 1:], ref, 0.0) if slopes else np.zeros(s)
    return theta, b, alpha, mu


def _objective(x: np.ndarray, ev: Evidence, ref: int, slopes: bool = True) -> tuple[float, np.ndarray]:
    theta, b, alpha, mu = _unpack(x, ev, ref, slopes)
    a_item = np.exp(alpha)[ev.item_source]
    k, n_items = ev.n_nodes, len(b)
    # per-item outcomes
    a = a_item[ev.item]
    z = a * (theta[ev.node] - b[ev.item])
    p = expit(z)
    nll = -float(np.sum(ev.y * np.log(p + 1e-12) + (1 - ev.y) * np.log(1 - p + 1e-12)))
    g = ev.y - p  # d loglik / dz
    g_theta = -np.bincount(ev.node, g * a, minlength=k)
    g_b = np.bincount(ev.item, g * a, minlength=n_items)
    g_alpha = -np.bincount(ev.item_source[ev.item], g * z, minlength=ev.n_sources)
    # aggregate rates: n Bernoulli draws of the source's mean success
    for node, src, rate, n in zip(ev.agg_node, ev.agg_source, ev.agg_rate, ev.agg_n, strict=True):
        items = np.flatnonzero(ev.item_source == src)
        za = a_item[items] * (theta[node] - b[items])
        pa = expit(za)
        pbar = float(np.clip(pa.mean(), 1e-9, 1 - 1e-9))
        nll -= n * (rate * np.log(pbar) + (1 - rate) * np.log(1 - pbar))
        dl = n * (rate / pbar - (1 - rate) / (1 - pbar))  # d loglik / d pbar
        dp = pa * (1 - pa) / len(items)
        g_theta[node] -= dl * float(np.sum(dp * a_item[items]))
        g_b[items] += dl * dp * a_item[items]
        g_alpha[src] -= dl * float(np.sum(dp * za))
    # priors
    nll += 0.5 * float(np.sum(theta**2)) / ABILITY_SD**2
    g_theta += theta / ABILITY_SD**2
    dev = b - mu[ev.item_source]
    nll += 0.5 * float(np.sum(dev**2)) / ITEM_SD**2
    g_b += dev / ITEM_SD**2
    g_mu = -np.bincount(ev.item_source, dev, minlength=ev.n_sources) / ITEM_SD**2
    nll += 0.5 * float(np.sum(alpha**2)) / SLOPE_SD**2
    g_alpha += alpha / SLOPE_SD**2
    # soft links between ability nodes
    if len(ev.link_a):
        d = theta[ev.link_a] - theta[ev.link_b]
        nll += 0.5 * float(np.sum((d / ev.link_sd) ** 2))
        gl = d / ev.link_sd**2
        g_theta += np.bincount(ev.link_a, gl, minlength=k) - np.bincount(ev.link_b, gl, minlength=k)
    parts = [g_theta, g_b, np.delete(g_mu, ref)]
    if slopes:
        parts.append(np.delete(g_alpha, ref))
    return nll, np.concatenate(parts)


def fit(ev: Evidence, reference_source: int = 0, slopes: bool = False, max_iter: int = 3000) -> Fit:
    """MAP abilities, difficulties, source means and (with `slopes`) per-source log-slopes.

    Without `slopes` every source has slope 1 (a Rasch model): with few models per source
    (DebugBench has two) free slopes drift toward perfect separation, every item a step."""
    n_items = len(ev.item_source)
    x0 = np.zeros(ev.n_nodes + n_items + (2 if slopes else 1) * (ev.n_sources - 1))
    res = minimize(_objective, x0, args=(ev, reference_source, slopes), jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": 1e-5})
    theta, b, alpha, mu = _unpack(res.x, ev, reference_source, slopes)
    return Fit(theta=theta, theta_se=_ability_se(theta, b, alpha, ev), b=b, alpha=alpha, mu=mu,
               nll=float(res.fun), converged=bool(res.success), iterations=int(res.nit))


def _ability_se(theta: np.ndarray, b: np.ndarray, alpha: np.ndarray, ev: Evidence) -> np.ndarray:
    """1 / sqrt(Fisher information of each ability), items and slopes held fixed."""
    a_item = np.exp(alpha)[ev.item_source]
    a = a_item[ev.item]
    p = expit(a * (theta[ev.node] - b[ev.item]))
    info = np.bincount(ev.node, a * a * p * (1 - p), minlength=ev.n_nodes) + 1 / ABILITY_SD**2
    for node, src, n in zip(ev.agg_node, ev.agg_source, ev.agg_n, strict=True):
        items = np.flatnonzero(ev.item_source == src)
        pa = expit(a_item[items] * (theta[node] - b[items]))
        pbar = float(np.clip(pa.mean(), 1e-9, 1 - 1e-9))
        slope = float(np.mean(a_item[items] * pa * (1 - pa)))
        info[node] += n * slope**2 / (pbar * (1 - pbar))
    if len(ev.link_a):
        info += np.bincount(ev.link_a, 1 / ev.link_sd**2, minlength=ev.n_nodes)
        info += np.bincount(ev.link_b, 1 / ev.link_sd**2, minlength=ev.n_nodes)
    return 1 / np.sqrt(info)


def success(theta: float | np.ndarray, b: np.ndarray, slope: np.ndarray | float) -> np.ndarray:
    """P(success) of ability `theta` on items of difficulty `b` (broadcasting)."""
    return expit(np.asarray(slope) * (np.asarray(theta) - np.asarray(b)))


def ability_for_rate(rate: float, b: np.ndarray, slope: np.ndarray | float) -> float:
    """The ability whose mean success over items `b` equals `rate` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if float(np.mean(success(mid, b, slope))) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
