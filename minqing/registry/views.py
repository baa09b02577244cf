"""Registry pages (households, residents, places, organisations, tags)."""

urlpatterns = []
