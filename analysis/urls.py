from django.urls import path

from .freezes import views as freezes
from .pages import report_views, views

app_name = "analysis"
urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("refit/", views.refit_now, name="refit"),
    path("target/", views.target_edit, name="target"),
    path("interviews/", views.interview_list, name="interviews"),
    path("quality/", views.quality_list, name="quality"),
    path("export/", views.export_view, name="export"),
    path("export/<slug:file>/", views.download, name="download"),
    path("freezes/", freezes.freeze_create_view, name="freezes"),
    path("freezes/<int:freeze_id>/<slug:file>/", freezes.freeze_download,
         name="freeze_download"),
    path("runs/<int:run_id>/report/", report_views.report_html, name="report"),
    path("runs/<int:run_id>/report.docx", report_views.report_word, name="report_docx"),
]
