"""Visit URLs (pages in views.py)."""

from .views import urlpatterns  # noqa: F401
