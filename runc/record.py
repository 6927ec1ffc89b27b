"""A plain record type for pyrunc's option and plan objects.

dataclasses would do the same, but importing it costs ~6 ms (it pulls in inspect and ast),
a third of Go runc's whole `run`, on a path that runs once per container.
"""


class Record:
    """Fields are the class's annotated attributes; those with a class-level value are
    optional. Instances are built by keyword only."""

    def __init__(self, **fields):
        declared = type(self).__annotations__
        unknown = fields.keys() - declared.keys()
        missing = [name for name in declared if name not in fields and not hasattr(type(self), name)]
        if unknown or missing:
            raise TypeError(f"{type(self).__name__}: unknown {sorted(unknown)}, missing {missing}")
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__annotations__)
        return f"{type(self).__name__}({fields})"
