from django.contrib import admin

from minqing.core.admin import ServiceAdmin

from .models import Area
from .services import area_create, area_rename


@admin.register(Area)
class AreaAdmin(ServiceAdmin):
    """Areas are created and renamed through the services (code rules, parent in the
    actor's jurisdiction, audit); code, level and parent are fixed once saved."""

    list_display = ("name", "level", "code", "parent")
    list_filter = ("level",)
    search_fields = ("name", "code")
    raw_id_fields = ("parent",)
    fields = ("level", "code", "name", "parent", "path")
    create_service = area_create

    def change_service(self, request, obj, data):
        return area_rename(actor=request.user, area=obj, name=data["name"])

    def get_readonly_fields(self, request, obj=None):
        # Code and parent make the path: changing them would orphan the subtree.
        return ("path", "code", "parent", "level") if obj else ("path",)
