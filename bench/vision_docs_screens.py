"""Signs and screenshots for bench/vision_docs_data.py: shop and street signs, code in an
editor (monospace, coloured tokens, sometimes line numbers), tables with grid lines.

Same contract as bench/vision_docs_kinds.py: `render(rng, width, family) -> Drawn`.
"""

from __future__ import annotations

import random
import re

from vision_docs_kinds import (
    CITIES,
    PEOPLE,
    RGB,
    STREETS,
    WHITE,
    Drawn,
    Page,
    Question,
    ask,
    font,
    money,
)

# --- signs --------------------------------------------------------------------------------

SHOPS = [("Rosie's Bakery", "Fresh bread daily"), ("Hammer & Nail", "Hardware and tools"),
         ("City Pharmacy", "Prescriptions and advice"), ("Paper Lantern", "Books and coffee"),
         ("Blue Bicycle", "Repairs and rentals"), ("Golden Noodle", "Noodle bar")]
BOARDS: list[tuple[RGB, RGB]] = [((22, 74, 52), (250, 240, 200)), ((25, 35, 80), WHITE),
                                 ((120, 25, 30), (255, 225, 120)), ((245, 240, 225), (30, 30, 30))]


def sign(rng: random.Random, width: int, family: str) -> Drawn:
    return street_sign(rng, width, family) if rng.random() < 0.3 else shop_sign(rng, width,
                                                                                 family)


def shop_sign(rng: random.Random, width: int, family: str) -> Drawn:
    bg, ink = rng.choice(BOARDS)
    p = Page(width, family, bg=bg)
    name, tagline = rng.choice(SHOPS)
    week_open, week_close = rng.choice([7, 8, 9]), rng.choice([17, 18, 19, 20])
    sat_open, sat_close = week_open + rng.choice([1, 2]), rng.choice([13, 14, 15, 16])
    phone = f"555-{rng.randrange(10000):04d}"
    p.skip(0.02)
    p.row([(0.5, name, "m")], 0.075, fill=ink, bold=True)
    p.row([(0.5, tagline, "m")], 0.035, fill=ink)
    p.skip(0.03)
    p.row([(0.5, "OPENING HOURS", "m")], 0.04, fill=ink, bold=True)
    hours = {"Mon-Fri": f"{week_open}:00-{week_close}:00",
             "Sat": f"{sat_open}:00-{sat_close}:00", "Sun": "Closed"}
    for days, span in hours.items():
        p.row([(0.22, days, "l"), (0.78, span, "r")], 0.04, fill=ink)
    p.skip(0.02)
    p.row([(0.5, f"Tel {phone}", "m")], 0.035, fill=ink)
    border = p.px(0.02)
    p.draw.rectangle((border, border, width - border, p.y + p.px(0.03)), outline=ink,
                     width=max(2, border // 3))
    pool = [Question("What time does the shop open on Saturday?", (f"{sat_open}:00",)),
            Question("What time does the shop close on weekdays?", (f"{week_close}:00",)),
            Question("What is the shop's phone number?", (phone,)),
            Question("What is the name of the shop?", (name,))]
    return p.done(ask(rng, pool, rng.randint(1, 3)))


def street_sign(rng: random.Random, width: int, family: str) -> Drawn:
    p = Page(width, family, bg=(18, 100, 60))
    street, city = rng.choice(STREETS), rng.choice(CITIES)
    first, last = rng.choice([7, 8, 9]), rng.choice([17, 18, 19])
    block = rng.randrange(1, 30) * 100
    p.skip(0.02)
    p.row([(0.5, street.upper(), "m")], 0.065, fill=WHITE, bold=True)
    p.row([(0.5, f"{block} BLOCK  {city.upper()}", "m")], 0.04, fill=WHITE)
    p.skip(0.03)
    p.row([(0.5, "NO PARKING", "m")], 0.06, fill=(255, 220, 60), bold=True)
    p.row([(0.5, f"MON-SAT {first}AM-{last - 12}PM", "m")], 0.045, fill=WHITE)
    p.row([(0.5, "TOW AWAY ZONE", "m")], 0.04, fill=WHITE)
    pool = [Question("Which street is named on the sign?", (street.upper(),)),
            Question("From what time is parking not allowed?", (f"{first}AM",)),
            Question("What block number is shown on the sign?", (str(block),))]
    return p.done(ask(rng, pool, rng.randint(1, 2)))


# --- code ---------------------------------------------------------------------------------

FUNCTIONS = ["parse_config", "compute_invoice_total", "load_user_profile", "retry_request",
             "normalize_scores", "build_search_index", "send_digest_email", "resize_thumbnail"]
CONSTANTS = ["MAX_RETRIES", "BATCH_SIZE", "TIMEOUT_SECONDS", "PAGE_LIMIT", "CACHE_TTL"]
PARAMS = [("records", "scale", "1.5"), ("rows", "factor", "0.25"), ("items", "weight", "2"),
          ("entries", "ratio", "0.75"), ("users", "boost", "3")]
KEYWORDS = {"def", "return", "for", "in", "if", "is", "None", "continue", "import", "from",
            "const", "function", "of", "let", "true", "false", "async", "await"}
THEMES = {  # background, text, keyword, string, number, comment, function name, gutter
    "dark": ((30, 31, 38), (220, 220, 220), (198, 120, 221), (152, 195, 121), (209, 154, 102),
             (120, 128, 140), (97, 175, 239), (95, 100, 110)),
    "light": ((255, 255, 255), (30, 30, 30), (0, 0, 200), (163, 21, 21), (9, 134, 88),
              (0, 128, 0), (121, 94, 38), (150, 150, 150)),
}
TOKEN = re.compile(r"#.*|//.*|\"[^\"]*\"|'[^']*'|\b\d+(?:\.\d+)?\b|\w+|\s+|.")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def snippet(rng: random.Random) -> tuple[list[str], str, str, str, str, str]:
    """(lines, function name, constant, its value, parameter, its default)"""
    fn, const = rng.choice(FUNCTIONS), rng.choice(CONSTANTS)
    value = str(rng.choice([3, 5, 8, 16, 30, 64, 120, 500]))
    items, param, default = rng.choice(PARAMS)
    key = rng.choice(["price", "score", "count", "size"])
    if rng.random() < 0.6:
        return [
            "import json", "from pathlib import Path", "", f"{const} = {value}", "", "",
            f"def {fn}({items}, {param}={default}):",
            f'    """Return the {key} of each entry, scaled."""',
            "    result = []", f"    for item in {items}:",
            f'        if item.get("{key}") is None:', "            continue",
            f'        result.append(item["{key}"] * {param})',
            f"    return result[:{const}]  # at most {const}",
        ], fn, const, value, param, default
    fn = camel(fn)
    return [
        f"const {const} = {value};", "", f"function {fn}({items}, {param} = {default}) {{",
        f"  // the {key} of each entry, scaled", "  const out = [];",
        f"  for (const item of {items}) {{", f"    if (item.{key} == null) continue;",
        f"    out.push(item.{key} * {param});", "  }", f"  return out.slice(0, {const});", "}",
    ], fn, const, value, param, default


def colour(token: str, prev: str, theme: tuple[RGB, ...]) -> RGB:
    if token.startswith(("#", "//")):
        return theme[5]
    if token[0] in "\"'":
        return theme[3]
    if token[0].isdigit():
        return theme[4]
    if token in KEYWORDS:
        return theme[2]
    return theme[6] if prev in ("def", "function") else theme[1]


def code(rng: random.Random, width: int, family: str) -> Drawn:
    theme = THEMES[rng.choice(sorted(THEMES))]
    p = Page(width, family, bg=theme[0])
    lines, fn, const, value, param, default = snippet(rng)
    numbered = rng.random() < 0.5
    size = p.size(0.022)
    f = font(family, size)
    x0 = p.px(0.09 if numbered else 0.04)
    for n, line in enumerate(lines, start=1):
        if numbered:
            p.draw.text((p.px(0.065), p.y), str(n), font=f, fill=theme[7], anchor="ra")
        x, prev = float(x0), ""
        for token in TOKEN.findall(line):
            if not token.isspace():
                p.draw.text((x, p.y), token, font=f, fill=colour(token, prev, theme))
                prev = token
            x += f.getlength(token)
        if line.strip():  # a blank editor line is no line of text
            p.lines.append(f"{n} {line}" if numbered else line)
        elif numbered:
            p.lines.append(str(n))
        p.y += round(size * 1.5)
    pool = [Question("What is the name of the function defined in this code?", (fn,)),
            Question(f"What value is assigned to {const}?", (value,)),
            Question(f"What is the default value of the parameter {param}?", (default,))]
    return p.done(ask(rng, pool, rng.randint(1, 3)))


# --- tables -------------------------------------------------------------------------------

def table_content(rng: random.Random) -> tuple[str, list[str], list[list[str]]]:
    kind = rng.randrange(3)
    if kind == 0:
        keys = rng.sample(["North", "South", "East", "West", "Central", "Online"], k=5)
        cells = rng.sample(range(1200, 98000), k=len(keys) * 4)
        return ("Quarterly sales (units)", ["Region", "Q1", "Q2", "Q3", "Q4"],
                [[k, *(f"{c:,}" for c in cells[i * 4:i * 4 + 4])] for i, k in enumerate(keys)])
    if kind == 1:
        keys = rng.sample(["Desk lamp", "Stapler", "Monitor stand", "Keyboard", "Mouse pad",
                           "Webcam", "Headset"], k=rng.randint(4, 6))
        prices = rng.sample(range(499, 15999), k=len(keys))
        return ("Inventory", ["Product", "SKU", "Price", "Stock"],
                [[k, f"SK-{rng.randint(1000, 9999)}", money(price), str(rng.randint(0, 400))]
                 for k, price in zip(keys, prices, strict=True)])
    keys = rng.sample(PEOPLE, k=rng.randint(4, 6))
    return ("Support rota", ["Name", "Team", "Shift", "Extension"],
            [[k, rng.choice(["Billing", "Accounts", "Hardware", "Returns"]),
              rng.choice(["06:00-14:00", "08:00-16:00", "14:00-22:00"]),
              str(rng.randint(2000, 2999))] for k in keys])


def grid_table(rng: random.Random, width: int, family: str) -> Drawn:
    p = Page(width, family)
    title, header, rows = table_content(rng)
    p.row([(0.05, title, "l")], 0.032, bold=True)
    p.skip(0.01)
    size = p.size(0.024)
    height = round(size * 2)
    bounds = [0.05 + 0.9 * i / len(header) for i in range(len(header) + 1)]
    bounds[1] += 0.05  # the key column is wider
    top = p.y
    p.draw.rectangle((p.px(0.05), top, p.px(0.95), top + height), fill=(225, 232, 245))
    for r, cells in enumerate([header, *rows]):
        f = font(family, size, bold=r == 0)
        y = top + r * height + (height - size) // 2
        for c, text in enumerate(cells):
            p.draw.text((p.px(bounds[c]) + size // 2, y), text, font=f, fill=(20, 20, 20))
        p.lines.append(" ".join(cells))
    bottom = top + (len(rows) + 1) * height
    for r in range(len(rows) + 2):
        p.draw.line((p.px(0.05), top + r * height, p.px(0.95), top + r * height),
                    fill=(120, 120, 120))
    for b in bounds:
        p.draw.line((p.px(b), top, p.px(b), bottom), fill=(120, 120, 120))
    p.y = bottom
    pool = []
    for row in rng.sample(rows, k=min(3, len(rows))):
        c = rng.randrange(1, len(header))
        pool.append(Question(f"In the table, what is the {header[c]} for {row[0]}?", (row[c],)))
    return p.done(ask(rng, pool, rng.randint(1, 3)))
