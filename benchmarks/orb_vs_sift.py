"""ORB (the keypoints signal) vs SIFT on crops of real photos: verified share, false matches, time, bytes.

For every Nth photo of DIR (about COUNT of them), a 50% and a 25% crop (seeded random position,
JPEG 90) is checked against its source and 5 random other photos: ORB through
``Keypoints.verify``; SIFT with 60 or 250 keypoints per stored image (twice as many in the
query), a ratio test and the same MAGSAC++ fit.  A pair is verified at 8 inliers or more.

    python benchmarks/orb_vs_sift.py DIR COUNT
"""

import glob
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crop_detection import crop  # the same seeded crops as the crop benchmark

from lookalike.decode import decode
from lookalike.settings import DecodeSettings
from lookalike.signals.keypoints import Keypoints, _view_size

files = sorted(glob.glob(sys.argv[1] + "/*.jpg"))[
    :: max(1, len(glob.glob(sys.argv[1] + "/*.jpg")) // int(sys.argv[2]))
]
ds, sig = DecodeSettings(), Keypoints()
rng = np.random.default_rng(3)


def grey(data):
    d = decode(data, ds, None, 512)
    w, h = _view_size(*d.image.size)
    return d, d.grey(w, h)


def sift_feat(g, n):
    kp, de = cv2.SIFT_create(nfeatures=n).detectAndCompute(g, None)
    if de is None:
        return np.empty((0, 2), np.float32), np.empty((0, 128), np.float32)
    return np.array([k.pt for k in kp], np.float32), np.clip(de, 0, 255).astype(np.uint8).astype(np.float32)


def sift_inliers(q, s):
    (qp, qd), (sp, sd) = q, s
    if len(qd) < 6 or len(sd) < 6:
        return 0
    good = [
        m[0]
        for m in cv2.BFMatcher(cv2.NORM_L2).knnMatch(qd, sd, k=2)
        if len(m) == 2 and m[0].distance < 0.8 * m[1].distance
    ]
    if len(good) < 6:
        return 0
    H, mask = cv2.findHomography(
        qp[[m.queryIdx for m in good]],
        sp[[m.trainIdx for m in good]],
        cv2.USAC_MAGSAC,
        4.0,
        maxIters=1000,
        confidence=0.995,
    )
    return int(mask.sum()) if H is not None else 0


datas = [Path(f).read_bytes() for f in files]
t = time.perf_counter()
orb_stored = [sig.extract(decode(d, ds, None, 512)) for d in datas]
orb_t = (time.perf_counter() - t) / len(datas)
greys = [grey(d)[1] for d in datas]
res = {}
for n in (60, 250):
    t = time.perf_counter()
    sift_stored = [sift_feat(g, n) for g in greys]
    res[n] = [(time.perf_counter() - t) / len(datas), sift_stored]
print(
    f"{len(datas)} photos; extract ms/image: ORB {orb_t * 1000:.0f}, SIFT60 {res[60][0] * 1000:.0f}, SIFT250 {res[250][0] * 1000:.0f}"
)
print("bytes/image: ORB 250x36 = 9036; SIFT 60x(128+4) = 7920; SIFT 250x(128+4) = 33000")
for area in (0.5, 0.25):
    hits = {"orb": 0, 60: 0, 250: 0}
    false = {"orb": 0, 60: 0, 250: 0}
    pairs = 0
    for i, d in enumerate(datas):
        c = crop(d, area, rng)
        dq, gq = grey(c)
        qf = sig.query(dq)
        others = [j for j in rng.choice(len(datas), 6, replace=False) if j != i][:5]
        m = sig.verify(qf, orb_stored[i])
        hits["orb"] += bool(m and m.inliers >= 8)
        false["orb"] += sum(bool((mm := sig.verify(qf, orb_stored[j])) and mm.inliers >= 8) for j in others)
        for n in (60, 250):
            qs = sift_feat(gq, 2 * n)
            hits[n] += sift_inliers(qs, res[n][1][i]) >= 8
            false[n] += sum(sift_inliers(qs, res[n][1][j]) >= 8 for j in others)
        pairs += len(others)
    print(
        f"crop{int(area * 100)}: verified (>= 8 inliers) ORB {hits['orb'] / len(datas):.2f}, SIFT60 {hits[60] / len(datas):.2f}, SIFT250 {hits[250] / len(datas):.2f}; "
        f"false matches of {pairs} unrelated pairs: ORB {false['orb']}, SIFT60 {false[60]}, SIFT250 {false[250]}"
    )
