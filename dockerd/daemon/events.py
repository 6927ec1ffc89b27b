"""Placeholder: replaced by the events bus."""


class EventBus:
    pass
