"""Back office for the registry. People and their history are changed through the pages and
the API (services: validation, search keys, audit); here they are read-only, scoped and
masked. Tags may be edited; places and organisations are created through their services; every
edit is audited. No lookup or search on ID or phone fields (core.admin)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from minqing.core.admin import AuditedAdmin, ReadOnlyAdmin, ServiceAdmin

from .models import Household, Move, Organisation, Place, Resident, Tag, TagPeriod
from .services import organisation_create, organisation_update, place_create, place_update


@admin.display(description=_("联系电话"))
def masked_phone(obj):
    return obj.phone_masked


@admin.display(description=_("身份证号"))
def masked_id(obj):
    return obj.id_masked


@admin.register(Household)
class HouseholdAdmin(ReadOnlyAdmin):
    list_display = ("number", "head", "address", "grid", masked_phone)
    list_select_related = ("head", "grid")
    search_fields = ("number", "address")
    exclude = ("phone",)
    readonly_fields = (masked_phone,)


@admin.register(Resident)
class ResidentAdmin(ReadOnlyAdmin):
    list_display = ("name", masked_id, "gender", "birth_date", "relation", "status", "household")
    list_filter = ("status", "relation", "gender")
    list_select_related = ("household",)
    search_fields = ("name", "name_pinyin", "name_initials")  # never ID or phone digits
    exclude = ("id_number", "phone")
    readonly_fields = (masked_id, masked_phone)


@admin.register(Tag)
class TagAdmin(AuditedAdmin):
    list_display = ("name", "code", "scope", "is_system", "order")
    list_filter = ("scope", "is_system")

    def get_readonly_fields(self, request, obj=None):
        # The code is what the API, filters and imports use: fixed once the tag exists.
        if obj is None:
            return ("is_system",)
        if obj.is_system:
            return ("code", "name", "scope", "is_system")
        return ("code", "is_system")

    def has_delete_permission(self, request, obj=None):
        return obj is None or (not obj.is_system and not obj.periods.exists())


@admin.register(TagPeriod)
class TagPeriodAdmin(ReadOnlyAdmin):
    list_display = ("tag", "household", "resident", "start_date", "end_date", "start_reason")
    list_filter = ("tag",)
    list_select_related = ("tag", "household", "resident")
    date_hierarchy = "start_date"


@admin.register(Move)
class MoveAdmin(ReadOnlyAdmin):
    list_display = ("date", "kind", "resident", "from_household", "to_household", "reason")
    list_filter = ("kind",)
    list_select_related = ("resident", "from_household", "to_household")

    def get_queryset(self, request):
        visible = Resident.objects.visible_to(request.user).values("pk")
        return Move.objects.filter(resident__in=visible)


@admin.register(Place)
class PlaceAdmin(ServiceAdmin):
    """Created and changed through place_create / place_update (grid in the actor's
    jurisdiction, phone rules, each change audited)."""

    list_display = ("name", "kind", "grid", "address", "contact_name")
    list_filter = ("kind",)
    search_fields = ("name", "address")
    raw_id_fields = ("grid",)
    create_service = place_create

    def change_service(self, request, obj, data):
        return place_update(actor=request.user, place=obj, **data)


@admin.register(Organisation)
class OrganisationAdmin(ServiceAdmin):
    """Created and changed through organisation_create / organisation_update."""

    list_display = ("name", "kind", "grid", "credit_code", "has_party_branch")
    list_filter = ("kind", "has_party_branch")
    search_fields = ("name", "credit_code")
    raw_id_fields = ("grid",)
    create_service = organisation_create

    def change_service(self, request, obj, data):
        return organisation_update(actor=request.user, organisation=obj, **data)
