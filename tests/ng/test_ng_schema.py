"""``rtpgate ng-schema``: the JSON Schema of every ng command's request, as installed."""

from __future__ import annotations

import json
import subprocess
import sys


def test_ng_schema_lists_every_command_with_its_key_spellings() -> None:
    done = subprocess.run([sys.executable, "-m", "rtpgate", "ng-schema"], capture_output=True,
                          text=True, check=True)
    commands = json.loads(done.stdout)["commands"]
    assert {"ping", "offer", "answer", "delete", "query", "list", "statistics",
            "cli"} <= set(commands)  # cli comes from the cli plugin through the hook
    offer = commands["offer"]
    assert offer["short"] == "offer"
    call_id = offer["request"]["properties"]["call-id"]
    assert set(call_id["x-rtpengine-keys"]) >= {"call-id", "call id", "call-ID"}
    assert commands["ping"]["request"]["required"] == ["command"]
