"""The embedded broker: kombu's file-system transport with atomic message writes.

kombu writes a message file in place, and a consumer in another process can move it away before the
writer has finished, then fail to parse a half-written file (the message is lost). Writing to a staging
folder and renaming into the queue folder makes each message appear whole or not at all.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = Path(self.data_folder_out)
        staging = folder.parent / "staging"
        try:
            staging.mkdir(exist_ok=True)
            temporary = staging / name
            temporary.write_bytes(str_to_bytes(dumps(payload)))
            os.replace(temporary, folder / name)  # atomic within one file system
        except OSError as exc:
            raise ChannelError(f"cannot add message {name!r} to {folder}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
