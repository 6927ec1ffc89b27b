"""Container statuses and which operation each allows; the verbs ask here instead of re-deciding."""
import enum


class Status(str, enum.Enum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"

    @property
    def can_start(self) -> bool:
        return self is Status.CREATED

    @property
    def can_signal(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    @property
    def can_exec(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING)

    @property
    def can_pause(self) -> bool:
        return self is Status.RUNNING

    @property
    def can_resume(self) -> bool:
        return self is Status.PAUSED

    @property
    def deletable_without_force(self) -> bool:
        # A created container has run no user code yet, so runc deletes it without --force.
        return self in (Status.STOPPED, Status.CREATED)
