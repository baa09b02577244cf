from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("tokens/", views.tokens, name="tokens"),
    path("password/", views.PasswordChange.as_view(), name="password_change"),
]
