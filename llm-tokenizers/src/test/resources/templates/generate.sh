#!/usr/bin/env bash
# Regenerates the *.expected.txt renderings from scenarios.json with the reference renderer:
#   ../shared/reference/ref chat-template (the Jinja renderer transformers.js uses; see its README).
# Usage (from this folder): ./generate.sh [path/to/shared]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
shared=${1:-../../../../../shared}
python3 - "$shared" <<'PY'
import json, subprocess, sys
shared = sys.argv[1]
for s in json.load(open("scenarios.json")):
    cmd = [f"{shared}/reference/ref", "chat-template",
           f"{shared}/testdata/tokenizers/{s['config']}.tokenizer_config.json", f"{s['messages']}.messages.json"]
    if s.get("addGenerationPrompt"):
        cmd.append("--add-generation-prompt")
    if s.get("tools"):
        cmd += ["--tools", f"{s['tools']}.tools.json"]
    if s.get("kwargs"):
        cmd += ["--kwargs", json.dumps(s["kwargs"])]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    open(f"{s['name']}.expected.txt", "wb").write(out)
    print(s["name"], len(out), "bytes")
PY
