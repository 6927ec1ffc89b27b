"""google.protobuf.Any the way containerd writes it.

containerd's typeurl names a protobuf message by its bare full name ("containerd.events.TaskExit"),
without the "type.googleapis.com/" prefix that Any.Pack adds; readers look the name up as
is. So pack with pack() here, not Any.Pack. unpack() accepts either spelling.

(Non-protobuf payloads such as the OCI spec travel as JSON under URLs like
"types.containerd.io/opencontainers/runtime-spec/1/Spec"; those are the caller's business.)
"""
from google.protobuf import any_pb2, descriptor_pool, message_factory
from google.protobuf import message as _message


def type_url(message_or_type) -> str:
    return message_or_type.DESCRIPTOR.full_name


def pack(message: _message.Message) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url(message), value=message.SerializeToString())


def unpack(value: any_pb2.Any, message_type: type[_message.Message] | None = None) -> _message.Message:
    """Decode an Any; without message_type, by looking its name up among the loaded stubs
    (import the *_pb2 module that defines it first). KeyError if the name is unknown,
    TypeError if it is not message_type."""
    name = value.type_url.rsplit("/", 1)[-1]
    if message_type is None:
        message_type = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(name))
    elif message_type.DESCRIPTOR.full_name != name:
        raise TypeError(f"Any holds {value.type_url!r}, not {message_type.DESCRIPTOR.full_name}")
    return message_type.FromString(value.value)
