"""The demo superuser that builds demo data (created first, before the area tree)."""

from minqing.core.roles import Role

from .models import User

DEMO_PASSWORD = "minqing-demo"


def system_admin() -> User:
    user = User.objects.filter(username="admin").first()
    if user is None:
        user = User.objects.create_superuser(
            username="admin",
            password=DEMO_PASSWORD,
            role=Role.ADMIN,
            last_name="管",
            first_name="理员",
        )
    return user
