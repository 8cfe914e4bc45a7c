"""kombu's filesystem transport with messages that appear in the queue folder whole.

kombu 5.7's filesystem transport creates the message file under its final name and then writes
it, so a worker listing the folder in between takes an empty or partial file. Decoding that
raises JSONDecodeError inside the consumer loop, which stops the worker (seen under load with
hundreds of retries published per minute). This channel writes each message to a temporary
name that no queue matches and renames it into place: a rename within one folder is atomic,
so a reader sees the whole message or nothing.

`portal.celery` registers this class as the `filesystem` transport, so `filesystem://` broker
URLs use it in every process that loads the Celery app.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# A suffix no queue name can produce: kombu matches files by "<queue>.msg".
PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write `payload` beside the queue folder's messages, then rename it into the queue."""
        # The name keeps kombu's form, "<milliseconds>_<uuid>.<queue>.msg", which orders messages.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final_path = os.path.join(self.data_folder_out, name)
        partial_path = final_path + PARTIAL_SUFFIX
        try:
            with open(partial_path, "wb") as message_file:
                message_file.write(str_to_bytes(dumps(payload)))
            os.replace(partial_path, final_path)
        except OSError as error:
            raise ChannelError(f"Could not write message file {final_path!r}: {error}") from error


class Transport(filesystem.Transport):
    Channel = Channel
