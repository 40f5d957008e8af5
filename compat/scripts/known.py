# Prints KNOWN entries (test/differential.test.ts) for the given paths from
# compat/out/{workerd,torpor}.json: python3 compat/scripts/known.py DOC path.to.value [...]
# Path elements are split on "."; numbers index arrays. Use after observe.ts.
import json, sys
from pathlib import Path

out = Path(__file__).resolve().parent.parent / "out"
w = json.load(open(out / "workerd.json"))["observations"]
t = json.load(open(out / "torpor.json"))["observations"]
doc = sys.argv[1]


def at(value, path):
    for key in path:
        if isinstance(value, list):
            value = value[int(key)] if int(key) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


for raw in sys.argv[2:]:
    path = raw.split(".")
    keys = ", ".join(p if p.isdigit() else json.dumps(p) for p in path)
    print(f"  {{ doc: {doc}, path: [{keys}], workerd: {json.dumps(at(w, path), ensure_ascii=False)}, torpor: {json.dumps(at(t, path), ensure_ascii=False)} }},")
