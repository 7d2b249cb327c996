"""Benchmark analysis.multilevel.fit_nested against statsmodels' MixedLM.

Each fit runs in its own subprocess, so that its peak memory is its own and a fit that
runs too long or out of memory can be stopped and reported as such. Data are simulated
once per size by the parent and handed over as a pickle.

    .venv/bin/python bench/bench_multilevel.py            # full grid, ~15 minutes
    .venv/bin/python bench/bench_multilevel.py --patients 1000 --clinics 3 30
    .venv/bin/python bench/bench_multilevel.py --national  # Table 2 scale, ~1 minute

--national times single fit_nested calls in this process (median of --repeats) on
100,000 patients in 30 clinics (variance ratios 0.01 clinic, 0.32 patient, and 0 clinic),
with Table 2's kind of formula (a plain sum of numeric columns) and with
STUDY_FORMULA (categorical terms, built by patsy).
"""
from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEVELS = ["clinic", "patient"]


def _peak_rss_reset() -> None:
    """Reset the peak-RSS counter (Linux), so that it measures the fit, not the imports."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _status_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (current) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit_ours(data, formula: str) -> dict:
    from analysis.multilevel import fit_nested

    fit = fit_nested(data, formula, LEVELS)
    return {
        "coefs": fit.fixed["coef"].to_dict(), "converged": fit.converged,
        "variances": [fit.variances["clinic"], fit.variances["patient"],
                      fit.variances["residual"]],
    }


def _fit_statsmodels(data, formula: str) -> dict:
    import statsmodels.formula.api as smf

    model = smf.mixedlm(formula, data, groups="clinic", re_formula="1",
                        vc_formula={"patient": "0 + C(patient)"})
    fit = model.fit(reml=False)
    return {
        "coefs": fit.fe_params.to_dict(), "converged": bool(fit.converged),
        "variances": [float(fit.cov_re.iloc[0, 0]), float(fit.vcomp[0]), float(fit.scale)],
    }


def worker(which: str, path: str) -> None:
    """Child process: load the data, fit once, print one JSON line."""
    sys.path.insert(0, str(ROOT))
    import numpy  # noqa: F401  (imports are not part of the fit)
    import pandas  # noqa: F401
    import scipy.optimize  # noqa: F401
    import statsmodels.api  # noqa: F401

    from analysis.tests.fit_synthetic import STUDY_FORMULA

    with open(path, "rb") as fh:
        data = pickle.load(fh)
    fit = _fit_ours if which == "ours" else _fit_statsmodels
    _peak_rss_reset()
    before = _status_mb("VmRSS")
    start = time.perf_counter()
    try:
        out = fit(data, STUDY_FORMULA)
    except MemoryError:
        print(json.dumps({"status": "out of memory"}))
        return
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    out.update(status="ok", seconds=seconds, peak_mb=peak, fit_mb=peak - before)
    print(json.dumps(out))


def run_child(which: str, path: str, timeout: float, memory_gb: float) -> dict:
    """Run one fit in a subprocess with a time and an address-space limit."""
    limit = int(memory_gb * 2**30)

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", which, "--data", path],
            capture_output=True, text=True, timeout=timeout, preexec_fn=cap_memory,
        )
    except subprocess.TimeoutExpired:
        return {"status": f"timed out (>{timeout:.0f} s)"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        result = json.loads(lines[-1])
        if result["status"] == "out of memory":
            result["status"] = f"out of memory (>{memory_gb:g} GB)"
        return result
    if "MemoryError" in proc.stderr or proc.returncode in (-9, 137):
        return {"status": f"out of memory (>{memory_gb:g} GB)"}
    return {"status": f"failed: {proc.stderr.strip().splitlines()[-1:]}"}


def max_rel_diff(ours: dict, theirs: dict) -> float:
    """Largest |ours - theirs| / |theirs| over coefficients and variance components."""
    pairs = [(ours["coefs"][k], theirs["coefs"][k]) for k in ours["coefs"]]
    pairs += list(zip(ours["variances"], theirs["variances"], strict=True))
    return max(abs(a - b) / abs(b) for a, b in pairs)


def row(n_patients: int, n_clinics: int, args: argparse.Namespace, tmp: Path) -> str:
    sys.path.insert(0, str(ROOT))
    from analysis.tests.fit_synthetic import simulate_cohort

    data = simulate_cohort(n_patients, n_clinics, seed=n_patients + n_clinics)
    path = tmp / f"cohort_{n_patients}_{n_clinics}.pkl"
    with open(path, "wb") as fh:
        pickle.dump(data, fh)
    ours = run_child("ours", str(path), args.timeout, args.memory_gb)
    theirs = run_child("statsmodels", str(path), args.timeout, args.memory_gb)
    cells = [f"{n_patients:>8,}", f"{n_clinics:>7}", f"{len(data):>8,}"]
    cells += _cells(ours) + _cells(theirs)
    if ours["status"] == theirs["status"] == "ok":
        cells += [f"{theirs['seconds'] / ours['seconds']:>8.0f}x",
                  f"{max_rel_diff(ours, theirs):>9.1e}"]
    else:
        cells += ["-", "-"]
    return "| " + " | ".join(cells) + " |"


def _cells(result: dict) -> list[str]:
    if result["status"] != "ok":
        return [f"{result['status']:>32}"]
    flag = "" if result["converged"] else " (not converged)"
    memory = f"{result['peak_mb']:.0f} MB (+{result['fit_mb']:.0f})"
    return [f"{result['seconds']:>8.2f} s {memory:>20}{flag}"]


# a Markdown table, to paste into bench/README.md as printed
HEADER = ("| patients | clinics | rows | fit_nested: time, peak RSS (+fit) |"
          " statsmodels: time, peak RSS (+fit) | speed-up | max rel diff |\n"
          "|---:|---:|---:|---:|---:|---:|---:|")


NATIONAL_HEADER = ("| data | formula | method | median time (of {n}) | converged |"
                   " clinic ratio | patient ratio |\n|---|---|---|---:|---|---:|---:|")


def national(fit_nested, repeats: int) -> None:
    """Print one table row per (data, formula, method): timing and the estimates."""
    import math
    import statistics

    sys.path.insert(0, str(ROOT))
    from analysis.tests.fit_synthetic import (
        PAPER_FORMULA,
        STUDY_FORMULA,
        simulate_cohort,
        with_dummies,
    )

    print(NATIONAL_HEADER.format(n=repeats), flush=True)
    for label, sd_clinic in (("ratios 0.01 / 0.32", 0.6), ("ratios 0 / 0.32", 0.0)):
        data = with_dummies(simulate_cohort(100_000, 30, seed=31, sd_clinic=sd_clinic,
                                            sd_patient=6.0 * math.sqrt(0.32), sd_residual=6.0))
        for name, formula in (("plain sum", PAPER_FORMULA), ("patsy", STUDY_FORMULA)):
            for reml in (False, True):
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    fit = fit_nested(data, formula, LEVELS, reml=reml)
                    times.append(time.perf_counter() - start)
                v = fit.variances
                print(f"| {len(data):,} rows, {label} | {name} | {fit.method} | "
                      f"{statistics.median(times):.3f} s | {fit.converged} | "
                      f"{v['clinic'] / v['residual']:.4f} | {v['patient'] / v['residual']:.4f} |",
                      flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--clinics", type=int, nargs="+", default=[3, 30, 300])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per fit")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address-space limit per fit (the machine is shared)")
    parser.add_argument("--national", action="store_true",
                        help="time single fits at 100,000 patients in 30 clinics")
    parser.add_argument("--repeats", type=int, default=5, help="fits per --national row")
    parser.add_argument("--worker", choices=["ours", "statsmodels"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    if args.national:
        sys.path.insert(0, str(ROOT))
        from analysis.multilevel import fit_nested

        national(fit_nested, args.repeats)
        return
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n_patients in args.patients:
            for n_clinics in args.clinics:
                print(row(n_patients, n_clinics, args, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
