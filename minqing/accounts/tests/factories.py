import factory

from minqing.accounts.models import Jurisdiction, User
from minqing.core.roles import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.GRID_WORKER
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def areas(self, create, extracted, **kwargs):
        if create and extracted:
            Jurisdiction.objects.bulk_create([Jurisdiction(user=self, area=a) for a in extracted])
        if create:
            self.save()
