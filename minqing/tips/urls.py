from django.urls import path

from . import views

urlpatterns = [
    path("public/", views.public_form, name="public"),
    path("public/receipt/", views.public_receipt, name="public_receipt"),
    path("", views.index, name="index"),
    path("new/", views.officer_new, name="new"),
    path("stats/", views.stats, name="stats"),
    path("export.xlsx", views.export, name="export"),
    path("custody/", views.custody, name="custody"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/transition/", views.transition, name="transition"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/conflict/", views.conflict, name="conflict"),
    path("<int:pk>/identity/request/", views.identity_request, name="identity_request"),
    path("<int:pk>/identity/", views.identity_reveal, name="identity_reveal"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.attachment, name="attachment"),
]
