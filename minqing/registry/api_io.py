"""Registry import/export endpoints."""

from ninja import Router

router = Router()
