"""Lists served page by page whose rows go through an output function."""


class MappedRows:
    """A queryset seen through `out` (a row → output dict function), for django-ninja's
    `@paginate`: it slices this for the page and counts it, so only the page's rows are
    fetched and turned into dicts (a list comprehension over the queryset would fetch and
    convert every row in the caller's jurisdiction to serve 20)."""

    def __init__(self, queryset, out):
        self.queryset = queryset
        self.out = out

    def all(self):
        return self

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key):
        if isinstance(key, slice):
            return [self.out(row) for row in self.queryset[key]]
        return self.out(self.queryset[key])

    def __iter__(self):
        return (self.out(row) for row in self.queryset.iterator(chunk_size=2000))
