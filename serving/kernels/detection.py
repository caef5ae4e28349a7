"""Object detection: NonMaxSuppression."""

from __future__ import annotations

import numpy as np

from serving.kernels.registry import kernel


def _corners(xp, boxes, center_point_box):
    """``(..., 4)`` boxes as ``(y_min, x_min, y_max, x_max)`` whatever the input encoding."""
    if center_point_box:
        xc, yc, w, h = (boxes[..., i] for i in range(4))
        return yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
    y1, x1, y2, x2 = (boxes[..., i] for i in range(4))
    return xp.minimum(y1, y2), xp.minimum(x1, x2), xp.maximum(y1, y2), xp.maximum(x1, x2)


def _pairwise_iou(xp, boxes, center_point_box):
    """IoU of every pair of boxes per batch: ``(B, N, N)``; degenerate boxes overlap nothing."""
    y0, x0, y1, x1 = _corners(xp, boxes, center_point_box)
    ih = xp.minimum(y1[:, :, None], y1[:, None, :]) - xp.maximum(y0[:, :, None], y0[:, None, :])
    iw = xp.minimum(x1[:, :, None], x1[:, None, :]) - xp.maximum(x0[:, :, None], x0[:, None, :])
    inter = xp.where((ih > 0) & (iw > 0), ih * iw, 0)
    area = (y1 - y0) * (x1 - x0)
    union = area[:, :, None] + area[:, None, :] - inter
    valid = (inter > 0) & (area[:, :, None] > 0) & (area[:, None, :] > 0) & (union > 0)
    return xp.where(valid, inter / xp.where(valid, union, 1), 0)


def _to_host(xp, a):
    return getattr(xp, "asnumpy", np.asarray)(a)


@kernel("NonMaxSuppression", since=10)
def NonMaxSuppression(
    ctx,
    boxes,
    scores,
    max_output_boxes_per_class=None,
    iou_threshold=None,
    score_threshold=None,
    *,
    center_point_box=0,
):
    xp = ctx.xp
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 3 or scores.shape[::2] != boxes.shape[:2]:
        raise ValueError(
            f"NonMaxSuppression expects boxes (B, N, 4) and scores (B, C, N), "
            f"got {tuple(boxes.shape)} and {tuple(scores.shape)}"
        )
    limit = 0 if max_output_boxes_per_class is None or max_output_boxes_per_class.size == 0 else None
    if limit is None:
        limit = max(int(max_output_boxes_per_class.reshape(-1)[0]), 0)
    iou_limit = float(iou_threshold.reshape(-1)[0]) if iou_threshold is not None and iou_threshold.size else 0.0
    floor = float(score_threshold.reshape(-1)[0]) if score_threshold is not None and score_threshold.size else None
    selected = []
    if limit > 0:
        # The IoU matrix is built on the device; the greedy pass over sorted candidates is sequential, on the host.
        overlaps = _to_host(xp, _pairwise_iou(xp, boxes.astype(xp.float64), center_point_box)) > iou_limit
        host_scores = _to_host(xp, scores)
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                row = host_scores[b, c]
                order = np.argsort(-row, kind="stable")
                if floor is not None:
                    order = order[row[order] > floor]
                alive = np.ones(row.shape[0], dtype=bool)
                kept = 0
                for index in order:
                    if kept == limit:
                        break
                    if alive[index]:
                        selected.append((b, c, index))
                        kept += 1
                        alive &= ~overlaps[b, index]
    return xp.asarray(np.array(selected, dtype=np.int64).reshape(-1, 3))
