"""Print the exercise list of book/instructors.md from the notebooks (paste it under "The exercises").

Usage: python tools/exercise_list.py
tests/test_book.py checks that the guide lists every exercise label.
"""
import json
import pathlib
import re

root = pathlib.Path(__file__).resolve().parents[1]
for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
    if nb.name.startswith("00_"):
        continue
    cells = json.loads(nb.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells)
    title = re.search(r"^# (.+)$", text, re.M).group(1)
    print(f"\n**{title}** ({{doc}}`../notebooks/{nb.stem}`)\n")
    for m in re.finditer(r"```\{exercise\}\s*([^\n]*)\n:label: (\S+)(.*?)```", text, re.S):
        name, label, body = m.groups()
        # a coding exercise is one whose text or solution calls a checker of gl.exercises
        sol = text[m.end(): text.find("{solution-end}", m.end())]
        coding = re.search(r"\bcheck_\w+\(", body + sol) is not None
        print(f"- {{ref}}`{label}`" + (f", *{name.strip()}*" if name.strip() else "")
              + (" (coding, with a checker)" if coding else ""))
