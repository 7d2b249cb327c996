from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self) -> None:
        # The data apps announce changes through core's signal (they sit below analysis);
        # the mark is written synchronously, in the data change's own transaction.
        from core.signals import clinical_data_changed

        from .runs.services import refit_mark

        def mark(sender, *, reason: str, **kwargs) -> None:
            refit_mark(reason=reason)

        clinical_data_changed.connect(mark, weak=False, dispatch_uid="analysis.refit_mark")

        from .pages.live_counts import forget_after_commit

        clinical_data_changed.connect(forget_after_commit, weak=False,
                                      dispatch_uid="analysis.forget_live_counts")
