"""Registry JSON API. Import/export endpoints live in api_io.py and are mounted here."""

from ninja import Router

from .api_io import router as io_router

router = Router()
router.add_router("", io_router)
