"""The API's JSON response: Starlette's, except that lone surrogates in text are written escaped.

A station may send a lone surrogate (``"\\ud800"`` is valid JSON) and the log keeps it; Starlette
encodes ``json.dumps(ensure_ascii=False)`` as strict UTF-8, which fails on it and turned reading
that station's history, or a CALLERROR quoting it, into a 500.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from adapters.event_json import escape_surrogates


class JSONBody(JSONResponse):
    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        return escape_surrogates(text).encode("utf-8")
