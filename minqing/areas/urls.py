from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/export.xlsx", views.export, name="export"),
    path("import/", views.import_areas, name="import"),
    path("import/template.xlsx", views.import_template, name="import_template"),
]
