from django.urls import path

from . import otp, views

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.user_new, name="user_new"),
    path("tokens/", views.tokens, name="tokens"),
    path("password/", views.PasswordChange.as_view(), name="password_change"),
    path("otp/verify/", otp.verify, name="otp_verify"),
    path("otp/setup/", otp.setup, name="otp_setup"),
]
