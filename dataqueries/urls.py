from django.urls import path

from . import views

app_name = "dataqueries"
urlpatterns = [
    path("", views.query_list, name="list"),
    path("raise/", views.query_raise, name="raise"),
    path("<int:query_id>/", views.query_detail, name="detail"),
    path("<int:query_id>/answer/", views.query_answer, name="answer"),
    path("<int:query_id>/close/", views.query_close, name="close"),
    path("<int:query_id>/reopen/", views.query_reopen, name="reopen"),
]
