"""Ranking metrics shared by anomaly detection and link prediction: one ROC/AUC, and average precision."""

from __future__ import annotations

import torch


def roc(scores: torch.Tensor, positive: torch.Tensor) -> dict:
    """ROC curve and AUC for `scores` (higher = more anomalous) against boolean `positive` (is an anomaly).

    AUC = P(score of a random anomaly > score of a random normal image), ties counted half (Mann–Whitney)."""
    s, p = scores.double().flatten(), positive.bool().flatten()
    n_pos, n_neg = int(p.sum()), int((~p).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC needs both anomalies and normal images")
    order = torch.argsort(s, descending=True)
    s_sorted, p_sorted = s[order], p[order].double()
    tp, fp = torch.cumsum(p_sorted, 0), torch.cumsum(1 - p_sorted, 0)
    last = torch.cat([s_sorted[1:] != s_sorted[:-1], torch.tensor([True])])  # end of each group of tied scores
    tpr = torch.cat([torch.zeros(1), tp[last] / n_pos])
    fpr = torch.cat([torch.zeros(1), fp[last] / n_neg])
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": float(torch.trapezoid(tpr, fpr))}


def auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """P(score of a random positive > score of a random negative), ties counted half (Mann–Whitney U)."""
    scores = torch.cat([pos.flatten(), neg.flatten()])
    return roc(scores, torch.cat([torch.ones(pos.numel()), torch.zeros(neg.numel())]))["auc"]


def average_precision(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Mean of the precision at the rank of each positive (scikit-learn's definition, without ties)."""
    scores = torch.cat([pos, neg])
    truth = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
    order = torch.argsort(scores, descending=True, stable=True)
    hits = truth[order]
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())
