"""What the benchmark drivers share: reading the one JSON line a benchmark program prints last."""

import json


def last_json(text):
    """The last line of `text` that is a JSON object (the programs print human lines first)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in the output:\n" + text[-2000:])
