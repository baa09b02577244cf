"""Registry URLs: pages (views.py) and spreadsheet import/export (views_io.py)."""

from .views import urlpatterns as page_patterns
from .views_io import urlpatterns as io_patterns

urlpatterns = [*page_patterns, *io_patterns]
