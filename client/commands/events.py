"""docker events: GET /events, one line per event as it comes (docker's prettyPrintEvent), or
through --format; it ends when the daemon closes the stream (--until) or on Ctrl-C."""
from __future__ import annotations

from client.commands import parser as make_parser, write
from client import api, formatting as fmt
from client.timestamps import timestamp

USAGE = "docker events [OPTIONS]"


def parser(name):
    p = make_parser(name, USAGE, "Get real time events from the server", required="no arguments")
    p.add_argument("--since", default="")
    p.add_argument("--until", default="")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format", default="")
    return p


class Message(dict):
    """An event as the daemon sent it, which `json .` prints; a template reads it under the
    field names of Go's events.Message, with Go's zero values for what the wire leaves out."""

    FIELDS = {"Status": ("status", ""), "ID": ("id", ""), "From": ("from", ""), "Type": ("Type", ""),
              "Action": ("Action", ""), "Actor": ("Actor", None), "Scope": ("scope", ""), "Time": ("time", 0),
              "TimeNano": ("timeNano", 0)}

    def __contains__(self, name):
        if name not in self.FIELDS:  # the formatter asks before it reads
            raise fmt.TemplateError(f"can't evaluate field {name} in type *events.Message")
        return True

    def __getitem__(self, name):
        key, zero = self.FIELDS[name]
        return self.get(key, zero)


def go_message(event: dict) -> Message:
    """The event as the CLI re-marshals it: events.Message's field order, the empty legacy
    fields left out, the attributes sorted by key."""
    actor = event.get("Actor") or {}
    attributes = actor.get("Attributes")
    shaped = {key: event[key] for key in ("status", "id", "from") if event.get(key)}
    shaped.update(Type=event.get("Type", ""), Action=event.get("Action", ""),
                  Actor={"ID": actor.get("ID", ""),
                         "Attributes": None if attributes is None else dict(sorted(attributes.items()))})
    shaped.update((key, event[key]) for key in ("scope", "time", "timeNano") if event.get(key))
    return Message(shaped)


def rfc3339_nano(nanoseconds: int) -> str:
    """time.Unix(0, ns).Format("2006-01-02T15:04:05.000000000Z07:00") in local time."""
    from client.commands.history import rfc3339

    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    whole = rfc3339(seconds)
    return f"{whole[:19]}.{fraction:09d}{whole[19:]}"


def pretty(event: dict) -> str:
    """<time> <type> <action> <actor id> (k=v, ...), attributes sorted."""
    when = ""
    if event.get("timeNano"):
        when = rfc3339_nano(event["timeNano"]) + " "
    elif event.get("time"):
        when = rfc3339_nano(event["time"] * 1_000_000_000) + " "
    actor = event.get("Actor") or {}
    line = f"{when}{event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    attributes = actor.get("Attributes") or {}
    if attributes:
        line += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return line + "\n"


def run(client, args) -> int:
    import time

    from client.__main__ import CommandError
    from client.commands.system import encode_filters, filters_param

    template = None
    if args.format:
        try:  # as docker: a template that cannot be parsed, or run on an empty message, is refused at once
            template = fmt.Template("{{json .}}" if args.format == "json" else args.format)
            template.render(go_message({}))
        except fmt.TemplateError as error:
            raise CommandError(f"Error parsing format: {error}", 64) from None
    filters = filters_param(args.filter, "-f, --filter", args.command, USAGE)
    now = time.time()
    params = {"since": timestamp(args.since, now) if args.since else None,
              "until": timestamp(args.until, now) if args.until else None, "filters": encode_filters(filters)}
    response = client.request("GET", "/events", params)
    try:
        buffer = b""
        while True:
            try:
                data = response.read_some()
            except ConnectionError:  # the daemon went away mid-stream: Go's decoder words it so
                raise CommandError("unexpected EOF", 1) from None
            if not data:
                return 0
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    event = api.loads(line)
                    write(template.render(go_message(event)) + "\n" if template else pretty(event))
    finally:
        response.close()
