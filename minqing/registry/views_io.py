"""Registry spreadsheet import and export pages."""

urlpatterns = []
