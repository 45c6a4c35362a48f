"""The viewer as an ASGI app (Streamlit's `st.App`): `contextkit view` runs `streamlit run` on this
file. It refuses every request, HTTP or WebSocket, whose Host header is not an address the viewer
serves (Starlette's TrustedHostMiddleware answers 400), so a DNS-rebinding page on another
origin cannot reach the traces through the user's browser.

The allowed hosts come from CONTEXTKIT_VIEW_HOSTS (comma-separated, set by `contextkit view`);
without it, 127.0.0.1 and localhost.
"""

from __future__ import annotations

from contextkit import settings

import streamlit as st
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


def allowed_hosts() -> list[str]:
    given = [h.strip() for h in (settings.VIEW_HOSTS.get() or "").split(",") if h.strip()]
    return given or list(DEFAULT_HOSTS)


app = st.App("app.py", middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts())])
