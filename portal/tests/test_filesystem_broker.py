"""The embedded broker's transport: a message is visible in its queue only once complete."""

from kombu import Connection
from kombu.transport import filesystem as kombu_filesystem

import portal.celery  # noqa: F401  (registers the transport for filesystem:// URLs)
from portal import filesystem_broker
from portal.filesystem_broker import Transport


def open_channel(folder, transport_class):
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    connection = Connection("filesystem://", transport=transport_class, transport_options=options)
    return connection, connection.default_channel


def queue_files_while_serializing(monkeypatch, module, folder):
    """Patch `module.dumps` to list the queue's files at the moment the payload is serialized."""
    seen = []
    real_dumps = module.dumps

    def listing_dumps(payload):
        seen.append(sorted(path.name for path in folder.glob("*.msg")))
        return real_dumps(payload)

    monkeypatch.setattr(module, "dumps", listing_dumps)
    return seen


def test_filesystem_url_uses_portal_transport():
    with Connection("filesystem://") as connection:
        assert isinstance(connection.transport, Transport)


def test_message_hidden_until_written(tmp_path, monkeypatch):
    seen = queue_files_while_serializing(monkeypatch, filesystem_broker, tmp_path)
    connection, channel = open_channel(tmp_path, Transport)

    with connection:
        channel._put("jobs", {"number": 1})
        message = channel._get("jobs")

    assert seen == [[]]
    assert message == {"number": 1}
    assert list(tmp_path.glob("*.partial")) == []


def test_kombu_transport_shows_empty_file(tmp_path, monkeypatch):
    # Why the portal has its own channel: kombu 5.7 opens the queue file before writing it,
    # so a consumer listing the folder at that moment takes an empty message.
    seen = queue_files_while_serializing(monkeypatch, kombu_filesystem, tmp_path)
    connection, channel = open_channel(tmp_path, kombu_filesystem.Transport)

    with connection:
        channel._put("jobs", {"number": 1})

    assert len(seen[0]) == 1
    assert seen[0][0].endswith(".jobs.msg")


def test_many_messages_arrive_whole(tmp_path):
    connection, channel = open_channel(tmp_path, Transport)

    with connection:
        for number in range(50):
            channel._put("jobs", {"number": number, "body": "x" * 10_000})
        received = [channel._get("jobs") for _ in range(50)]

    # Messages written in the same millisecond come out in any order, as with kombu's own.
    assert sorted(message["number"] for message in received) == list(range(50))
