from minqing.appeals.tests.seeds_fixture import _seeds  # noqa: F401
