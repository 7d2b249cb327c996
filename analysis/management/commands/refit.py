"""`manage.py refit [--sync] [--reml] [--population NAME]`: run the study's analyses now
and print Table 2."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analysis.models import ModelRun, RunStatus
from analysis.runs.services import model_run_execute, model_run_request, runs_eagerly
from analysis.stats.results import (
    DEFAULT_OPTIONS,
    LEGACY_POPULATIONS,
    POPULATIONS,
    VARIANTS,
    table2_summary,
)


class Command(BaseCommand):
    help = ("Fit the study's models now and print the Table 2 summary. With --sync, or "
            "without a broker, the fit runs in this process; otherwise the run is queued, the "
            "worker's next refit tick starts it, and the command waits for it.")

    def add_arguments(self, parser):
        parser.add_argument("--sync", action="store_true", help="Fit in this process.")
        parser.add_argument("--population", choices=[*POPULATIONS, *LEGACY_POPULATIONS],
                            default=DEFAULT_OPTIONS["population"],
                            help="Analysis population: "
                                 + "; ".join(f"{k}: {v}" for k, v in POPULATIONS.items())
                                 + " (complete_cases, of earlier versions, means "
                                   "completers_both_rows).")
        parser.add_argument("--reml", action="store_true", default=DEFAULT_OPTIONS["reml"],
                            help="Estimate by REML (default: ML, as the study's Stata "
                                 "mixed, ml; likelihood-ratio tests need ML).")
        parser.add_argument("--variant", choices=[v["key"] for v in VARIANTS],
                            help="Print only this model variant (default: all).")
        parser.add_argument("--force", action="store_true",
                            help="Fit even if the data equal the last successful run's.")
        parser.add_argument("--timeout", type=float, default=600,
                            help="Seconds to wait for the worker (without --sync).")

    def handle(self, *args, sync, population, reml, variant, force, timeout, **options):
        try:
            run, created = model_run_request(options={"population": population, "reml": reml},
                                             trigger="manage.py refit", force=force)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if not created:
            self.stdout.write(f"Data unchanged since run {run.pk}; showing it "
                              "(--force to fit again).")
        elif sync or runs_eagerly():
            run = model_run_execute(run_id=run.pk) or run
        else:
            run = self._wait_for_worker(run, timeout)
        run.refresh_from_db()
        self._report(run, variant)

    def _wait_for_worker(self, run: ModelRun, timeout: float) -> ModelRun:
        import time

        self.stdout.write(f"Run {run.pk} queued; waiting for a worker's refit tick "
                          f"(every {settings.ANALYSIS_REFIT_INTERVAL_SECONDS:g} s)...")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
                return run
            time.sleep(0.5)
        raise CommandError(f"Run {run.pk} is still {run.status} after {timeout:.0f} s "
                           "(is a worker with beat running?). Use --sync to fit here.")

    def _report(self, run: ModelRun, variant: str | None) -> None:
        if run.status == RunStatus.FAILED:
            raise CommandError(f"Run {run.pk} failed: {run.error}")
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Run {run.pk} is {run.status}.")
        total = run.timings.get("total")
        method = "REML" if run.options.get("reml") else "ML"
        self.stdout.write(f"Run {run.pk} succeeded"
                          + (f" in {total:.1f} s" if total is not None else "")
                          + f"; {method} estimation; data fingerprint {run.fingerprint[:12]}.")
        self.stdout.write(table2_summary(run.results, variant=variant))
        self._report_problems(run.results)

    def _report_problems(self, results: dict) -> None:
        """Models that could not be fitted or did not converge, last, where they are seen."""
        problems = [m for m in results["table2"]["models"] if not m["ok"] or not m["converged"]]
        if not problems:
            return
        self.stdout.write("")
        self.stdout.write(self.style.WARNING(
            f"{len(problems)} of {len(results['table2']['models'])} models need attention "
            "(the others are fitted):"))
        for model in problems:
            what = f"not fitted: {model['error']}" if not model["ok"] else "not converged"
            self.stdout.write(f"  {model['outcome']} / {model['variant']}: {what}")
