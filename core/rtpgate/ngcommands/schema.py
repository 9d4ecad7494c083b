"""JSON Schema of every registered ng command's request model (``rtpgate ng-schema``)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices

from .dispatch import NgDispatcher


def command_schemas(dispatcher: NgDispatcher) -> dict[str, Any]:
    """``{"commands": {name: {short, aliases, request}}}``; each property of a request schema
    lists every key spelling rtpengine accepts under ``x-rtpengine-keys``."""
    commands: dict[str, Any] = {}
    for command in dispatcher.commands:
        schema = command.model.model_json_schema(mode="validation")
        properties = schema.get("properties", {})
        for name, info in command.model.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                spellings = [str(choice) for choice in alias.choices]
                prop = properties.get(spellings[0]) or properties.get(name)
                if prop is not None:
                    prop["x-rtpengine-keys"] = spellings
        commands[command.name] = {"short": command.short, "aliases": list(command.aliases),
                                  "request": schema}
    return {"commands": commands}
