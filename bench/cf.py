"""Benchmark the CF engine against scikit-surprise on MovieLens-100k and the demo shop.

Run ``.venv/bin/python bench/cf.py`` (needs ``../shared/data/ml-100k`` and the ``bench`` extra). It prints a
table, writes ``docs/cf-benchmark.md``, ``bench/results/cf.json`` and ``bench/results/cf.png``.
"""

from __future__ import annotations

import os

# Surprise runs on one core; pinning BLAS to one thread too keeps the comparison like for like, and avoids
# OpenBLAS spin-waiting when other processes share the machine. Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.shop.recommend import KNNRecommender  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ml-100k"
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "cf-benchmark.md"
SEED = 0
SETTINGS = [
    (kind, sim, means)
    for kind in ("user", "item")
    for sim in ("cosine", "pearson", "msd")
    for means in (True, False)
]
Ratings = npt.NDArray[np.int64]


def load_ratings() -> Ratings:
    """MovieLens-100k as an (n, 3) int array of user, item, rating, in file order."""
    path = DATA / "u.data"
    if not path.is_file():
        sys.exit(f"error: {path} not found: the CF bench needs MovieLens-100k in ../shared/data/ml-100k")
    data = np.loadtxt(path, dtype=np.int64)
    return data[:, :3]


def folds(n: int, k: int = 5) -> list[npt.NDArray[np.int64]]:
    """Shuffled test-index folds, like surprise.model_selection.KFold(shuffle=True)."""
    order = np.random.default_rng(SEED).permutation(n)
    return [order[f * n // k : (f + 1) * n // k] for f in range(k)]


def rmse_mae(pred: npt.NDArray[np.float64], truth: npt.NDArray[np.float64]) -> tuple[float, float]:
    err = pred - truth
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))


# ---------------------------------------------------------------------------- accuracy / exactness


def run_cv(ratings: Ratings, kind: str, sim: str, means: bool, n_folds: int) -> dict[str, Any]:
    """Fit + predict every test pair of ``n_folds`` folds with both libraries; times, errors and agreement."""
    import surprise

    test_folds = folds(len(ratings))[:n_folds]
    reader = surprise.Reader(rating_scale=(1, 5))
    dataset = surprise.Dataset(reader)
    raw = [(str(u), str(i), float(r), None) for u, i, r in ratings.tolist()]
    ours_t = theirs_t = 0.0
    ours_err: list[tuple[float, float]] = []
    theirs_err: list[tuple[float, float]] = []
    agree = total = 0
    for test_idx in test_folds:
        mask = np.ones(len(ratings), dtype=bool)
        mask[test_idx] = False
        train_idx = np.flatnonzero(mask)
        train, test = ratings[train_idx], ratings[test_idx]
        start = time.perf_counter()
        model = KNNRecommender(kind=kind, similarity=sim, k=40, min_k=1, with_means=means)
        model.fit(train[:, 0], train[:, 1], train[:, 2], rating_scale=(1, 5))
        ours = model.predict(test[:, 0], test[:, 1])
        ours_t += time.perf_counter() - start
        start = time.perf_counter()
        trainset = dataset.construct_trainset([raw[j] for j in train_idx.tolist()])
        algo_class = surprise.KNNWithMeans if means else surprise.KNNBasic
        algo = algo_class(
            k=40, min_k=1, sim_options={"name": sim, "user_based": kind == "user"}, verbose=False
        )
        algo.fit(trainset)
        theirs = np.array([algo.predict(raw[j][0], raw[j][1]).est for j in test_idx.tolist()])
        theirs_t += time.perf_counter() - start
        truth = test[:, 2].astype(np.float64)
        ours_err.append(rmse_mae(ours, truth))
        theirs_err.append(rmse_mae(theirs, truth))
        agree += int(np.sum(np.abs(ours - theirs) <= 1e-6))
        total += len(test)
    return {
        "setting": f"{kind} {sim} {'WithMeans' if means else 'Basic'}",
        "folds": n_folds,
        "ours_s": ours_t,
        "surprise_s": theirs_t,
        "ours_rmse": float(np.mean([e[0] for e in ours_err])),
        "ours_mae": float(np.mean([e[1] for e in ours_err])),
        "surprise_rmse": float(np.mean([e[0] for e in theirs_err])),
        "surprise_mae": float(np.mean([e[1] for e in theirs_err])),
        "match": agree / total,
    }


# ----------------------------------------------------------------- top-10 for every user (workers)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def worker_topn_ours() -> dict[str, Any]:
    ratings = load_ratings()
    start = time.perf_counter()
    model = KNNRecommender(kind="user", similarity="cosine", k=40).fit(
        ratings[:, 0], ratings[:, 1], ratings[:, 2]
    )
    lists = [model.top_n(int(u), 10) for u in np.unique(ratings[:, 0]).tolist()]
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "users": len(lists), "peak_rss_mb": peak_rss_mb()}


def worker_topn_ours_by_rating() -> dict[str, Any]:
    """Same task as Surprise's loop: predict every unrated (user, item) and keep the 10 best ratings."""
    ratings = load_ratings()
    start = time.perf_counter()
    model = KNNRecommender(kind="user", similarity="cosine", k=40).fit(
        ratings[:, 0], ratings[:, 1], ratings[:, 2]
    )
    users, items = np.unique(ratings[:, 0]), np.unique(ratings[:, 1])
    rated = np.zeros((users.max() + 1, items.max() + 1), dtype=bool)
    rated[ratings[:, 0], ratings[:, 1]] = True
    uu, ii = np.nonzero(~rated[np.ix_(users, items)])
    scores = model.predict(users[uu], items[ii])
    grid = np.full((len(users), len(items)), -np.inf)
    grid[uu, ii] = scores
    top = np.argsort(-grid, axis=1, kind="stable")[:, :10]
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "users": int(top.shape[0]), "pairs": len(uu), "peak_rss_mb": peak_rss_mb()}


def worker_topn_surprise(sample: int) -> dict[str, Any]:
    import surprise

    ratings = load_ratings()
    start = time.perf_counter()
    reader = surprise.Reader(rating_scale=(1, 5))
    raw = [(str(u), str(i), float(r), None) for u, i, r in ratings.tolist()]
    trainset = surprise.Dataset(reader).construct_trainset(raw)
    algo = surprise.KNNWithMeans(k=40, sim_options={"name": "cosine", "user_based": True}, verbose=False)
    algo.fit(trainset)
    fit_s = time.perf_counter() - start
    all_items = [trainset.to_raw_iid(i) for i in trainset.all_items()]
    users = [trainset.to_raw_uid(u) for u in trainset.all_users()]
    picked = users[:: max(1, len(users) // sample)][:sample]
    start = time.perf_counter()
    for uid in picked:
        seen = {trainset.to_raw_iid(i) for i, _ in trainset.ur[trainset.to_inner_uid(uid)]}
        preds = [algo.predict(uid, iid) for iid in all_items if iid not in seen]
        preds.sort(key=lambda p: p.est, reverse=True)
    loop_s = time.perf_counter() - start
    return {
        "fit_s": fit_s,
        "sample_users": len(picked),
        "sample_loop_s": loop_s,
        "seconds": fit_s + loop_s * len(users) / len(picked),
        "users": len(users),
        "peak_rss_mb": peak_rss_mb(),
    }


def in_subprocess(name: str, *args: str) -> dict[str, Any]:
    """Run a worker in a fresh interpreter so its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------- ranking quality


def ranking_metrics(
    ranked: Sequence[Sequence[Any]], relevant: Sequence[set[Any]], n: int = 10
) -> dict[str, float]:
    """Mean precision@n, recall@n and NDCG@n (binary relevance) over users with something relevant."""
    discounts = 1.0 / np.log2(np.arange(2, n + 2))
    p, r, g = [], [], []
    for items, rel in zip(ranked, relevant, strict=True):
        if not rel:
            continue
        hits = np.array([1.0 if item in rel else 0.0 for item in list(items)[:n]] + [0.0] * (n - len(items)))
        p.append(hits.sum() / n)
        r.append(hits.sum() / len(rel))
        g.append(float(hits @ discounts) / float(discounts[: min(len(rel), n)].sum()))
    return {
        "p@10": float(np.mean(p)),
        "r@10": float(np.mean(r)),
        "ndcg@10": float(np.mean(g)),
        "users": len(p),
    }


def per_user_split(ratings: Ratings, share: float = 0.25) -> npt.NDArray[np.bool_]:
    """A random ``share`` of each user's ratings held out (mask of test rows)."""
    rng = np.random.default_rng(SEED)
    order = np.lexsort((rng.random(len(ratings)), ratings[:, 0]))
    users = ratings[order, 0]
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
    counts = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, counts)
    test = np.zeros(len(ratings), dtype=bool)
    test[order[rank < np.repeat(np.round(counts * share).astype(np.int64), counts)]] = True
    return test


def quality_movielens(ratings: Ratings) -> dict[str, dict[str, float]]:
    test = per_user_split(ratings)
    train = ratings[~test]
    model = KNNRecommender(kind="user", similarity="cosine", k=40).fit(train[:, 0], train[:, 1], train[:, 2])
    users = np.unique(train[:, 0]).tolist()
    relevant: dict[int, set[int]] = {u: set() for u in users}
    for u, i, _ in ratings[test].tolist():
        relevant.setdefault(u, set()).add(i)
    rel = [relevant[u] for u in users]
    ours = [[i for i, _ in model.top_n(u, 10)] for u in users]
    pop = model.popular(model.n_items)
    seen = {u: set(model.items_of(u)) for u in users}
    popular = [[i for i, _ in pop if i not in seen[u]][:10] for u in users]
    # Ranking by the rating formula (identical to Surprise's KNNWithMeans), to show why top_n does not.
    items = np.unique(train[:, 1])
    by_rating = []
    for u in users:
        unseen = np.array([i for i in items.tolist() if i not in seen[u]])
        est = model.predict(np.full(len(unseen), u), unseen)
        by_rating.append(unseen[np.argsort(-est, kind="stable")[:10]].tolist())
    return {
        "top_n (co-purchase item kNN)": ranking_metrics(ours, rel),
        "popularity": ranking_metrics(popular, rel),
        "KNNWithMeans predicted rating": ranking_metrics(by_rating, rel),
    }


def demo_shop_model() -> tuple[Any, KNNRecommender, str]:
    from app.shop.catalog import load_shop
    from app.shop.recommend.service import DEFAULT_MODEL_PATH, build_demo_model

    shop = load_shop()
    if DEFAULT_MODEL_PATH.exists():
        return shop, KNNRecommender.load(DEFAULT_MODEL_PATH), str(DEFAULT_MODEL_PATH.relative_to(ROOT))
    return shop, build_demo_model(shop), "built from app/data/shop"


def quality_shop(shop: Any) -> tuple[dict[str, dict[str, float]], str]:
    rows = [p for p in shop.purchases if p.product_id in shop.products]
    dates = np.array([p.last_purchase.toordinal() for p in rows])
    cutoff = int(np.quantile(dates, 0.8))
    customers = np.array([p.customer_id for p in rows])
    products = np.array([p.product_id for p in rows])
    train = dates < cutoff
    model = KNNRecommender(kind="item").fit(customers[train], products[train], np.ones(int(train.sum())))
    later: dict[str, set[str]] = {}
    for c, p in zip(customers[~train].tolist(), products[~train].tolist(), strict=True):
        later.setdefault(c, set()).add(p)
    users = [c for c in sorted(later) if model.knows_user(c)]
    seen = {c: set(model.items_of(c)) for c in users}
    rel = [later[c] - seen[c] for c in users]
    ours = [[i for i, _ in model.top_n(c, 10)] for c in users]
    pop = model.popular(model.n_items)
    popular = [[i for i, _ in pop if i not in seen[c]][:10] for c in users]
    from datetime import date

    split = f"train: last purchase before {date.fromordinal(cutoff)} (80% of rows); test: later purchases"
    return {
        "top_n (co-purchase item kNN)": ranking_metrics(ours, rel),
        "popularity": ranking_metrics(popular, rel),
    }, split


def latency(model: KNNRecommender, shop: Any) -> dict[str, float]:
    from app.shop.recommend.service import ShopRecommender

    rng = np.random.default_rng(SEED)
    customers = rng.choice(np.array(shop.customer_ids()), size=2000)
    for c in customers[:50].tolist():
        model.top_n(c, 10)
    times = []
    for c in customers.tolist():
        start = time.perf_counter()
        model.top_n(c, 10)
        times.append(time.perf_counter() - start)
    service = ShopRecommender(shop, model)
    svc_times = []
    for c in customers[:500].tolist():
        start = time.perf_counter()
        service.recommend(c, "recommend a gift under £10", 5)
        svc_times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    svc = np.array(svc_times) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "service_p50_ms": float(np.percentile(svc, 50)),
        "service_p99_ms": float(np.percentile(svc, 99)),
        "customers": len(shop.customer_ids()),
    }


# ------------------------------------------------------------------------------------------ report


def _load(values: Sequence[float] | None) -> str:
    return "n/a" if not values else " / ".join(f"{v:.2f}" for v in values)


def markdown(r: dict[str, Any]) -> str:
    head = r["cv"][0]
    topn, by_rating, sur = r["topn_ours"], r["topn_ours_by_rating"], r["topn_surprise"]
    lines = [
        "# Collaborative filtering benchmark",
        "",
        "Reproduce with `.venv/bin/python bench/cf.py` (MovieLens-100k from `../shared/data/ml-100k`, "
        f"scikit-surprise {r['surprise_version']}, numpy {np.__version__}, {os.cpu_count()} CPUs). "
        f"Measured {r['date']}; each ratio comes from the same run. The machine is shared: load average "
        f"(1/5/15 min) {_load(r.get('load_average_start'))} when the run started and "
        f"{_load(r.get('load_average_cv_end'))} after the cross-validation.",
        "",
        "## Speed",
        "",
        "| task | shopchat | Surprise | ratio |",
        "| --- | ---: | ---: | ---: |",
        "| 5-fold CV, fit + predict every test pair, user-based cosine KNNWithMeans k=40 "
        f"| {head['ours_s']:.2f} s | {head['surprise_s']:.1f} s "
        f"| **{head['surprise_s'] / head['ours_s']:.0f}x** |",
        f"| top-10 for all {topn['users']} users (fit + rank; `top_n`) | {topn['seconds']:.2f} s, "
        f"peak RSS {topn['peak_rss_mb']:.0f} MB | {sur['seconds']:.0f} s*, "
        f"peak RSS {sur['peak_rss_mb']:.0f} MB* | **{sur['seconds'] / topn['seconds']:.0f}x** |",
        f"| top-10 by predicted rating for all users ({by_rating['pairs']:,} unrated pairs predicted), the "
        f"same computation as Surprise's loop | {by_rating['seconds']:.2f} s, peak RSS "
        f"{by_rating['peak_rss_mb']:.0f} MB | {sur['seconds']:.0f} s* "
        f"| {sur['seconds'] / by_rating['seconds']:.0f}x |",
        f"| one customer's top-10 from the loaded demo-shop model ({r['latency']['customers']:,} customers) "
        f"| p50 {r['latency']['p50_ms']:.2f} ms, **p99 {r['latency']['p99_ms']:.2f} ms** | | |",
        f"| `ShopRecommender.recommend` with a price cap (parse + filter + rank + explain) "
        f"| p50 {r['latency']['service_p50_ms']:.2f} ms, p99 {r['latency']['service_p99_ms']:.2f} ms | | |",
        "",
        "\\* Surprise's loop (`predict` for every unrated item, sorted) was timed on "
        f"{sur['sample_users']} users evenly spread over the {sur['users']} and extrapolated "
        f"({sur['sample_loop_s']:.1f} s for the sample, plus {sur['fit_s']:.1f} s to fit); its peak RSS is "
        "for that sampled run. Peak RSS is each run's own process (VmHWM), interpreter and imports "
        "included. BLAS is pinned to one thread for the whole bench (Surprise is single-threaded); "
        "shopchat still runs its similarity products and large predict batches on 2 threads.",
        "",
        "## Same numbers as Surprise",
        "",
        "Identical settings (k=40, min_k=1, min_support=1), same folds and training order. `match` is the "
        "share of test predictions within 1e-6 of Surprise's.",
        "",
        "| setting | folds | RMSE shopchat | RMSE Surprise | MAE shopchat | MAE Surprise | match "
        "| time shopchat | time Surprise |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in r["cv"]:
        lines.append(
            f"| {row['setting']} | {row['folds']} | {row['ours_rmse']:.4f} | {row['surprise_rmse']:.4f} | "
            f"{row['ours_mae']:.4f} | {row['surprise_mae']:.4f} | {row['match']:.4%} "
            f"| {row['ours_s']:.2f} s | {row['surprise_s']:.1f} s |"
        )
    lines += [
        "",
        "Surprise keeps only neighbours with positive similarity; so does `KNNRecommender` by default "
        "(`positive_only=True`). `positive_only=False` is the textbook formula (negative neighbours among "
        "the k kept, denominator sum |sim|), which differs from Surprise whenever a selected neighbour has "
        "similarity <= 0 (mostly pearson).",
        "",
        "## Ranking quality",
        "",
        "MovieLens-100k, 25% of each user's ratings held out at random (every held-out item relevant), "
        "top-10 over all items the user has not rated:",
        "",
        "| ranker | P@10 | R@10 | NDCG@10 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, m in r["quality_ml"].items():
        lines.append(f"| {name} | {m['p@10']:.3f} | {m['r@10']:.3f} | {m['ndcg@10']:.3f} |")
    shop_q = r["quality_shop"]
    ours_p, pop_p = shop_q["top_n (co-purchase item kNN)"]["p@10"], shop_q["popularity"]["p@10"]
    lines += [
        "",
        f"Demo shop, time-based split ({r['shop_split']}), {shop_q['popularity']['users']:,} customers "
        "with new purchases:",
        "",
        "| ranker | P@10 | R@10 | NDCG@10 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, m in shop_q.items():
        lines.append(f"| {name} | {m['p@10']:.3f} | {m['r@10']:.3f} | {m['ndcg@10']:.3f} |")
    lines += [
        "",
        f"top_n beats popularity by {ours_p / pop_p - 1:.0%} in P@10 on the shop.",
        "",
        f"Demo model: `{r['model_source']}` ({r['model_mb']:.1f} MB, loads in {r['model_load_ms']:.0f} ms).",
        "",
    ]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    head = r["cv"][0]
    tasks = ["5-fold CV", "top-10 all users"]
    ours = [head["ours_s"], r["topn_ours"]["seconds"]]
    theirs = [head["surprise_s"], r["topn_surprise"]["seconds"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(tasks))
    ax.bar(x - 0.2, theirs, 0.4, label="Surprise")
    ax.bar(x + 0.2, ours, 0.4, label="shopchat")
    ax.set_yscale("log")
    ax.set_xticks(x, tasks)
    ax.set_ylabel("seconds (log)")
    ax.set_title("MovieLens-100k, user-based cosine k=40")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=60, help="users for timing Surprise's top-N loop")
    parser.add_argument("--other-folds", type=int, default=5, help="folds for the 11 non-headline settings")
    args, extra = parser.parse_known_args(argv)
    workers: dict[str, Callable[[], dict[str, Any]]] = {
        "topn-ours": worker_topn_ours,
        "topn-ours-by-rating": worker_topn_ours_by_rating,
        "topn-surprise": lambda: worker_topn_surprise(int(extra[0]) if extra else args.sample),
    }
    if args.worker:
        print(json.dumps(workers[args.worker]()))
        return 0
    try:
        import surprise
    except ImportError:
        sys.exit("error: scikit-surprise is not installed: pip install -e '.[bench]'")
    ratings = load_ratings()
    results: dict[str, Any] = {
        "surprise_version": surprise.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "load_average_start": list(os.getloadavg()),
    }
    cv = []
    # Warm both libraries up (imports, allocator, BLAS) on one fold before anything is timed.
    run_cv(ratings, "user", "cosine", True, 1)
    for n, (kind, sim, means) in enumerate(SETTINGS):
        row = run_cv(ratings, kind, sim, means, 5 if n == 0 else args.other_folds)
        cv.append(row)
        print(
            f"{row['setting']:<24} folds={row['folds']} "
            f"rmse {row['ours_rmse']:.4f}/{row['surprise_rmse']:.4f} "
            f"mae {row['ours_mae']:.4f}/{row['surprise_mae']:.4f} match {row['match']:.4%} "
            f"time {row['ours_s']:.2f}s/{row['surprise_s']:.1f}s ({row['surprise_s'] / row['ours_s']:.0f}x)",
            flush=True,
        )
    results["cv"] = cv
    results["load_average_cv_end"] = list(os.getloadavg())
    results["topn_ours"] = in_subprocess("topn-ours")
    results["topn_ours_by_rating"] = in_subprocess("topn-ours-by-rating")
    results["topn_surprise"] = in_subprocess("topn-surprise", str(args.sample))
    print("top-10 all users:", results["topn_ours"], results["topn_ours_by_rating"], results["topn_surprise"])
    results["quality_ml"] = quality_movielens(ratings)
    print("ranking ml-100k:", results["quality_ml"], flush=True)
    shop, model, source = demo_shop_model()
    results["model_source"] = source
    model_path = ROOT / source
    results["model_mb"] = model_path.stat().st_size / 1e6 if model_path.is_file() else math.nan
    start = time.perf_counter()
    if model_path.is_file():
        KNNRecommender.load(model_path)
    results["model_load_ms"] = (time.perf_counter() - start) * 1000
    results["latency"] = latency(model, shop)
    print("latency:", results["latency"], flush=True)
    results["quality_shop"], results["shop_split"] = quality_shop(shop)
    print("ranking shop:", results["quality_shop"], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cf.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    plot(results, RESULTS / "cf.png")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
