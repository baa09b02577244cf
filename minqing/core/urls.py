from django.urls import path

from . import inbox, views

urlpatterns = [
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read/", inbox.inbox_read, name="inbox_read"),
    path("inbox/count/", inbox.inbox_count, name="inbox_count"),
    path("audit/", views.audit_list, name="audit"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("jobs/<uuid:job_id>/errors.xlsx", views.job_errors, name="job_errors"),
]
