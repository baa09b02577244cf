from django.urls import path

from . import views

urlpatterns = [
    path("", views.appeal_list, name="list"),
    path("duties/", views.appeal_duties, name="duties"),
    path("export.xlsx", views.appeal_export, name="export"),
    path("new/", views.appeal_create, name="create"),
    path("suggest/", views.appeal_suggest, name="suggest"),
    path("<int:pk>/", views.appeal_detail, name="detail"),
    path("<int:pk>/act/<str:action>/", views.appeal_act, name="act"),
    path("<int:pk>/reply/", views.appeal_reply, name="reply"),
    path("<int:pk>/mediate/", views.appeal_mediate, name="mediate"),
    path("<int:pk>/duplicates/", views.appeal_duplicates, name="duplicates"),
    path("<int:pk>/attachments/", views.appeal_attach, name="attach"),
    path("<int:pk>/attachments/<int:att>/", views.attachment_download, name="attachment"),
    path("meetings/", views.meeting_list, name="meetings"),
    path("stats/", views.appeal_stats, name="stats"),
    path("receptions/", views.reception_list, name="receptions"),
    path("public/new/", views.public_new, name="public_new"),
    path("track/", views.public_track, name="track"),
]
