"""The ng command ``cli``: ``{"command": "cli", "body": "list totals"}`` ->
``{"response": "<output>", "result": "ok"}``."""

from __future__ import annotations

from typing import ClassVar

from rtpgate.api import NgCommand, NgContext, NgRequest, key
from rtpgate.api import NgReply as Reply

from .service import CliService


class CliRequest(NgRequest):
    required: ClassVar[dict[str, str]] = {"body": "No 'body' in message"}

    body: str | None = key("body")


async def _cli(request: CliRequest, ctx: NgContext) -> Reply:
    assert request.body is not None  # required
    return {"response": await CliService.of(ctx.runtime).run(request.body)}


CLI = NgCommand("cli", "cli", CliRequest, _cli)
