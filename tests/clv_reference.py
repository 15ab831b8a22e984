"""An independent computation of the customer-value models (nothing here imports the project):
maximum-likelihood fits with numpy/scipy and the closed-form predictions of the papers.

BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", eqs. (6), (10), and
the P(alive) of Fader, Hardie & Lee, note 008. Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM
and CLV", and Fader & Hardie (2013), note 025 (the conditional expected spend, eq. 5).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1
from scipy.special import digamma as psi

PUBLISHED = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259,
             "p": 6.2496, "q": 3.7442, "v": 15.4435}


def bgnbd_ll(params, x, tx, T, grad=False):
    """Per-customer log-likelihood (and its gradient in log-parameters)."""
    r, al, a, b = params
    xp = x > 0
    a12 = gammaln(r + x) - gammaln(r) + r * np.log(al) + betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(al + T)
    bx1 = np.where(xp, b + x - 1, 1.0)
    a4 = np.where(xp, np.log(a) - np.log(bx1) - (r + x) * np.log(al + tx), -np.inf)
    c = np.logaddexp(a3, a4)
    ll = a12 + c
    if not grad:
        return ll
    w = np.exp(a4 - c)
    d_r = psi(r + x) - psi(r) + np.log(al) - (1 - w) * np.log(al + T) - w * np.log(al + tx)
    d_al = r / al - (r + x) * ((1 - w) / (al + T) + w / (al + tx))
    d_a = psi(a + b) - psi(a + b + x) + w / a
    d_b = psi(b + x) - psi(a + b + x) - psi(b) + psi(a + b) - w / bx1
    return ll, np.stack([d_r * r, d_al * al, d_a * a, d_b * b])


def gg_ll(params, x, m, grad=False):
    """Per-customer log-likelihood of the mean spend m over x > 0 repeat purchases."""
    p, q, v = params
    px, lvxm = p * x, np.log(v + x * m)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
          + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * lvxm)
    if not grad:
        return ll
    d_p = x * (psi(px + q) - psi(px) + np.log(m) + np.log(x) - lvxm)
    d_q = psi(px + q) - psi(q) + np.log(v) - lvxm
    d_v = q / v - (px + q) / (v + x * m)
    return ll, np.stack([d_p * p, d_q * q, d_v * v])


def _fit(ll_fn, data, x0):
    data = [np.asarray(d, dtype=float) for d in data]
    n = len(data[0])

    def nll(logp):
        ll, g = ll_fn(np.exp(logp), *data, grad=True)
        return -ll.sum() / n, -g.sum(axis=1) / n

    res = minimize(nll, np.log(x0), jac=True, method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
    assert res.success or np.max(np.abs(res.jac)) < 1e-6, res.message
    return np.exp(res.x)


def fit_bgnbd(x, tx, T) -> dict:
    return dict(zip(("r", "alpha", "a", "b"), _fit(bgnbd_ll, (x, tx, T), (1.0, 1.0, 1.0, 1.0)),
                    strict=True))


def fit_gamma_gamma(x, m) -> dict:
    """Repeat customers only (x > 0)."""
    return dict(zip(("p", "q", "v"), _fit(gg_ll, (x, m), (1.0, 1.0, 1.0)), strict=True))


def p_alive(f, x, tx, T):
    r, al, a, b = f["r"], f["alpha"], f["a"], f["b"]
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    odds = np.where(x > 0, a / np.where(x > 0, b + x - 1, 1.0)
                    * ((al + T) / (al + tx)) ** (r + x), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(f, t, x, tx, T):
    """E[purchases in (T, T + t]] given x, tx, T (eq. 10)."""
    r, al, a, b = f["r"], f["alpha"], f["a"], f["b"]
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    z = t / (al + T + t)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((al + T) / (al + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    odds = np.where(x > 0, a / np.where(x > 0, b + x - 1, 1.0)
                    * ((al + T) / (al + tx)) ** (r + x), 0.0)
    return head * body / (1 + odds)


def expected_spend(f, x, m):
    """E[spend per purchase | x repeat purchases with mean m] (x = 0: the population mean)."""
    p, q, v = f["p"], f["q"], f["v"]
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return p * (v + x * m) / (p * x + q - 1)
