from django.core.management.base import BaseCommand

from minqing.tips.tasks import tips_daily


class Command(BaseCommand):
    help = "线索提醒和到期销毁(每天运行一次)"

    def handle(self, *args, **options):
        result = tips_daily()
        self.stdout.write(f"reminders: {result['reminders']}, destroyed: {result['destroyed']}")
