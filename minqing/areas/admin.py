from django.contrib import admin

from minqing.core.admin import ScopedAdmin

from .models import Area


@admin.register(Area)
class AreaAdmin(ScopedAdmin):
    list_display = ("name", "level", "code", "parent")
    list_filter = ("level",)
    search_fields = ("name", "code")
    raw_id_fields = ("parent",)
    readonly_fields = ("path",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.path = Area.build_path(obj.parent.path if obj.parent else "", obj.code)
        super().save_model(request, obj, form, change)

    def get_readonly_fields(self, request, obj=None):
        # Code and parent make the path: changing them would orphan the subtree.
        return ("path", "code", "parent", "level") if obj else ("path",)
