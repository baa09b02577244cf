"""Back office for visits: pairings (through their services, scoped) and the rules."""

from django.contrib import admin

from minqing.core.admin import ServiceAdmin

from . import services
from .models import Pairing


@admin.register(Pairing)
class PairingAdmin(ServiceAdmin):
    """Added through pairing_create (scope, cadre's area, audit); ended through pairing_end,
    never deleted."""

    list_display = ("cadre", "household", "start_date", "end_date")
    list_filter = ("end_date",)
    raw_id_fields = ("cadre", "household")
    fields = ("cadre", "household", "start_date", "end_date", "end_reason")
    create_service = staticmethod(services.pairing_create)

    def change_service(self, request, obj, data):
        if obj.end_date is None and data.get("end_date"):
            return services.pairing_end(
                actor=request.user,
                pairing=obj,
                end_date=data["end_date"],
                reason=data.get("end_reason", ""),
            )
        return obj

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("cadre", "household", "start_date")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.end_date is not None:
            return self.fields
        return ("cadre", "household", "start_date")
