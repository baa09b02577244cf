"""Daily work of tips: reminders, then destruction at expiry. Run by `minqing tips_daily`
(cron, or the kernel's periodic runner when it is there) or Celery."""

from celery import shared_task

from .services import tips_expire, tips_remind


@shared_task(name="minqing.tips.tasks.tips_daily")
def tips_daily() -> dict:
    return {"reminders": tips_remind(), "destroyed": tips_expire()}
