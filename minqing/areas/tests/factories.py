import factory

from minqing.areas.models import Area, Level


def make_area(*, parent: Area | None, level: int, code: str, name: str) -> Area:
    return Area.objects.create(
        parent=parent,
        level=level,
        code=code,
        name=name,
        path=Area.build_path(parent.path if parent else "", code),
    )


class AreaFactory(factory.django.DjangoModelFactory):
    """A grid under a fresh village by default; pass parent/level/code for others."""

    class Meta:
        model = Area

    level = Level.GRID
    name = factory.Sequence(lambda n: f"网格{n}")
    code = factory.Sequence(lambda n: f"430372900{n % 1000:03d}{n % 1000:03d}")
    parent = None
    path = factory.LazyAttribute(
        lambda o: Area.build_path(o.parent.path if o.parent else "", o.code)
    )
