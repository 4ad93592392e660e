"""Hide the `user:password@` part of any URL in a text before it is shown: a destination's
base URL may carry credentials, and neither a configuration error nor a send error may
print them."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)


def hide_credentials(text: str) -> str:
    """`text` with every URL's `user:password@` written `***@`."""
    return _USERINFO.sub(r"\1***@", text)
